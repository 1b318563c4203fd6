"""The recorder's core: one frame per tick from the newest samples, drops counted, episodes published whole."""
import numpy as np
import pytest

from diffog.data.aloha_hdf5 import list_episodes, read_episode
from diffog.data.recorder import EpisodeRecorder, RecordingError

ARMS = ["follower_left", "follower_right"]


def feed(rec, t, k, image_shape=(8, 10, 3)):
    for i, arm in enumerate(ARMS):
        base = 100 * i + k
        rec.joint_state(arm, t, np.full(7, base), np.full(7, base + 0.5), np.full(7, -base))
        rec.arm_command(arm, t, np.full(6, base + 0.25))
        rec.gripper_command(arm, t, 0.5)
    rec.image("cam_high", t, np.full(image_shape, k % 256, np.uint8))


def test_ticks_become_frames_with_stamps_and_stats(tmp_path):
    rec = EpisodeRecorder(tmp_path, ARMS, ["cam_high"], metadata={"robot": "aloha", "task": "t"})
    path = rec.start(note="first")
    assert path.name == "episode_0.hdf5" and rec.recording
    with pytest.raises(RuntimeError, match="already recording"):
        rec.start()
    for k in range(10):
        feed(rec, 1000 + 0.02 * k, k)
        assert rec.tick(1000 + 0.02 * k + 0.005)
    summary = rec.stop()
    assert summary.path == path and summary.frames == 10 and summary.dropped == 0
    assert rec.progress() == (10, 0)
    assert summary.achieved_rate_hz == pytest.approx(50.0)
    ep = read_episode(path)
    assert ep.qpos.shape == ep.action.shape == (10, 14)
    np.testing.assert_array_equal(ep.qpos[:, 0], np.arange(10))
    np.testing.assert_array_equal(ep.qpos[:, 7], 100 + np.arange(10))
    np.testing.assert_array_equal(ep.action[3], [3.25] * 6 + [0.5] + [103.25] * 6 + [0.5])
    np.testing.assert_array_equal(ep.images["cam_high"][:, 0, 0, 0], np.arange(10))
    np.testing.assert_allclose(ep.timestamps["cam_high"], 1000 + 0.02 * np.arange(10))
    np.testing.assert_allclose(ep.timestamps["frame"] - ep.timestamps["joint_states_follower_left"], 0.005)
    assert ep.metadata["task"] == "t" and ep.metadata["note"] == "first" and ep.metadata["dropped_frames"] == 0
    assert ep.metadata["achieved_rate_hz"] == pytest.approx(50.0)


def test_missing_stale_nonfinite_and_bad_frames_are_dropped_and_counted(tmp_path):
    rec = EpisodeRecorder(tmp_path, ARMS, ["cam_high"], max_age_s=0.1)
    with pytest.raises(RuntimeError, match="not starting: no joint_states_follower_left"):
        rec.start(now=5.0)
    assert not rec.recording and list(tmp_path.iterdir()) == []
    rec.start()
    assert not rec.tick(5.0)  # nothing received yet
    feed(rec, 10.0, 1)
    assert rec.tick(10.01)
    assert not rec.tick(10.5)  # every stream is 0.5 s old
    feed(rec, 11.0, 2)
    rec.joint_state("follower_right", 11.0, np.full(7, np.nan), np.zeros(7), np.zeros(7))
    assert not rec.tick(11.01)
    feed(rec, 12.0, 3, image_shape=(4, 4, 3))  # a camera changing resolution mid-episode
    assert rec.tick(12.01)  # queued, then rejected by the writer
    feed(rec, 13.0, 4)
    assert rec.tick(13.01)
    summary = rec.stop()
    assert summary.frames == 2 and summary.dropped == 4
    reasons = summary.drop_reasons
    assert reasons["no joint_states_follower_left"] == 1 and reasons["stale joint_states_follower_left"] == 1
    assert reasons["non-finite joint_states_follower_right"] == 1
    assert any(r.startswith("rejected: camera cam_high") for r in reasons)
    np.testing.assert_array_equal(read_episode(summary.path).qpos[:, 0], [1, 4])
    with pytest.raises(KeyError, match="unknown stream"):
        rec.image("cam_low", 1.0, np.zeros((8, 10, 3), np.uint8))


def test_discard_and_empty_episodes_publish_nothing(tmp_path):
    rec = EpisodeRecorder(tmp_path, ARMS, [])
    rec.start()
    for arm in ARMS:
        rec.joint_state(arm, 1.0, np.zeros(7), np.zeros(7), np.zeros(7))
        rec.arm_command(arm, 1.0, np.zeros(6))
        rec.gripper_command(arm, 1.0, 1.0)
    assert rec.tick(1.0)
    summary = rec.discard()
    assert summary.path is None and not rec.recording
    rec.start()
    with pytest.raises(RuntimeError, match="no frame was recorded"):
        rec.stop()
    assert list(tmp_path.iterdir()) == [] and list_episodes(tmp_path) == []
    with pytest.raises(RuntimeError, match="not recording"):
        rec.stop()


def test_stop_without_publishing_keeps_a_complete_hidden_file(tmp_path):
    rec = EpisodeRecorder(tmp_path, ARMS, ["cam_high"])
    rec.start()
    for k in range(3):
        feed(rec, 1.0 + 0.02 * k, k)
        rec.tick(1.0 + 0.02 * k)
    summary = rec.stop(publish=False)
    assert summary.path.name.startswith("unfinished_episode_0_") and list_episodes(tmp_path) == []
    np.testing.assert_array_equal(read_episode(summary.path).qpos[:, 0], [0, 1, 2])


def test_a_write_error_surfaces_at_the_next_tick_and_discard_frees_the_space(tmp_path, monkeypatch):
    import errno
    import time

    from diffog.data.aloha_hdf5 import EpisodeWriter
    rec = EpisodeRecorder(tmp_path, ARMS, ["cam_high"])
    rec.start()

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(EpisodeWriter, "add", full)
    feed(rec, 1.0, 1)
    deadline = time.monotonic() + 60
    with pytest.raises(RecordingError, match="No space left"):
        while time.monotonic() < deadline:  # the writer thread fails on the queued frame; a later tick says so
            rec.tick(1.0)
            time.sleep(0.01)
    assert rec.error is not None
    rec.discard()
    assert not rec.recording and list(tmp_path.iterdir()) == []


def test_recorders_sharing_a_folder_take_different_indices(tmp_path):
    a, b = EpisodeRecorder(tmp_path, ARMS, []), EpisodeRecorder(tmp_path, ARMS, [])
    assert (a.start().name, b.start().name) == ("episode_0.hdf5", "episode_1.hdf5")
    for rec, k in ((a, 1), (b, 2)):
        for arm in ARMS:
            rec.joint_state(arm, 1.0, np.full(7, k), np.zeros(7), np.zeros(7))
            rec.arm_command(arm, 1.0, np.zeros(6))
            rec.gripper_command(arm, 1.0, 0.5)
        assert rec.tick(1.0)
    pb, pa = b.stop().path, a.stop().path
    assert (pa.name, pb.name) == ("episode_0.hdf5", "episode_1.hdf5")
    assert read_episode(pa).qpos[0, 0] == 1 and read_episode(pb).qpos[0, 0] == 2
