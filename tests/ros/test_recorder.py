"""The recording graph over DDS, as on the robot but with the sim node as the followers (and cameras) and
emulated Dynamixel leader buses: teleop drives the sim, the recorder writes episodes that read back in ALOHA's
layout with an MCAP bag beside them; a recorder stopped or killed mid-episode loses no earlier episode, and a
restart recovers the interrupted one (but its last fraction of a second) as an unfinished episode."""
import contextlib
import copy
import hashlib
import os
import pathlib
import signal
import time

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy", reason="run through `make test` (needs env.sh)")
from diffog_msgs.srv import EndEpisode, StartEpisode  # noqa: E402

from diffog.robot import load_robot_description  # noqa: E402
from diffog.data.aloha_hdf5 import list_episodes, read_episode  # noqa: E402
from diffog.rostools.rosbag_io import bag_topics  # noqa: E402
from diffog.hardware import dynamixel_table as xt  # noqa: E402
from diffog.hardware.servo_bus_emulator import ServoBusEmulator  # noqa: E402
from node_processes import spawn, stop, wait_for  # noqa: E402

pytestmark = pytest.mark.ros
LEADERS = ("leader_left", "leader_right")
WAIST = 0.3  # where the operator holds the left leader's waist during the recordings


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    """Sim node + teleop node (emulated leaders, followers through the sim's xs_sdk interface), teleoperating."""
    d = copy.deepcopy(load_robot_description())
    ids = d.motor_ids
    g = d.gripper
    with contextlib.ExitStack() as stack:
        buses = {a: stack.enter_context(ServoBusEmulator(ids.values())) for a in LEADERS}
        d.ports.update({a: bus.port for a, bus in buses.items()})
        d.teleop.move_time_s = 0.3
        rig_dir = tmp_path_factory.mktemp("rig")
        config = rig_dir / "aloha.yaml"
        config.write_text(d.to_yaml())
        procs = {
            "sim node": spawn(rig_dir / "sim.log", "-m", "aloha_bringup.sim_node", "--ros-args", "-p", "task:=transfer_cube", "-p",
                              "render_height:=24", "-p", "render_width:=32", "-p", "cameras:=[cam_high]",
                              "-p", "camera_rate_hz:=2.0"),
            "teleop node": spawn(rig_dir / "teleop.log", "-m", "diffog_policy.teleop_node", "--ros-args", "-p", "leader_backend:=dynamixel",
                                 "-p", "follower_backend:=interbotix", "-p", f"robot_description:={config}",
                                 "-p", "dynamixel_retries:=10"),  # the emulator shares two busy cores
        }
        for proc in procs.values():
            stack.callback(stop, proc)

        def leader(arm, joint):
            return buses[arm].servo(ids[joint])

        wait_for(lambda: leader("leader_right", "gripper").table[xt.TORQUE_ENABLE] == 0
                 and leader("leader_right", "elbow").int_at(xt.GOAL_POSITION) == xt.radians_to_ticks(d.start_pose[2]),
                 "teleop never reached the start pose", procs)
        for arm in LEADERS:  # the operator squeezes both leader grippers: teleop starts, leaders go limp
            leader(arm, "gripper").set_int(xt.PRESENT_POSITION, xt.radians_to_ticks(-0.5))
        wait_for(lambda: leader("leader_left", "waist").table[xt.TORQUE_ENABLE] == 0, "no start gesture", procs)
        leader("leader_left", "waist").set_int(xt.PRESENT_POSITION, xt.radians_to_ticks(WAIST))
        leader("leader_left", "gripper").set_int(xt.PRESENT_POSITION, xt.radians_to_ticks(g.leader.joint_open))

        ctx = rclpy.Context()
        rclpy.init(context=ctx)
        node = rclpy.create_node("recorder_test_client", context=ctx)
        executor = rclpy.executors.SingleThreadedExecutor(context=ctx)
        executor.add_node(node)
        stack.callback(rclpy.shutdown, context=ctx)
        yield node, executor, procs


def recorder(directory, *params):
    directory.mkdir(parents=True, exist_ok=True)
    return spawn(directory.parent / f"recorder.{time.monotonic_ns()}.log", "-m", "diffog_policy.recorder_node", "--ros-args", "-p", f"dataset_dir:={directory}",
                 "-p", "cameras:=[cam_high]", "-p", "task_name:=transfer_cube", *params,
                 # renders (~0.15 s, on the sim's only thread) stall every stream: drops are the core tests' subject
                 "-p", "max_age_s:=2.0")


def call(rig, srv_type, name, request, timeout=90.0):
    """Call a service, retrying unanswered requests: after a SIGKILL the dead server stays in discovery for a while,
    so a request can leave before the new server is matched."""
    node, executor, _ = rig
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


def record(rig, seconds, **start):
    """Start an episode as soon as the recorder hears every stream, then let it record for `seconds`."""
    replies = []

    def started():
        replies.append(call(rig, StartEpisode, "/recorder/start_episode", StartEpisode.Request(**start)))
        assert replies[-1].success or replies[-1].message.startswith("not starting"), replies[-1].message
        return replies[-1].success
    wait_for(started, lambda: f"the recorder never started ({replies[-1].message if replies else 'no reply'})",
             rig[2])
    time.sleep(seconds)
    return replies[-1]


