import time

import pytest

from diffog.deploy.rate_loop import RateLoop


def test_ticks_at_the_rate_and_keeps_going_after_an_error():
    calls, errors = [], []

    def tick():
        calls.append(time.monotonic())
        if len(calls) == 2:
            raise RuntimeError("boom")

    loop = RateLoop(20.0, tick, on_error=errors.append)
    loop.start()
    time.sleep(0.5)
    loop.stop()
    assert len(errors) == 1 and str(errors[0]) == "boom"
    assert len(calls) >= 6  # ~10 expected; a loaded CI machine may lose a few
    assert loop.achieved_rate_hz() == pytest.approx(20.0, rel=0.3)


def test_an_overrunning_tick_delays_the_next_instead_of_queueing_catch_ups():
    calls = []
    loop = RateLoop(100.0, lambda: calls.append(time.monotonic()) or time.sleep(0.05), on_error=print)
    loop.start()
    time.sleep(0.3)
    loop.stop()
    assert min(b - a for a, b in zip(calls, calls[1:])) >= 0.045


@pytest.mark.parametrize("rate", [0.0, -5.0, float("nan"), float("inf"), True])
def test_rate_must_be_a_positive_finite_number(rate):
    with pytest.raises(ValueError, match="rate_hz"):
        RateLoop(rate, lambda: None, on_error=print)


def test_stop_abandons_a_long_tick_after_its_timeout_and_reports_nothing_from_it():
    """A tick stuck in an inference does not hold a node's shutdown: stop() returns after its timeout, the
    daemon thread starts no further tick, and the tick's late failure is not reported."""
    import threading

    started, release, calls, errors = threading.Event(), threading.Event(), [], []

    def tick():
        calls.append(1)
        started.set()
        release.wait(10)
        raise RuntimeError("publisher destroyed under it")

    loop = RateLoop(50.0, tick, on_error=errors.append)
    loop.start()
    assert started.wait(10)
    t0 = time.monotonic()
    assert loop.stop(timeout=0.2) is False and loop.stopping
    assert time.monotonic() - t0 < 1.0
    release.set()
    time.sleep(0.2)
    assert calls == [1] and errors == []


def test_follows_another_clock_such_as_sim_time():
    """A clock running at a tenth of wall speed: 20 Hz in its time is 2 Hz on the wall."""
    t0 = time.monotonic()
    slow = lambda: (time.monotonic() - t0) * 0.1  # noqa: E731
    calls = []
    loop = RateLoop(20.0, lambda: calls.append(slow()), on_error=print, clock=slow)
    loop.start()
    time.sleep(1.2)
    loop.stop()
    assert 2 <= len(calls) <= 4  # ~3 ticks in 0.12 s of the slow clock, where the wall clock would give ~24
    assert all(b - a > 0.04 for a, b in zip(calls, calls[1:]))  # one period apart on that clock, give or take
