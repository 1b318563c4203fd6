import numpy as np
import pytest

from diffog.deploy.streamer import ChunkStreamer


def test_interpolates_from_start_through_each_action():
    s = ChunkStreamer()
    s.load(np.array([[1.0, 10.0], [2.0, 10.0]]), dt=0.2, now=5.0, start=np.array([0.0, 0.0]))
    np.testing.assert_allclose(s.sample(5.0), [0.0, 0.0])
    np.testing.assert_allclose(s.sample(5.1), [0.5, 5.0])
    np.testing.assert_allclose(s.sample(5.2), [1.0, 10.0])
    np.testing.assert_allclose(s.sample(5.3), [1.5, 10.0])


def test_finishes_on_the_last_action_then_stops_sending():
    s = ChunkStreamer()
    s.load(np.array([[1.0], [3.0]]), dt=0.1, now=0.0, start=np.array([0.0]))
    np.testing.assert_allclose(s.sample(0.25), [3.0])  # a late tick still lands exactly on the final action
    assert not s.active and s.sample(0.3) is None


def test_command_rate_steps_never_exceed_the_chunk_step():
    rng = np.random.default_rng(0)
    chunk = np.cumsum(rng.uniform(-0.05, 0.05, size=(8, 14)), axis=0)
    s = ChunkStreamer()
    s.load(chunk, dt=1 / 6, now=0.0, start=np.zeros(14))
    cmds = [s.sample(t) for t in np.arange(0.0, 8 / 6 + 0.02, 0.02)]
    steps = np.abs(np.diff(np.array([c for c in cmds if c is not None]), axis=0))
    assert steps.max() <= 0.05 * 0.02 * 6 + 1e-12


def test_stop_drops_the_chunk():
    s = ChunkStreamer()
    s.load(np.ones((3, 2)), dt=0.1, now=0.0, start=np.zeros(2))
    s.sample(0.05)
    s.stop()
    assert not s.active and s.sample(0.1) is None


def test_rejects_bad_chunks():
    s = ChunkStreamer()
    with pytest.raises(ValueError):
        s.load(np.zeros((0, 2)), dt=0.1, now=0.0, start=np.zeros(2))
    with pytest.raises(ValueError):
        s.load(np.zeros((3, 3)), dt=0.1, now=0.0, start=np.zeros(2))