def test_teleoperated_sim_episode_over_ros_reads_back(rig, tmp_path):
    proc = recorder(tmp_path / "data", "-p", f"bag_dir:={tmp_path / 'bags'}")
    try:
        started = record(rig, 2.0, note="over ros")
        assert started.path == str(tmp_path / "data" / "episode_0.hdf5")
        reply = call(rig, EndEpisode, "/recorder/stop_episode", EndEpisode.Request())
        assert reply.success and reply.path == started.path, reply.message
        record(rig, 0.3)  # discarded through the service: nothing is written
        discarded = call(rig, EndEpisode, "/recorder/discard_episode", EndEpisode.Request())
        assert discarded.success and discarded.path == ""
        record(rig, 0.5)  # then Ctrl-C mid-episode
    finally:
        out = stop(proc)
    assert list_episodes(tmp_path / "data") == [pathlib.Path(started.path)], out
    unfinished = list((tmp_path / "data").glob("unfinished_episode_1_*.h5"))
    assert len(unfinished) == 1 and len(read_episode(unfinished[0])) > 0, out  # kept complete, out of the data set
    assert not list((tmp_path / "data").glob(".*")), out  # no temporary file left

    ep = read_episode(started.path)
    assert len(ep) == reply.frame_count > 20, reply.message
    assert ep.qpos.shape == ep.qvel.shape == ep.effort.shape == ep.action.shape == (len(ep), 14)
    assert ep.images["cam_high"].shape == (len(ep), 24, 32, 3) and ep.images["cam_high"].std() > 0
    # the action is what teleop sent: the left leader's waist and open gripper, the right leader at the start pose
    # with its gripper squeezed (ALOHA's normalization of the leader gripper, clipped to the joint limits)
    g = load_robot_description().gripper
    start = load_robot_description().start_pose[:6]
    np.testing.assert_allclose(ep.action[:, 0], WAIST, atol=2e-3)
    np.testing.assert_allclose(ep.action[:, 6], 1.0, atol=2e-3)
    np.testing.assert_allclose(ep.action[:, 7:13], np.tile(start, (len(ep), 1)), atol=2e-3)
    np.testing.assert_allclose(ep.action[:, 13], g.leader.joint_to_normalized(-0.5), atol=2e-3)
    # the sim's followers got there (qpos: measured joints, finger position normalized like ALOHA's qpos)
    assert ep.qpos[-1, 0] == pytest.approx(WAIST, abs=0.05) and ep.qpos[-1, 6] > 0.8
    assert np.median(np.diff(ep.timestamps["frame"])) == pytest.approx(0.02, abs=0.004)
    assert set(ep.timestamps) >= {"frame", "cam_high", "joint_states_follower_left", "arm_command_follower_right"}
    assert ep.metadata["task"] == "transfer_cube" and ep.metadata["note"] == "over ros"
    assert ep.metadata["robot"] == "aloha" and len(ep.metadata["joint_names"]) == 14
    assert ep.metadata["dropped_frames"] >= 0 and ep.metadata["achieved_rate_hz"] > 0
    # an MCAP bag of the same topics per episode, named as its file; none for the discarded one
    bags = sorted((tmp_path / "bags").iterdir())
    assert [b.name for b in bags] == ["episode_0", unfinished[0].stem]
    topics = bag_topics(bags[0])
    assert topics["/follower_left/joint_states"] == "sensor_msgs/msg/JointState"
    assert topics["/follower_right/commands/joint_group"] == "interbotix_xs_msgs/msg/JointGroupCommand"
    assert "/cam_high/camera/color/image_rect_raw" in topics


def test_killed_recorder_leaves_earlier_episodes_intact(rig, tmp_path):
    proc = recorder(tmp_path)
    try:
        first = record(rig, 0.5)
        assert call(rig, EndEpisode, "/recorder/stop_episode", EndEpisode.Request()).success
        digest = hashlib.sha256(pathlib.Path(first.path).read_bytes()).hexdigest()
        second = record(rig, 1.5)
        assert second.path.endswith("episode_1.hdf5")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=20)
    finally:
        stop(proc)
    assert list_episodes(tmp_path) == [pathlib.Path(first.path)]
    assert hashlib.sha256(pathlib.Path(first.path).read_bytes()).hexdigest() == digest
    assert len(read_episode(first.path)) > 5
    assert list(tmp_path.glob(".episode_1.*.tmp"))  # the interrupted episode stays aside, never published
    # a new recorder recovers it (out of the data set), continues after the published episodes, overwrites none
    proc = recorder(tmp_path)
    try:
        third = record(rig, 0.3)
        assert third.path.endswith("episode_1.hdf5")
        assert call(rig, EndEpisode, "/recorder/stop_episode", EndEpisode.Request()).success
    finally:
        out = stop(proc)
    assert [p.name for p in list_episodes(tmp_path)] == ["episode_0.hdf5", "episode_1.hdf5"]
    recovered = list(tmp_path.glob("unfinished_episode_1_*.h5"))
    assert len(recovered) == 1 and len(read_episode(recovered[0])) > 5, out
    assert "recovered" in out and not list(tmp_path.glob(".episode_*")), out
