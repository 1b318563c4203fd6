"""Episode files: ALOHA layout, round trips (raw and JPEG), reading ALOHA's and ACT's own files, no overwrite,
crash safety and clear errors for bad input."""
import os
import signal
import subprocess
import sys
import textwrap

import cv2
import h5py
import numpy as np
import pytest

from diffog.data.aloha_hdf5 import (EpisodeFormatError, EpisodeWriter, list_episodes, read_episode,
                                    read_frame_images, write_episode)

T, H, W = 6, 24, 32


def smooth_images(t_len, seed):
    # smooth gradients survive JPEG with small error, unlike noise
    y, x = np.mgrid[0:H, 0:W]
    base = np.stack([x * 255 / W, y * 255 / H, (x + y) * 255 / (W + H)], -1)
    return np.stack([np.roll(base, seed + 4 * t, axis=1) for t in range(t_len)]).astype(np.uint8)


def arrays(seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(T, 14)) for _ in range(4)]


def test_raw_round_trip_keeps_aloha_layout_timestamps_and_metadata(tmp_path):
    qpos, qvel, effort, action = arrays()
    images = {"cam_high": smooth_images(T, 0), "cam_left_wrist": smooth_images(T, 5)}
    stamps = {"qpos": 100.0 + 0.02 * np.arange(T), "cam_high": 100.001 + 0.02 * np.arange(T)}
    path = write_episode(tmp_path, qpos, qvel, effort, action, images, timestamps=stamps,
                         metadata={"robot": "aloha", "task": "transfer_cube", "joint_names": ["a", "b"]})
    assert path == tmp_path / "episode_0.hdf5" and list_episodes(tmp_path) == [path]
    with h5py.File(path) as f:  # exactly what ALOHA/ACT loaders index
        assert f["/observations/qpos"].shape == f["/observations/effort"].shape == f["/action"].shape == (T, 14)
        assert f["/observations/images/cam_high"].shape == (T, H, W, 3)
        assert f.attrs["sim"] == False and f.attrs["compress"] == False  # noqa: E712
        assert {f[k].dtype for k in ("/observations/qpos", "/observations/qvel", "/observations/effort",
                                     "/action")} == {np.dtype("float32")}, "float32, as ALOHA writes them"
    ep = read_episode(path)
    for got, want in zip((ep.qpos, ep.qvel, ep.effort, ep.action), (qpos, qvel, effort, action)):
        np.testing.assert_array_equal(got, want.astype(np.float32))
    for cam, frames in images.items():
        np.testing.assert_array_equal(ep.images[cam], frames)
    np.testing.assert_array_equal(ep.timestamps["cam_high"], stamps["cam_high"])
    assert ep.metadata["task"] == "transfer_cube" and ep.metadata["joint_names"] == ["a", "b"]
    assert len(ep) == T and not ep.sim and not ep.compressed
    np.testing.assert_array_equal(read_frame_images(path, 3)["cam_left_wrist"], images["cam_left_wrist"][3])
    assert list(read_episode(path, cameras=[]).images) == []


def test_jpeg_round_trip_pads_like_aloha_and_records_compress_len(tmp_path):
    qpos, qvel, effort, action = arrays(1)
    images = {"cam_high": smooth_images(T, 0), "cam_low": smooth_images(T, 9)}
    path = write_episode(tmp_path, qpos, qvel, effort, action, images, compress=True)
    with h5py.File(path) as f:
        assert f.attrs["compress"] == True  # noqa: E712
        lens = f["/compress_len"][()]
        assert lens.shape == (2, T)
        row = f["/observations/images/cam_low"]
        assert row.ndim == 2 and row.shape[1] == lens.max()
        # one width for every camera, as ALOHA pads them: its loaders stack the cameras with np.array
        assert f["/observations/images/cam_high"].shape == row.shape
        assert np.array([f[f"/observations/images/{c}"][0] for c in ("cam_high", "cam_low")]).shape == (2, row.shape[1])
        k = int(lens[1, 0])
        assert np.all(row[0, k:] == 0) and row[0, k - 2:k].tolist() == [0xFF, 0xD9]  # JPEG EOI, then padding
    ep = read_episode(path)
    assert ep.compressed
    for cam, frames in images.items():
        assert ep.images[cam].shape == frames.shape
        assert np.abs(ep.images[cam].astype(int) - frames).mean() < 8.0
        assert np.abs(ep.images[cam][1].astype(int) - frames[2]).mean() > 8.0  # frames stay in order
    np.testing.assert_array_equal(read_frame_images(path, 2)["cam_high"], ep.images["cam_high"][2])


