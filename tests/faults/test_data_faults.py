"""Data faults: a recorder killed mid-episode, a full disk, two recorders on one folder, corrupted or malformed
episode files, a second SIGINT while a bag closes, a malformed JointState at the recorder node. Each test injects
one fault and counts every episode it finds lost (not readable back, not recovered) in `fault.episodes_lost`."""
import json
import os
import pathlib
import signal
import subprocess
import sys
import textwrap
import time

import cv2
import h5py
import numpy as np
import pytest

from diffog.data.aloha_hdf5 import (EpisodeFormatError, list_episodes, read_episode, read_frame_images,
                                    write_episode)
from diffog.data.dataset import ChunkDataset

ARMS = ["follower_left", "follower_right"]
T = 12

# a child process running the recorder core as the node does: streams fed, one tick per 1/50 s
RECORDER_CHILD = """
import json, sys, time
import numpy as np
from diffog.data.recorder import EpisodeRecorder, RecordingError

ARMS = ["follower_left", "follower_right"]

def feed(rec, t, k, marker=0.0, shape=(8, 10, 3)):
    for i, arm in enumerate(ARMS):
        rec.joint_state(arm, t, np.full(7, k / 100), np.full(7, marker), np.zeros(7))
        rec.arm_command(arm, t, np.full(6, k / 100))
        rec.gripper_command(arm, t, 0.5)
    rec.image("cam_high", t, np.full(shape, k % 256, np.uint8))

def say(**kw):
    print(json.dumps(kw), flush=True)
"""


