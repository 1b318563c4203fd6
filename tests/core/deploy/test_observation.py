import numpy as np
import pytest

from diffog.deploy.observation import NoObservation, ObservationMatcher

SLICES = {"follower_left": slice(0, 7), "follower_right": slice(7, 14)}


def matcher(**kw) -> ObservationMatcher:
    return ObservationMatcher(SLICES, ["cam_high"], tolerance_s=kw.get("tol", 0.03), timeout_s=kw.get("timeout", 0.2))


def latest(m, now):
    return m.history(now, 1, 0.0)[0]


def feed(m, t_joint, t_cam, value=0.0):
    m.add("follower_left", t_joint, np.full(7, value))
    m.add("follower_right", t_joint, np.full(7, value + 1))
    m.add("cam_high", t_cam, np.zeros((2, 2, 3), np.uint8))


def test_returns_the_newest_set_within_tolerance():
    m = matcher()
    for k in range(10):  # joints at 50 Hz, camera at 25 Hz with 5 ms offset
        m.add("follower_left", k * 0.02, np.full(7, k))
        m.add("follower_right", k * 0.02, np.full(7, -k))
        if k % 2 == 0:
            m.add("cam_high", k * 0.02 + 0.005, np.full((2, 2, 3), k, np.uint8))
    obs = latest(m, now=0.2)
    assert obs.streams["cam_high"][0, 0, 0] == 8  # the newest camera frame
    assert obs.qpos[0] == 8 and obs.qpos[7] == -8  # joints nearest to it in time
    assert obs.stamp == pytest.approx(0.16)


def test_missing_stream_means_no_observation():
    m = matcher()
    m.add("follower_left", 0.0, np.zeros(7))
    with pytest.raises(NoObservation, match="no data yet"):
        latest(m, now=0.0)


def test_stale_camera_means_no_observation():
    m = matcher(tol=0.5)
    feed(m, 1.0, 0.6)
    with pytest.raises(NoObservation, match="stale.*cam_high"):
        latest(m, now=1.0)


def test_unmatched_stamps_mean_no_observation():
    m = matcher(timeout=5.0)
    feed(m, 1.0, 0.9)
    with pytest.raises(NoObservation, match="within 30 ms"):
        latest(m, now=1.0)


def test_non_finite_joint_positions_mean_no_observation():
    m = matcher()
    feed(m, 1.0, 1.0, value=np.nan)
    with pytest.raises(NoObservation, match="non-finite"):
        latest(m, now=1.0)


def test_out_of_order_samples_are_ignored_and_unknown_streams_refused():
    m = matcher()
    feed(m, 1.0, 1.0, value=3.0)
    feed(m, 0.5, 0.5, value=9.0)  # older than what is kept: dropped
    assert latest(m, now=1.0).qpos[0] == 3.0
    with pytest.raises(KeyError, match="unknown stream"):
        m.add("cam_low", 1.0, np.zeros((2, 2, 3)))


def test_history_is_spaced_and_padded_at_start_up():
    m = matcher()
    for k in range(20):  # joints and camera at 50 Hz
        feed(m, k * 0.02, k * 0.02, value=float(k))
    old, new = m.history(now=0.38, n_steps=2, spacing=0.16)
    assert new.qpos[0] == 19 and old.qpos[0] == 11  # 8 frames (0.16 s) earlier
    m2 = matcher()
    feed(m2, 1.0, 1.0, value=5.0)
    frames = m2.history(now=1.0, n_steps=3, spacing=0.16)
    assert [f.qpos[0] for f in frames] == [5.0, 5.0, 5.0]


def test_samples_older_than_the_history_window_are_dropped():
    m = ObservationMatcher(SLICES, [], tolerance_s=0.03, timeout_s=0.2, history_s=0.1)
    for k in range(20):
        m.add("follower_left", k * 0.02, np.full(7, k))
    assert len(m._streams["follower_left"]) == 6  # stamps 0.28 .. 0.38