def write_like_aloha_record_episodes(path, qpos, qvel, effort, action, images, compress):
    """The file layout of tonyzhaozh/aloha record_episodes.py (fixed T, padded JPEG rows, float32: their default)."""
    names = list(images)
    if compress:
        enc = {c: [cv2.imencode(".jpg", im, [int(cv2.IMWRITE_JPEG_QUALITY), 50])[1] for im in v]
               for c, v in images.items()}
        padded = max(len(b) for v in enc.values() for b in v)
    with h5py.File(path, "w", rdcc_nbytes=1024 ** 2 * 2) as root:
        root.attrs["sim"] = False
        root.attrs["compress"] = compress
        obs = root.create_group("observations")
        image = obs.create_group("images")
        for c in names:
            if compress:
                ds = image.create_dataset(c, (T, padded), dtype="uint8", chunks=(1, padded))
                for t, b in enumerate(enc[c]):
                    ds[t, :len(b)] = b.reshape(-1)
            else:
                image.create_dataset(c, (T, H, W, 3), dtype="uint8", chunks=(1, H, W, 3))[...] = images[c]
        obs.create_dataset("qpos", (T, 14), dtype="f4")[...] = qpos
        obs.create_dataset("qvel", (T, 14), dtype="f4")[...] = qvel
        obs.create_dataset("effort", (T, 14), dtype="f4")[...] = effort
        root.create_dataset("action", (T, 14), dtype="f4")[...] = action
        if compress:
            root.create_dataset("compress_len", (len(names), T), dtype="f4")[...] = [[len(b) for b in enc[c]] for c in names]


@pytest.mark.parametrize("compress", [False, True])
def test_reads_original_aloha_files(tmp_path, compress):
    qpos, qvel, effort, action = arrays(2)
    images = {"cam_high": smooth_images(T, 1), "cam_right_wrist": smooth_images(T, 3)}
    path = tmp_path / "episode_7.hdf5"
    write_like_aloha_record_episodes(path, qpos, qvel, effort, action, images, compress)
    ep = read_episode(path)
    np.testing.assert_allclose(ep.qpos, qpos, rtol=1e-6, atol=1e-6)  # ALOHA stores float32
    np.testing.assert_allclose(ep.action, action, rtol=1e-6, atol=1e-6)
    assert ep.compressed == compress and ep.timestamps == {}
    for cam, frames in images.items():
        err = np.abs(ep.images[cam].astype(int) - frames).mean()
        assert err < 8.0 if compress else err == 0


def test_reads_act_sim_episode_without_effort(tmp_path):
    qpos, qvel, _, action = arrays(3)
    top = smooth_images(T, 2)
    path = tmp_path / "episode_0.hdf5"
    with h5py.File(path, "w") as root:  # ACT record_sim_episodes.py
        root.attrs["sim"] = True
        obs = root.create_group("observations")
        obs.create_group("images").create_dataset("top", data=top)
        obs.create_dataset("qpos", data=qpos)
        obs.create_dataset("qvel", data=qvel)
        root.create_dataset("action", data=action)
    ep = read_episode(path)
    assert ep.sim and ep.effort is None and not ep.compressed
    np.testing.assert_array_equal(ep.images["top"], top)
    with pytest.raises(KeyError, match="no camera"):
        read_episode(path, cameras=["cam_high"])


