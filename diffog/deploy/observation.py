"""Latest time-matched observations from streams that arrive at different rates (joint states, cameras, other
low-dim vectors), as the policy's history of `n_obs_steps` frames `spacing` seconds apart."""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from diffog.robot.validation import require_positive


@dataclass(frozen=True)
class Observation:
    stamp: float                      # the oldest stamp in the matched set (s)
    qpos: np.ndarray                  # 14, ALOHA order, assembled from the joint streams
    streams: dict[str, np.ndarray] = field(default_factory=dict)  # camera images (HxWx3 uint8), other vectors


class NoObservation(RuntimeError):
    """No usable observation: nothing matched within the tolerance, stale, or non-finite. The robot holds."""


class NonFiniteObservation(NoObservation):
    """A sensor reported NaN or inf: a fault to report as an error, not a wait for data."""


Sample = tuple[float, np.ndarray]


class ObservationMatcher:
    """Keeps each stream's recent samples and returns the newest set whose stamps lie within `tolerance_s` of
    each other; a set older than `timeout_s` (its oldest stamp) is stale. Joint streams each fill a slice of
    qpos; the other streams (cameras, object poses) are passed on by name."""

    def __init__(self, joint_slices: dict[str, slice], streams: list[str], tolerance_s: float, timeout_s: float,
                 history_s: float = 1.0):
        # NaN or inf would switch the matching or the staleness check off
        require_positive("observation", tolerance_s=tolerance_s, timeout_s=timeout_s, history_s=history_s)
        self.joint_slices = dict(joint_slices)
        self.dim = max(s.stop for s in self.joint_slices.values())
        self.tolerance_s, self.timeout_s, self.history_s = tolerance_s, timeout_s, history_s
        self.others = list(streams)
        self._streams: dict[str, deque[Sample]] = {k: deque() for k in [*self.joint_slices, *self.others]}

    def add(self, stream: str, stamp: float, value: np.ndarray) -> None:
        """Record one sample. Out-of-order samples are dropped: a replayed or reconnecting publisher must not
        move the observation back in time."""
        if stream not in self._streams:
            raise KeyError(f"unknown stream {stream!r}; expected one of {sorted(self._streams)}")
        q = self._streams[stream]
        if q and stamp <= q[-1][0]:
            if q[-1][0] - stamp <= self.history_s:
                return
            self.reset()  # older than all that is kept: the clock stepped back (sim reset, NTP, a bag replay)
        q.append((stamp, value))
        while q[0][0] < stamp - self.history_s:
            q.popleft()

    def reset(self) -> None:
        """Forget every sample (after a clock jump nothing stored describes the present)."""
        for q in self._streams.values():
            q.clear()

    def newest_age(self, now: float) -> float:
        """Age of the stream that lags most; inf before every stream has data, or when a sample lies in the
        future of `now` (the clock went back): above timeout_s means hold."""
        if any(not q for q in self._streams.values()) or self._ahead_of(now):
            return float("inf")
        return now - min(q[-1][0] for q in self._streams.values())

    def _ahead_of(self, now: float) -> bool:
        return any(q and q[-1][0] > now + self.tolerance_s for q in self._streams.values())

    def history(self, now: float, n_steps: int, spacing: float) -> list[Observation]:
        """`n_steps` observations, oldest first: the newest matched one and those `spacing` s before it (until
        enough history exists, at start-up, the oldest available set is repeated, as Diffusion Policy pads).
        NoObservation says why there is none."""
        if self._ahead_of(now):
            self.reset()
            raise NoObservation(f"the clock went back to {now:.3f} s, behind the stored samples: history cleared")
        missing = [k for k, q in self._streams.items() if not q]
        if missing:
            raise NoObservation(f"no data yet from {missing}")
        lagging = min(self._streams, key=lambda k: self._streams[k][-1][0])
        if (age := now - self._streams[lagging][-1][0]) > self.timeout_s:
            raise NoObservation(f"stale observation: {lagging}'s newest sample is {age:.3f} s old "
                                f"(timeout {self.timeout_s} s)")
        newest = self._newest_match()
        if newest is None:
            raise NoObservation(f"no set of samples within {self.tolerance_s * 1e3:.0f} ms of each other")
        oldest = min(stamp for stamp, _ in newest.values())
        if now - oldest > self.timeout_s:
            stale = min(newest, key=lambda k: newest[k][0])
            raise NoObservation(f"stale observation: {stale} is {now - oldest:.3f} s old (timeout {self.timeout_s} s)")
        frames = [self._observation(newest)]
        anchor = max(stamp for stamp, _ in newest.values())
        for k in range(1, n_steps):
            match = self._match_at(anchor - k * spacing)
            frames.append(self._observation(match) if match is not None else frames[-1])
        return frames[::-1]

    def _observation(self, match: dict[str, Sample]) -> Observation:
        qpos = np.empty(self.dim)
        for name, sl in self.joint_slices.items():
            qpos[sl] = match[name][1]
        if not np.all(np.isfinite(qpos)):
            bad = np.flatnonzero(~np.isfinite(qpos)).tolist()
            raise NonFiniteObservation(f"non-finite joint positions in dims {bad}")
        return Observation(stamp=min(s for s, _ in match.values()), qpos=qpos,
                           streams={k: match[k][1] for k in self.others})

    def _match_at(self, t: float) -> dict[str, Sample] | None:
        """Each stream's sample nearest to `t`, if all lie within the tolerance of each other."""
        match = {name: min(q, key=lambda s: abs(s[0] - t)) for name, q in self._streams.items()}
        stamps = [s for s, _ in match.values()]
        return match if max(stamps) - min(stamps) <= self.tolerance_s else None

    def _newest_match(self) -> dict[str, Sample] | None:
        # Anchor on the stream that lags most (its newest sample is the oldest), newest sample first.
        anchor = min(self._streams, key=lambda k: self._streams[k][-1][0])
        for stamp, _ in reversed(self._streams[anchor]):
            if (match := self._match_at(stamp)) is not None:
                return match
        return None
