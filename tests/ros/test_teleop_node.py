"""The teleop node driving four emulated Dynamixel buses (real dynamixel-sdk in the node process): start pose,
start gesture, leaders torqued off, followers tracking, and the follower topics the recorder listens to."""
import contextlib
import copy
import time

import pytest

rclpy = pytest.importorskip("rclpy", reason="run through `make test` (needs env.sh)")
from interbotix_xs_msgs.msg import JointGroupCommand  # noqa: E402
from sensor_msgs.msg import JointState  # noqa: E402

from diffog.robot import load_robot_description  # noqa: E402
from diffog.hardware import dynamixel_table as xt  # noqa: E402
from diffog.hardware.servo_bus_emulator import ServoBusEmulator  # noqa: E402
from node_processes import spawn, stop, wait_for  # noqa: E402

pytestmark = pytest.mark.ros
ARMS = ("leader_left", "leader_right", "follower_left", "follower_right")


def test_teleop_node_over_dynamixel_buses(tmp_path):
    d = copy.deepcopy(load_robot_description())
    ids = d.motor_ids
    g = d.gripper
    with contextlib.ExitStack() as stack:
        buses = {a: stack.enter_context(ServoBusEmulator(ids.values())) for a in ARMS}
        d.ports = {a: bus.port for a, bus in buses.items()}
        d.teleop.move_time_s = 0.2
        (tmp_path / "aloha.yaml").write_text(d.to_yaml())
        procs = {"teleop node": spawn(
            tmp_path / "teleop.log", "-m", "diffog_policy.teleop_node", "--ros-args", "-p", "leader_backend:=dynamixel",
            "-p", "follower_backend:=dynamixel", "-p", f"robot_description:={tmp_path / 'aloha.yaml'}",
            "-p", "dynamixel_retries:=10")}  # the emulator answers from this process, on two busy cores
        stack.callback(stop, procs["teleop node"])

        def reg(arm, joint, address, size=1):
            return buses[arm].servo(ids[joint]).int_at(address, size)

        def hand(arm, joint, rad):
            buses[arm].servo(ids[joint]).set_int(xt.PRESENT_POSITION, xt.radians_to_ticks(rad))

        # start pose reached, leader grippers freed for the gesture
        def at_start_pose():  # the last step of the move, then the leader grippers torqued off
            elbow = xt.ticks_to_radians(reg("leader_right", "elbow", xt.GOAL_POSITION, 4))
            return abs(elbow - d.start_pose[2]) < 2e-3 and reg("leader_right", "gripper", xt.TORQUE_ENABLE) == 0
        wait_for(at_start_pose, "never reached the start pose", procs)
        for arm in ARMS:
            assert xt.ticks_to_radians(reg(arm, "elbow", xt.GOAL_POSITION, 4)) == pytest.approx(
                d.start_pose[2], abs=2e-3)
        assert reg("follower_left", "gripper", xt.OPERATING_MODE) == 5
        time.sleep(0.3)
        assert reg("leader_left", "waist", xt.TORQUE_ENABLE) == 1  # no gesture yet: leaders stay torqued

        ctx = rclpy.Context()
        rclpy.init(context=ctx)
        node = rclpy.create_node("teleop_test", context=ctx)
        executor = rclpy.executors.SingleThreadedExecutor(context=ctx)
        executor.add_node(node)
        heard = {"states": [], "commands": []}
        node.create_subscription(JointState, "/follower_left/joint_states", heard["states"].append, 10)
        node.create_subscription(JointGroupCommand, "/follower_left/commands/joint_group", heard["commands"].append, 10)
        try:
            for arm in ("leader_left", "leader_right"):  # the operator squeezes both leader grippers
                hand(arm, "gripper", -0.5)
            wait_for(lambda: all(s.table[xt.TORQUE_ENABLE] == 0 for a in ("leader_left", "leader_right")
                                 for s in buses[a].servos.values()), "leaders never torqued off", procs)
            hand("leader_left", "waist", 0.4)
            hand("leader_left", "gripper", g.leader.joint_open)
            wait_for(lambda: abs(xt.ticks_to_radians(reg("follower_left", "waist", xt.GOAL_POSITION, 4)) - 0.4) < 2e-3,
                     "follower never followed", procs)
            assert xt.ticks_to_radians(reg("follower_left", "gripper", xt.GOAL_POSITION, 4)) == pytest.approx(
                g.follower.joint_open, abs=2e-3)
            assert xt.ticks_to_radians(reg("follower_right", "waist", xt.GOAL_POSITION, 4)) == pytest.approx(0, abs=2e-3)
            def tracking_heard():  # the node mirrors the follower's state and the 0.4 rad waist command on topics
                executor.spin_once(timeout_sec=0.1)
                return heard["states"] and any(abs(c.cmd[0] - 0.4) < 2e-3 for c in heard["commands"])
            wait_for(tracking_heard, "follower topics never carried the tracking", procs)
            assert heard["states"][-1].name[:7] == ["waist", "shoulder", "elbow", "forearm_roll", "wrist_angle",
                                                   "wrist_rotate", "gripper"]
        finally:
            node.destroy_node()
            rclpy.shutdown(context=ctx)
