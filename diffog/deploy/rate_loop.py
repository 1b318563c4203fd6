"""Calls a function at a fixed rate on its own thread, so slow work (inference) never blocks the ROS executor."""
from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence

from diffog.robot.validation import require_positive

RATE_WINDOW = 500  # ticks the achieved rate is measured over (10 s at 50 Hz): memory stays bounded


def rate_hz(times: Sequence[float]) -> float:
    """Events per second over `times` (ascending); 0 for fewer than two or a zero span."""
    return (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else 0.0


class RateLoop:
    """Runs `fn()` every 1/rate_hz s of `clock` (default: monotonic wall time; a ROS clock follows /clock in
    simulation). A tick that overruns its period delays the next one rather than queueing catch-up ticks;
    `tick_times` keeps the last RATE_WINDOW start times for the achieved rate.

    The thread is a daemon: `stop()` waits at most `timeout` for a tick in progress (an inference may take
    seconds) and then abandons it, so a node stops within its launch grace period; a tick that ends after
    `stop()` starts no other, and its error is not reported (the node is going away)."""

    def __init__(self, rate_hz: float, fn: Callable[[], object], on_error: Callable[[BaseException], None],
                 clock: Callable[[], float] = time.monotonic):
        require_positive("RateLoop", rate_hz=rate_hz)  # NaN or inf would spin without waiting, or never tick
        self.period = 1.0 / rate_hz
        self._fn, self._on_error, self._clock = fn, on_error, clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="policy-rate-loop", daemon=True)
        self.tick_times: deque[float] = deque(maxlen=RATE_WINDOW)

    def start(self) -> None:
        self._thread.start()

    @property
    def running(self) -> bool:
        """The thread is alive: ticking, or (after stop()) still inside an abandoned tick."""
        return self._thread.is_alive()

    @property
    def stopping(self) -> bool:
        """stop() was called: a tick still running should not start anything new."""
        return self._stop.is_set()

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop ticking; wait up to `timeout` s for a tick in progress. True when the thread has ended."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def achieved_rate_hz(self) -> float:
        return rate_hz(self.tick_times)

    def _run(self) -> None:
        try:
            self._ticks()
        except Exception as e:  # noqa: BLE001 - the clock failed: nothing ticks any more, so the robot holds
            if not self._stop.is_set():
                self._on_error(e)

    def _ticks(self) -> None:
        next_tick = self._clock()
        while not self._stop.is_set():
            self.tick_times.append(self._clock())
            try:
                self._fn()
            except Exception as e:  # noqa: BLE001 - a failing tick is reported and the loop keeps the robot held
                if self._stop.is_set():
                    return  # torn down under it (publishers destroyed at shutdown): nothing to report
                self._on_error(e)
            if self._stop.is_set():
                return
            next_tick = max(next_tick + self.period, self._clock())
            # another clock may run at any speed against the wall: wait in short slices and look again
            slice_s = None if self._clock is time.monotonic else 0.005
            while not self._stop.is_set() and (remaining := next_tick - self._clock()) > 0:
                self._stop.wait(remaining if slice_s is None else min(remaining, slice_s))