def run_child(code: str, *args, timeout=240.0) -> list[dict]:
    """Run `code` (after RECORDER_CHILD) to its end; its JSON lines."""
    proc = subprocess.run([sys.executable, "-c", RECORDER_CHILD + textwrap.dedent(code), *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]


def test_recorder_killed_mid_episode_is_recovered_but_for_the_last_second(fault, tmp_path):
    code = """
        rec = EpisodeRecorder(sys.argv[1], ARMS, ["cam_high"], max_age_s=1e9)
        say(path=str(rec.start()))
        t0, k = time.monotonic(), 0
        while time.monotonic() - t0 < 120:
            feed(rec, k / 50, k)
            rec.tick(k / 50)
            k += 1
            if k % 5 == 0:
                w = rec._writer
                say(written=w.frame_count, flushed=w.frame_count - w.unflushed_frames)
            time.sleep(max(0.0, t0 + k / 50 - time.monotonic()))
    """
    proc = subprocess.Popen([sys.executable, "-c", RECORDER_CHILD + textwrap.dedent(code), str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        started = json.loads(proc.stdout.readline())
        last = {"written": 0}
        while last["written"] < 100:  # 2 s of frames on disk (or in the writer) before the kill
            line = proc.stdout.readline()
            assert line, f"the recorder died: {proc.stderr.read()[-3000:]}"
            last = json.loads(line)
        os.kill(proc.pid, signal.SIGKILL)  # the fault
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert started["path"].endswith("episode_0.hdf5")
    assert list(tmp_path.glob(".episode_0.*tmp")), "no temporary file left by the killed recorder"

    from diffog.data.recorder import EpisodeRecorder
    rec = EpisodeRecorder(tmp_path, ARMS, ["cam_high"])  # a restart recovers it
    recovered = [r for r in rec.recovered if r.path is not None]
    fault.episodes_lost += 1 - len(recovered)
    assert fault.episodes_lost == 0, [str(r) for r in rec.recovered]
    ep = read_episode(recovered[0].path)
    # everything flushed survives, and the writer had flushed all but the last second (50 frames)
    assert len(ep) == recovered[0].frames >= max(last["flushed"], last["written"] - 50), (len(ep), last)
    np.testing.assert_allclose(ep.qpos[:, 0], np.arange(len(ep)) / 100)  # every frame, in order, intact
    np.testing.assert_array_equal(ep.images["cam_high"][:, 0, 0, 0], np.arange(len(ep)) % 256)
    assert "unfinished" in ep.metadata and recovered[0].path.name.startswith("unfinished_episode_0_")
    assert list_episodes(tmp_path) == [] and not list(tmp_path.glob(".*tmp"))  # out of the data set, no leftovers
    assert rec.start().name == "episode_0.hdf5"  # the index is free again
    rec.discard()


@pytest.mark.parametrize("end", ["discard", "stop"])
def test_disk_full_surfaces_while_recording_and_frees_the_space(fault, tmp_path, end):
    # a file size limit (RLIMIT_FSIZE, SIGXFSZ ignored: writes fail with EFBIG) stands in for a full disk
    code = f"""
        import os, resource, signal
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (2 << 20, 2 << 20))
        d = sys.argv[1]
        rec = EpisodeRecorder(d, ARMS, ["cam_high"], max_age_s=1e9)
        rec.start()
        error, k = None, 0
        while error is None and k < 3000:
            feed(rec, k / 50, k, shape=(48, 64, 3))
            try:
                rec.tick(k / 50)
            except RecordingError as e:
                error = str(e)
            k += 1
            time.sleep(0.002)
        leftovers = sorted(os.listdir(d))
        try:
            rec.{end}()
            ended = "ok"
        except RuntimeError as e:
            ended = str(e)
        say(error=error, ticks=k, leftovers=leftovers, ended=ended, after=sorted(os.listdir(d)),
            recording=rec.recording)
        # the space is back: the next (small) episode records and publishes
        rec.start()
        for j in range(5):
            feed(rec, j / 50, j)
            rec.tick(j / 50)
        say(next=str(rec.stop().path))
    """
    first, second = run_child(code, tmp_path)
    assert first["error"] is not None, f"no error after {first['ticks']} ticks of a full disk"
    assert "writing failed" in first["error"] and "file size limit" in first["error"], first["error"]
    assert first["leftovers"] == [".episode_0.hdf5.tmp"]
    if end == "discard":
        assert first["ended"] == "ok"
    else:
        assert first["ended"].startswith("episode not saved") and "file size limit" in first["ended"]
    assert first["after"] == [] and not first["recording"]  # the temporary file is gone: the space is free
    assert second["next"].endswith("episode_0.hdf5")
    fault.episodes_lost += len(read_episode(second["next"])) != 5
    assert fault.episodes_lost == 0


def test_two_recorders_on_one_folder_never_share_an_episode_index(fault, tmp_path):
    go = tmp_path / "go"
    code = """
        import pathlib
        d, me, go = sys.argv[1], int(sys.argv[2]), pathlib.Path(sys.argv[3])
        rec = EpisodeRecorder(d, ARMS, ["cam_high"], max_age_s=1e9)
        say(ready=me)
        while not go.exists():
            time.sleep(0.001)
        started = str(rec.start())
        for k in range(10):
            feed(rec, k / 50, k, marker=me)
            rec.tick(k / 50)
        say(me=me, started=started, published=str(rec.stop().path))
    """
    data = tmp_path / "data"
    data.mkdir()
    script = RECORDER_CHILD + textwrap.dedent(code)
    procs = [subprocess.Popen([sys.executable, "-c", script, str(data), str(me), str(go)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for me in range(4)]
    for p in procs:  # all ready (imports done), then they start at once
        assert json.loads(p.stdout.readline()).get("ready") is not None, p.stderr.read()[-3000:]
    go.touch()
    results = []
    for p in procs:
        out, err = p.communicate(timeout=240)
        assert p.returncode == 0, err[-3000:]
        results.append(json.loads(out.splitlines()[-1]))
    started = [r["started"] for r in results]
    assert len(set(started)) == 4, started  # four recorders, four indices
    assert all(r["published"] == r["started"] for r in results)  # each published what it announced
    for r in results:
        ep = read_episode(r["published"])
        fault.episodes_lost += not (len(ep) == 10 and np.all(ep.qvel == r["me"]))
    assert fault.episodes_lost == 0
    assert sorted(p.name for p in list_episodes(data)) == sorted(pathlib.Path(s).name for s in started)


def _episode(directory, compress=False, **kwargs) -> pathlib.Path:
    rng = np.random.default_rng(0)
    q = rng.uniform(-1, 1, (T, 14))
    y, x = np.mgrid[0:24, 0:32]
    frame = np.stack([x * 8, y * 10, (x + y) * 4], -1).astype(np.uint8)
    images = {"cam_high": np.stack([np.roll(frame, t, axis=1) for t in range(T)])}
    return write_episode(directory, q, q, q, q, images, compress=compress, **kwargs)


def test_corrupted_bytes_in_an_episode_are_detected(fault, tmp_path):
    path = _episode(tmp_path)
    assert read_episode(path).action.shape == (T, 14)
    with h5py.File(path) as f:  # where the bytes of /action and of the camera are in the file
        offsets = {name: f[name].id.get_chunk_info(0).byte_offset for name in ("action", "observations/images/cam_high")}
        assert f["action"].fletcher32 and f["observations/images/cam_high"].fletcher32  # checksummed by default
    raw = bytearray(path.read_bytes())
    raw[offsets["action"] + 4 * 5: offsets["action"] + 4 * 6] = np.float32(1e30).tobytes()  # the fault (float32 rows)
    raw[offsets["observations/images/cam_high"] + 100] ^= 0xFF
    path.write_bytes(bytes(raw))
    try:
        read_episode(path)
        fault.episodes_lost += 1  # read without an error: silently corrupt data
    except EpisodeFormatError as e:
        assert "/action" in str(e) and "checksum" in str(e).lower()
    with pytest.raises(EpisodeFormatError, match="cam_high"):
        read_frame_images(path, 0)
    with pytest.raises(EpisodeFormatError, match="/action"):
        ChunkDataset([path], horizon=4, n_obs_steps=2, n_action_steps=2)
    with h5py.File(path) as f, pytest.raises(OSError):  # plain h5py (ALOHA's and ACT's loaders) fails too
        f["/action"][()]
    # a file without checksums (as ALOHA writes them): the absurd value itself is refused
    plain = _episode(tmp_path / "plain", checksums=False)
    with h5py.File(plain, "r+") as f:
        assert not f["action"].fletcher32
        f["action"][3, 5] = 1e30
    with pytest.raises(EpisodeFormatError, match=r"/action\[3, 5\].*beyond"):
        read_episode(plain)
    assert fault.episodes_lost == 0


def _rewrite(path: pathlib.Path, name: str, data) -> None:
    with h5py.File(path, "r+") as f:
        del f[name]
        if isinstance(data, str):
            f.create_group(name)
        else:
            f[name] = data


BAD_EPISODES = {  # name: (what to do to a good episode, the dataset the error must name)
    "int16 qpos": (lambda f: _rewrite(f, "observations/qpos", np.zeros((T, 14), np.int16)), "/observations/qpos"),
    "7-column qpos": (lambda f: _rewrite(f, "observations/qpos", np.zeros((T, 7))), "/observations/qpos"),
    "1-D action": (lambda f: _rewrite(f, "action", np.zeros(T)), "/action"),
    "string effort": (lambda f: _rewrite(f, "observations/effort", np.array([b"x" * 14] * T)), "/observations/effort"),
    "NaN qvel": (lambda f: _rewrite(f, "observations/qvel", np.full((T, 14), np.nan)), "/observations/qvel"),
    "qpos is a group": (lambda f: _rewrite(f, "observations/qpos", "group"), "/observations/qpos"),
    "channels-first images": (lambda f: _rewrite(f, "observations/images/cam_high",
                                                 np.zeros((T, 3, 24, 32), np.uint8)), "cam_high"),
    "float images": (lambda f: _rewrite(f, "observations/images/cam_high", np.zeros((T, 24, 32, 3))), "cam_high"),
    "short images": (lambda f: _rewrite(f, "observations/images/cam_high", np.zeros((T - 2, 24, 32, 3), np.uint8)),
                     "cam_high"),
    "2-D timestamps": (lambda f: _rewrite(f, "timestamps/qpos", np.zeros((T, 2))), "/timestamps/qpos"),
}


@pytest.mark.parametrize("bad", list(BAD_EPISODES))
def test_malformed_episodes_are_refused_with_the_dataset_named(fault, tmp_path, bad):
    path = _episode(tmp_path, timestamps={"qpos": np.arange(T) * 0.02})
    assert len(read_episode(path)) == T
    corrupt, dataset = BAD_EPISODES[bad]
    corrupt(path)  # the fault
    try:
        read_episode(path)
        fault.episodes_lost += 1  # a malformed episode read as if it were fine
    except EpisodeFormatError as e:
        assert dataset in str(e) and str(path) in str(e)
    with pytest.raises(EpisodeFormatError, match=dataset.lstrip("/")):
        ChunkDataset([path], horizon=4, n_obs_steps=2, n_action_steps=2, cameras=["cam_high"],
                     image_size=(24, 32))
    assert fault.episodes_lost == 0


@pytest.mark.parametrize("bad", ["garbage JPEG", "truncated JPEG", "raw frames in a compressed episode"])
def test_undecodable_compressed_images_are_refused(fault, tmp_path, bad):
    path = _episode(tmp_path, compress=True)
    assert read_episode(path).images["cam_high"].shape == (T, 24, 32, 3)
    with h5py.File(path, "r+") as f:  # the fault
        ds = f["observations/images/cam_high"]
        if bad == "garbage JPEG":
            ds[4] = np.arange(ds.shape[1]) % 251
        elif bad == "truncated JPEG":
            ds[4, 20:] = 0
        else:
            del f["observations/images/cam_high"]
            f["observations/images/cam_high"] = np.zeros((T, 24, 32, 3), np.uint8)
    try:
        read_episode(path)
        fault.episodes_lost += 1
    except EpisodeFormatError as e:
        assert "cam_high" in str(e)
    with pytest.raises(EpisodeFormatError, match="cam_high"):
        read_frame_images(path, 4)
    assert fault.episodes_lost == 0


def test_aloha_loaders_read_checksummed_episodes(fault, tmp_path):
    """fletcher32 is transparent to h5py: ACT's EpisodicDataset indexing reads our files as before."""
    for compress in (False, True):
        path = _episode(tmp_path / str(compress), compress=compress)
        with h5py.File(path, "r") as root:  # act/utils.py EpisodicDataset.__getitem__
            is_sim = root.attrs["sim"]
            original_action_shape = root["/action"].shape
            qpos = root["/observations/qpos"][3]
            image = root["/observations/images/cam_high"][3]
            action = root["/action"][3:]
        if compress:
            image = cv2.imdecode(image, 1)
        assert not is_sim and original_action_shape == (T, 14) and image.shape == (24, 32, 3)
        np.testing.assert_array_equal(qpos, read_episode(path).qpos[3])
        np.testing.assert_array_equal(action, read_episode(path).action[3:])
    fault.episodes_lost += 0
    assert fault.episodes_lost == 0


# --- ROS: the bag recorder's close and the recorder node's input ----------------------------------------------------
def _ros():
    rclpy = pytest.importorskip("rclpy", reason="run through `make test` (needs env.sh)")
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "ros"))
    import node_processes
    return rclpy, node_processes


@pytest.mark.ros
def test_repeated_sigint_while_the_bag_closes_leaves_a_readable_bag(fault, tmp_path):
    rclpy, nodes = _ros()
    from rosbags.rosbag2 import Reader
    from std_msgs.msg import String

    bag = tmp_path / "bag"
    proc = nodes.spawn(tmp_path / "bag.log", "-m", "diffog_policy.bag_tools", "--ros-args", "-p", f"output:={bag}",
                       "-p", "topics:=[/fault_chatter]")
    ctx = rclpy.Context()
    rclpy.init(context=ctx)
    try:
        node = rclpy.create_node("bag_fault_publisher", context=ctx)
        pub = node.create_publisher(String, "/fault_chatter", 10)
        nodes.wait_for(lambda: pub.get_subscription_count() > 0, "the bag recorder never subscribed",
                       {"bag recorder": proc})
        for k in range(3000):  # a bag whose close takes a while
            pub.publish(String(data=f"message {k}"))
            if k % 100 == 0:
                time.sleep(0.01)
        time.sleep(1.0)  # delivery (reliable QoS); the count is checked loosely below
    finally:
        rclpy.shutdown(context=ctx)
    # the fault: SIGINT, then SIGINT again and again every ms while the node shuts down and closes the bag
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        proc.send_signal(signal.SIGINT)
        time.sleep(0.001)
    out = nodes.stop(proc)
    assert proc.returncode == 0, out
    assert (bag / "metadata.yaml").exists(), out
    try:
        with Reader(bag) as reader:
            count = sum(1 for _ in reader.messages())
    except Exception as e:  # noqa: BLE001 - whatever rosbags says of a bag without its summary
        fault.episodes_lost += 1
        pytest.fail(f"the bag is unreadable: {e}\n{out}")
    assert count > 0, out
    assert fault.episodes_lost == 0


@pytest.mark.ros
def test_recorder_node_drops_a_joint_state_with_mismatched_lengths(fault, tmp_path):
    rclpy, nodes = _ros()
    from diffog_msgs.srv import EndEpisode, StartEpisode
    from interbotix_xs_msgs.msg import JointGroupCommand, JointSingleCommand
    from sensor_msgs.msg import JointState

    from diffog.hardware.robot import Arm

    data = tmp_path / "data"
    proc = nodes.spawn(tmp_path / "recorder.log", "-m", "diffog_policy.recorder_node", "--ros-args",
                       "-p", f"dataset_dir:={data}", "-p", "cameras:=[none]", "-p", "max_age_s:=2.0")
    ctx = rclpy.Context()
    rclpy.init(context=ctx)
    try:
        node = rclpy.create_node("recorder_fault_client", context=ctx)
        executor = rclpy.executors.SingleThreadedExecutor(context=ctx)
        executor.add_node(node)
        pubs = {arm: (node.create_publisher(JointState, f"/{arm}/joint_states", 10),
                      node.create_publisher(JointGroupCommand, f"/{arm}/commands/joint_group", 10),
                      node.create_publisher(JointSingleCommand, f"/{arm}/commands/joint_single", 10))
                for arm in ARMS}
        names = list(Arm.JOINTS)

        def call(srv_type, name, request):
            cli = node.create_client(srv_type, name)
            try:
                deadline = time.monotonic() + 90
                while time.monotonic() < deadline:
                    if proc.poll() is not None:
                        pytest.fail(f"the recorder node died:\n{nodes.output(proc)}")
                    if cli.wait_for_service(timeout_sec=1.0):
                        future = cli.call_async(request)
                        executor.spin_until_future_complete(future, timeout_sec=5.0)
                        if future.done():
                            return future.result()
                        cli.remove_pending_request(future)
                pytest.fail(f"{name} did not answer\n{nodes.output(proc)}")
            finally:
                node.destroy_client(cli)

        def publish(position=None, velocity=None, effort=None):
            stamp = node.get_clock().now().to_msg()
            for arm, (js, group, single) in pubs.items():
                msg = JointState(name=names, position=[0.1] * 7 if position is None else position,
                                 velocity=[0.0] * 7 if velocity is None else velocity,
                                 effort=[0.0] * 7 if effort is None else effort)
                msg.header.stamp = stamp
                js.publish(msg)
                group.publish(JointGroupCommand(name="arm", cmd=[0.1] * 6))
                single.publish(JointSingleCommand(name="gripper", cmd=0.0))

        nodes.wait_for(lambda: all(p[0].get_subscription_count() for p in pubs.values()),
                       "the recorder never subscribed", {"recorder": proc})
        # the fault, sent until the recorder reports it: best-effort sensor data may be lost to discovery or to
        # a busy node's short queue. The other two are logged by the same call, throttled.
        drop = "dropping a joint_states message with 7 names but 6 position values"

        def position_fault_reported():
            publish(position=[0.1] * 6)
            return drop in nodes.output(proc)
        nodes.wait_for(position_fault_reported, "the recorder never reported the malformed message", {"recorder": proc})
        for bad in ({"velocity": [0.0] * 3}, {"effort": [0.0] * 8}):
            for _ in range(5):
                publish(**bad)
                time.sleep(0.01)
        started = None

        def start():
            nonlocal started
            publish()
            started = call(StartEpisode, "/recorder/start_episode", StartEpisode.Request())
            return started.success
        nodes.wait_for(start, lambda: f"the recorder never started: {started and started.message}",
                       {"recorder": proc})
        # the node lives on and records: good messages make the episode
        t_end = time.monotonic() + 1.0
        while time.monotonic() < t_end:
            publish()
            time.sleep(0.02)
        stopped = call(EndEpisode, "/recorder/stop_episode", EndEpisode.Request())
    finally:
        rclpy.shutdown(context=ctx)
        out = nodes.stop(proc)
    assert stopped.success, stopped.message
    assert drop in out, out
    try:
        ep = read_episode(stopped.path)
        np.testing.assert_allclose(ep.qpos[:, 0], 0.1)
    except (EpisodeFormatError, AssertionError):
        fault.episodes_lost += 1
    assert len(ep) == stopped.frame_count > 0
    assert fault.episodes_lost == 0