def test_never_overwrites_and_bad_frames_lose_nothing(tmp_path):
    qpos, qvel, effort, action = arrays(4)
    first = write_episode(tmp_path, qpos, qvel, effort, action)
    before = first.read_bytes()
    with pytest.raises(FileExistsError):
        EpisodeWriter(tmp_path, index=0)
    w = EpisodeWriter(tmp_path, cameras=["cam_high"])
    assert w.path.name == "episode_1.hdf5"
    img = smooth_images(1, 0)[0]
    w.add(qpos[0], qvel[0], effort[0], action[0], {"cam_high": img})
    bad_action = action[1].copy()
    bad_action[3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        w.add(qpos[1], qvel[1], effort[1], bad_action, {"cam_high": img})
    with pytest.raises(ValueError, match="14 values"):
        w.add(qpos[1][:7], qvel[1], effort[1], action[1], {"cam_high": img})
    with pytest.raises(ValueError, match="cameras"):
        w.add(qpos[1], qvel[1], effort[1], action[1], {})
    with pytest.raises(ValueError, match="shape"):
        w.add(qpos[1], qvel[1], effort[1], action[1], {"cam_high": img[:10]})
    w.add(qpos[1], qvel[1], effort[1], action[1], {"cam_high": img})
    # a writer asking for the index being recorded is refused; a file copied in as episode_1 meanwhile makes ours
    # move to the next free index instead of replacing it
    with pytest.raises(FileExistsError, match="being recorded"):
        write_episode(tmp_path, qpos, qvel, effort, action, index=1)
    os.link(write_episode(tmp_path / "elsewhere", qpos, qvel, effort, action), tmp_path / "episode_1.hdf5")
    path = w.close(achieved_rate_hz=49.9)
    assert path.name == "episode_2.hdf5" and first.read_bytes() == before
    ep = read_episode(path)
    np.testing.assert_array_equal(ep.action, action[:2].astype(np.float32))
    assert ep.metadata["achieved_rate_hz"] == pytest.approx(49.9)
    assert [p.name for p in list_episodes(tmp_path)] == ["episode_0.hdf5", "episode_1.hdf5", "episode_2.hdf5"]
    assert not list(tmp_path.glob(".*tmp"))


def test_discard_and_exception_publish_nothing(tmp_path):
    qpos, qvel, effort, action = arrays(5)
    w = EpisodeWriter(tmp_path)
    w.add(qpos[0], qvel[0], effort[0], action[0])
    w.discard()
    with pytest.raises(RuntimeError), EpisodeWriter(tmp_path) as w2:
        w2.add(qpos[0], qvel[0], effort[0], action[0])
        raise RuntimeError("operator aborted")
    assert list(tmp_path.iterdir()) == []


def test_killed_mid_episode_leaves_earlier_episodes_intact(tmp_path):
    qpos, qvel, effort, action = arrays(6)
    done = write_episode(tmp_path, qpos, qvel, effort, action)
    code = textwrap.dedent(f"""
        import numpy as np, sys
        from diffog.data.aloha_hdf5 import EpisodeWriter
        w = EpisodeWriter({str(tmp_path)!r}, cameras=["cam_high"])
        for t in range(1000):
            w.add(np.zeros(14), np.zeros(14), np.zeros(14), np.full(14, t), {{"cam_high": np.zeros((8, 8, 3), np.uint8)}})
            if t == 20:
                print("recording", flush=True)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code + "\nimport time; time.sleep(60)"], stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout.readline().strip() == "recording"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert list_episodes(tmp_path) == [done]
    np.testing.assert_array_equal(read_episode(done).action, action.astype(np.float32))
    assert len(list(tmp_path.glob(".episode_1.*.tmp"))) == 1  # the partial episode stays out of the way


def test_corrupt_or_truncated_files_raise_a_clear_error(tmp_path):
    junk = tmp_path / "episode_0.hdf5"
    junk.write_bytes(b"not an hdf5 file" * 100)
    with pytest.raises(EpisodeFormatError, match="episode_0.hdf5"):
        read_episode(junk)
    qpos, qvel, effort, action = arrays(7)
    good = write_episode(tmp_path / "ok", qpos, qvel, effort, action, {"cam_high": smooth_images(T, 0)})
    cut = tmp_path / "cut.hdf5"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(EpisodeFormatError):
        read_episode(cut)
    partial = tmp_path / "no_action.hdf5"
    with h5py.File(partial, "w") as f:
        f.create_dataset("observations/qpos", data=qpos)
    with pytest.raises(EpisodeFormatError, match="missing ALOHA dataset"):
        read_episode(partial)


def test_long_episode_grows_past_the_preallocation_and_is_trimmed(tmp_path):
    from diffog.data.aloha_hdf5 import GROW
    n = GROW + 3
    q = np.arange(n * 14, dtype=float).reshape(n, 14) / 10  # distinct values, all in joint range
    stamps = {"qpos": np.arange(n) * 0.02}
    path = write_episode(tmp_path, q, q, q, q, {"cam_high": np.zeros((n, 4, 4, 3), np.uint8)}, timestamps=stamps,
                         compress=True)
    ep = read_episode(path)
    assert len(ep) == n and ep.timestamps["qpos"].shape == (n,)
    np.testing.assert_array_equal(ep.qpos, q.astype(np.float32))
    with h5py.File(path) as f:
        assert f["compress_len"].shape == (1, n) and f["observations/images/cam_high"].shape[0] == n
    jpeg = EpisodeWriter(tmp_path, ["cam_high"], compress=True)
    jpeg.add(q[0], q[0], q[0], q[0], {"cam_high": np.zeros((4, 4, 3), np.uint8)})
    with pytest.raises(ValueError, match="differs from earlier frames"):  # JPEG too: the episode must stack
        jpeg.add(q[1], q[1], q[1], q[1], {"cam_high": np.zeros((8, 4, 3), np.uint8)})
    jpeg.discard()
    w = EpisodeWriter(tmp_path)
    w.add(q[0], q[0], q[0], q[0], timestamps={"qpos": 0.0})
    with pytest.raises(ValueError, match="earlier frames had"):
        w.add(q[1], q[1], q[1], q[1], timestamps={"action": 0.0})
    w.discard()


def test_extra_low_dim_streams_round_trip_and_keep_their_layout(tmp_path):
    q = np.zeros(14)
    with EpisodeWriter(tmp_path) as w:
        w.add(q, q, q, q, extras={"object_poses": np.arange(5.0)})
        with pytest.raises(ValueError, match="extra streams"):
            w.add(q, q, q, q)  # a frame without the stream the episode records
        with pytest.raises(ValueError, match="expected 5 values"):
            w.add(q, q, q, q, extras={"object_poses": np.arange(4.0)})
        with pytest.raises(ValueError, match="ALOHA's names"):
            w.add(q, q, q, q, extras={"qpos": q})
        w.add(q, q, q, q, extras={"object_poses": np.arange(5.0) + 1})
        path = w.close()
    ep = read_episode(path)
    assert len(ep) == 2 and np.array_equal(ep.extras["object_poses"], [np.arange(5.0), np.arange(5.0) + 1])


def test_leftovers_of_dead_writers_are_recovered_or_set_aside(tmp_path):
    from diffog.data.aloha_hdf5 import recover_unfinished
    qpos, qvel, effort, action = arrays(8)
    dead = EpisodeWriter(tmp_path, cameras=["cam_high"])  # index 0; "dies" after flushing 4 frames
    for t in range(4):
        dead.add(qpos[t], qvel[t], effort[t], action[t], {"cam_high": smooth_images(1, t)[0]})
    dead.flush()
    dead._file.close()
    os.close(dead._lock_fd)  # its process is gone: the lock with it
    live = EpisodeWriter(tmp_path)  # index 1, still recording
    live.add(qpos[0], qvel[0], effort[0], action[0])
    (tmp_path / ".episode_7.1234.7f00.hdf5.tmp").write_bytes(b"\0" * 64)  # an older version's, never flushed
    (tmp_path / ".claim.1234.abcdef").touch()  # a writer killed while claiming an index
    done = {r.source.name: r for r in recover_unfinished(tmp_path)}
    assert set(done) == {".episode_0.hdf5.tmp", ".episode_7.1234.7f00.hdf5.tmp"}  # the live writer's is left alone
    ep = read_episode(done[".episode_0.hdf5.tmp"].path)
    assert done[".episode_0.hdf5.tmp"].path.name.startswith("unfinished_episode_0_") and len(ep) == 4
    np.testing.assert_array_equal(ep.action, action[:4].astype(np.float32))
    assert "unfinished" in ep.metadata and "committed_frames" not in ep.metadata
    bad = done[".episode_7.1234.7f00.hdf5.tmp"]
    assert bad.path is None and "unreadable_episode_7_" in bad.problem and "recording" in str(bad)
    assert sorted(p.name for p in tmp_path.glob(".*")) == [".episode_1.hdf5.tmp"]
    assert live.close().name == "episode_1.hdf5" and list_episodes(tmp_path) == [tmp_path / "episode_1.hdf5"]
    assert recover_unfinished(tmp_path) == []


def test_a_failed_write_fails_the_writer_and_discard_frees_the_file(tmp_path, monkeypatch):
    import errno

    from diffog.data.aloha_hdf5 import EpisodeWriteError
    qpos, qvel, effort, action = arrays(9)
    w = EpisodeWriter(tmp_path)
    w.add(qpos[0], qvel[0], effort[0], action[0])

    def full(self, key, value):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(h5py.Dataset, "__setitem__", full)
    with pytest.raises(EpisodeWriteError, match="disk full"):
        w.add(qpos[1], qvel[1], effort[1], action[1])
    monkeypatch.undo()
    with pytest.raises(EpisodeWriteError, match="disk full"):  # no more frames, whatever the disk does now
        w.add(qpos[1], qvel[1], effort[1], action[1])
    with pytest.raises(EpisodeWriteError):
        w.close()
    w.discard()
    assert list(tmp_path.iterdir()) == []
