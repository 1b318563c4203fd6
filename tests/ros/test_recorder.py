"""The recorder node over DDS: episodes recorded from the simulated followers (a separate process on the robot's
topics), read back in ALOHA's layout, an MCAP bag beside them, and a recorder killed mid-episode."""
import hashlib
import os
import pathlib
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy", reason="run through `make test` (needs env.sh)")
from diffog_msgs.srv import EndEpisode, StartEpisode  # noqa: E402

from diffog.data.aloha_hdf5 import list_episodes, read_episode  # noqa: E402
from diffog.deploy.rosbag_io import bag_topics  # noqa: E402
from diffog.hardware.gripper import GripperMapping  # noqa: E402

pytestmark = pytest.mark.ros
SIM = pathlib.Path(__file__).parent / "nodes" / "sim_followers.py"


def spawn(*args):
    return subprocess.Popen([sys.executable, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            return proc.communicate(timeout=20)[0]
        except subprocess.TimeoutExpired:
            proc.kill()
    return proc.communicate()[0]


def alive(proc, what):
    if proc.poll() is not None:
        pytest.fail(f"{what} exited with {proc.returncode}: {proc.communicate()[0]}")


@pytest.fixture(scope="module")
def sim():
    proc = spawn(str(SIM), "--duration", "240")
    yield proc
    stop(proc)


@pytest.fixture(scope="module")
def client(sim):
    ctx = rclpy.Context()
    rclpy.init(context=ctx)
    node = rclpy.create_node("recorder_test_client", context=ctx)
    executor = rclpy.executors.SingleThreadedExecutor(context=ctx)
    executor.add_node(node)
    yield node, executor, sim
    node.destroy_node()
    rclpy.shutdown(context=ctx)


def recorder(directory, *params):
    args = ["-m", "diffog_policy.recorder_node", "--ros-args", "-p", f"dataset_dir:={directory}",
            "-p", "cameras:=[cam_high]", "-p", "task_name:=transfer_cube", *params]
    return spawn(*args)


def call(client, srv_type, name, request, timeout=90.0):
    """Call a service, retrying unanswered requests: after a SIGKILL the dead server stays in discovery for a while,
    so a request can leave before the new server is matched."""
    node, executor, _ = client
    cli = node.create_client(srv_type, name)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if not cli.wait_for_service(timeout_sec=1.0):
                continue
            future = cli.call_async(request)
            executor.spin_until_future_complete(future, timeout_sec=5.0)
            if future.done():
                return future.result()
            cli.remove_pending_request(future)
        raise AssertionError(f"{name} did not answer within {timeout} s")
    finally:
        node.destroy_client(cli)


def record(client, seconds, **start):
    """Start an episode as soon as the recorder hears every stream, then let it record for `seconds`."""
    deadline = time.monotonic() + 90.0
    while not (reply := call(client, StartEpisode, "/recorder/start_episode", StartEpisode.Request(**start))).success:
        assert reply.message.startswith("not starting") and time.monotonic() < deadline, reply.message
        alive(client[2], "the sim followers")
        time.sleep(0.2)
    time.sleep(seconds)
    return reply


def test_records_sim_episode_over_ros_and_reads_it_back(client, tmp_path):
    proc = recorder(tmp_path / "data", "-p", f"bag_dir:={tmp_path / 'bags'}")
    try:
        started = record(client, 2.0, note="over ros")
        assert started.path == str(tmp_path / "data" / "episode_0.hdf5")
        reply = call(client, EndEpisode, "/recorder/stop_episode", EndEpisode.Request())
        assert reply.success and reply.path == started.path, reply.message
        # discard through the service: nothing is written
        record(client, 0.3)
        discarded = call(client, EndEpisode, "/recorder/discard_episode", EndEpisode.Request())
        assert discarded.success and discarded.path == ""
        record(client, 0.5)  # then Ctrl-C mid-episode
    finally:
        out = stop(proc)
    assert list_episodes(tmp_path / "data") == [pathlib.Path(started.path)], out
    unfinished = list((tmp_path / "data").glob(".episode_1.*.tmp"))
    assert len(unfinished) == 1 and len(read_episode(unfinished[0])) > 0, out  # kept complete, out of the data set
    ep = read_episode(started.path)
    assert len(ep) == reply.frame_count > 20, reply.message
    assert ep.qpos.shape == ep.qvel.shape == ep.effort.shape == ep.action.shape == (len(ep), 14)
    assert ep.images["cam_high"].shape == (len(ep), 24, 32, 3)
    assert len(np.unique(ep.images["cam_high"][:, 0, 0, 0])) > len(ep) // 3  # fresh images, not one repeated
    # the action is the command the followers received (a waist sine, grippers at 0.5 rad), normalized like ALOHA
    assert np.ptp(ep.action[:, 0]) > 0.05 and np.abs(ep.action[:, 0]).max() <= 0.3 + 1e-6
    g = GripperMapping.from_description().follower
    np.testing.assert_allclose(ep.action[:, [6, 13]], g.joint_to_normalized(0.5), atol=1e-6)
    # the sim follows the commands (its position servos lag them)
    assert np.ptp(ep.qpos[:, 0]) > 0.01 and np.all(np.isfinite(ep.qpos))
    frame_dt = np.diff(ep.timestamps["frame"])
    assert np.median(frame_dt) == pytest.approx(0.02, abs=0.004)
    assert set(ep.timestamps) >= {"frame", "cam_high", "joint_states_follower_left", "arm_command_follower_right"}
    assert ep.metadata["task"] == "transfer_cube" and ep.metadata["note"] == "over ros"
    assert ep.metadata["robot"] == "aloha" and len(ep.metadata["joint_names"]) == 14
    assert ep.metadata["dropped_frames"] >= 0 and ep.metadata["achieved_rate_hz"] > 0
    # the MCAP bag of the same topics, and none for the discarded episode
    bags = sorted((tmp_path / "bags").iterdir())
    assert [b.name for b in bags] == [unfinished[0].name.removesuffix(".hdf5"), "episode_0"]  # named as the files
    topics = bag_topics(bags[1])
    assert topics["/follower_left/joint_states"] == "sensor_msgs/msg/JointState"
    assert topics["/follower_right/commands/joint_group"] == "interbotix_xs_msgs/msg/JointGroupCommand"
    assert "/cam_high/camera/color/image_rect_raw" in topics


def test_killed_recorder_leaves_earlier_episodes_intact(client, tmp_path):
    proc = recorder(tmp_path)
    try:
        first = record(client, 0.5)
        assert call(client, EndEpisode, "/recorder/stop_episode", EndEpisode.Request()).success
        digest = hashlib.sha256(pathlib.Path(first.path).read_bytes()).hexdigest()
        second = record(client, 0.5)
        assert second.path.endswith("episode_1.hdf5")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=20)
    finally:
        stop(proc)
    assert list_episodes(tmp_path) == [pathlib.Path(first.path)]
    assert hashlib.sha256(pathlib.Path(first.path).read_bytes()).hexdigest() == digest
    assert len(read_episode(first.path)) > 5
    assert list(tmp_path.glob(".episode_1.*.tmp"))  # the interrupted episode stays aside, never published
    # a new recorder continues after the published episodes and never overwrites them
    proc = recorder(tmp_path)
    try:
        third = record(client, 0.3)
        assert third.path.endswith("episode_1.hdf5")
        assert call(client, EndEpisode, "/recorder/stop_episode", EndEpisode.Request()).success
    finally:
        stop(proc)
    assert [p.name for p in list_episodes(tmp_path)] == ["episode_0.hdf5", "episode_1.hdf5"]
