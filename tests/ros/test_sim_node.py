"""The sim node in its own process, spoken to over DDS exactly as the real arms' xs_sdk nodes and cameras are:
a joint-group command moves joint_states, a NaN command is dropped (the arm holds), the gripper opens, torque off
lets the arm sag and the xs_sdk services answer, and camera images arrive under the real camera's topic."""
import math
import subprocess
import sys
import time

import pytest

rclpy = pytest.importorskip("rclpy", reason="run through `make test` (needs env.sh)")
from interbotix_xs_msgs.msg import JointGroupCommand, JointSingleCommand  # noqa: E402
from interbotix_xs_msgs.srv import OperatingModes, Reboot, TorqueEnable  # noqa: E402
from rosgraph_msgs.msg import Clock  # noqa: E402
from sensor_msgs.msg import Image, JointState  # noqa: E402

from diffog.robot import load_robot_description  # noqa: E402

pytestmark = pytest.mark.ros
START = [0.0, -0.96, 1.16, 0.0, -0.3, 0.0]


class Client:
    def __init__(self, ctx):
        self.node = rclpy.create_node("sim_node_test", context=ctx)
        self.executor = rclpy.executors.SingleThreadedExecutor(context=ctx)
        self.executor.add_node(self.node)
        self.states = {}
        self.images = []
        ros = load_robot_description().ros_interface
        for arm in ("follower_left", "follower_right"):
            self.node.create_subscription(JointState, ros.joint_states.format(arm_ns=arm),
                                          lambda m, a=arm: self.states.__setitem__(a, m), 10)
        self.node.create_subscription(Image, ros.camera_image.format(camera="cam_high"), self.images.append, 10)
        self.group = self.node.create_publisher(JointGroupCommand, ros.arm_group_command.format(arm_ns="follower_left"), 10)
        self.single = self.node.create_publisher(JointSingleCommand, ros.gripper_command.format(arm_ns="follower_left"), 10)
        self.torque = self.node.create_client(TorqueEnable, ros.torque_enable.format(arm_ns="follower_right"))
        self.reboot = self.node.create_client(Reboot, ros.reboot_motors.format(arm_ns="follower_right"))
        self.modes = self.node.create_client(OperatingModes, ros.set_operating_modes.format(arm_ns="follower_left"))

    def joint(self, arm, name):
        msg = self.states[arm]
        return msg.position[list(msg.name).index(name)]

    def spin_until(self, cond, timeout, publish=None):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if publish:
                publish()
            self.executor.spin_once(timeout_sec=0.05)
            if cond():
                return True
        return False

    def call(self, client, request):
        assert client.wait_for_service(timeout_sec=30.0), f"{client.srv_name} never appeared"
        future = client.call_async(request)
        self.executor.spin_until_future_complete(future, timeout_sec=10.0)
        assert future.done(), f"{client.srv_name} did not answer"
        return future.result()


def start_sim_node(*params):
    args = [a for p in ("task:=transfer_cube", *params) for a in ("-p", p)]
    return subprocess.Popen([sys.executable, "-m", "aloha_bringup.sim_node", "--ros-args", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def stop(proc):
    proc.terminate()
    try:
        out, _ = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    assert "Traceback" not in out, out


def test_sim_node_serves_the_real_robot_interface():
    proc = start_sim_node("render_height:=24", "render_width:=32", "cameras:=['cam_high']", "camera_rate_hz:=5.0")
    ctx = rclpy.Context()
    rclpy.init(context=ctx)
    c = Client(ctx)
    try:
        assert c.spin_until(lambda: len(c.states) == 2, 60.0), "no joint_states from the sim node"
        msg = c.states["follower_left"]
        assert list(msg.name) == ["waist", "shoulder", "elbow", "forearm_roll", "wrist_angle", "wrist_rotate",
                                  "gripper", "left_finger", "right_finger"]
        assert c.joint("follower_left", "waist") == pytest.approx(0.0, abs=0.01)

        goal = [0.4, *START[1:]]
        assert c.spin_until(lambda: c.joint("follower_left", "waist") > 0.38, 20.0,
                            lambda: c.group.publish(JointGroupCommand(name="arm", cmd=goal))), "waist never moved"
        c.group.publish(JointGroupCommand(name="arm", cmd=[math.nan, *START[1:]]))
        c.group.publish(JointGroupCommand(name="arm", cmd=START[:5]))  # too short: dropped as well
        c.spin_until(lambda: False, 1.5)
        # taken, either would send the waist back towards 0 (or NaN); dropped, it settles at its goal (the waist's
        # dry friction leaves a few hundredths of overshoot)
        positions = c.states["follower_left"].position
        assert all(math.isfinite(x) for x in positions)
        assert c.joint("follower_left", "waist") == pytest.approx(0.4, abs=0.05), "a bad command moved the arm"

        opened = load_robot_description().gripper.follower.joint_open
        assert c.spin_until(lambda: c.joint("follower_left", "left_finger") > 0.05, 20.0,
                            lambda: c.single.publish(JointSingleCommand(name="gripper", cmd=opened)))

        elbow = c.joint("follower_right", "elbow")
        c.call(c.torque, TorqueEnable.Request(cmd_type="group", name="all", enable=False))
        assert c.spin_until(lambda: abs(c.joint("follower_right", "elbow") - elbow) > 0.05, 30.0), \
            "torque off did not let the right arm sag"
        c.call(c.reboot, Reboot.Request(cmd_type="group", name="all", enable=True))
        c.call(c.modes, OperatingModes.Request(cmd_type="single", name="gripper", mode="current_based_position",
                                               profile_type="velocity"))

        assert c.spin_until(lambda: len(c.images) > 0, 30.0), "no cam_high image"
        img = c.images[-1]
        assert (img.height, img.width, img.encoding, img.header.frame_id) == (24, 32, "rgb8", "cam_high")
        assert len(img.data) == 24 * 32 * 3 and len(set(img.data)) > 1
    finally:
        c.node.destroy_node()
        rclpy.shutdown(context=ctx)
        stop(proc)


def test_lock_stepped_sim_is_the_clock():
    proc = start_sim_node("publish_clock:=true", "real_time_factor:=2.0")
    ctx = rclpy.Context()
    rclpy.init(context=ctx)
    c = Client(ctx)
    clocks, stamps = [], []

    def seconds(t):
        return t.sec + t.nanosec * 1e-9

    c.node.create_subscription(Clock, "/clock", lambda m: clocks.append(seconds(m.clock)), 100)
    c.node.create_subscription(JointState, "/follower_left/joint_states",
                               lambda m: stamps.append(seconds(m.header.stamp)), 100)
    try:
        assert c.spin_until(lambda: len(stamps) > 20 and len(clocks) > 20, 60.0), "no /clock from the sim"
        for series in (clocks, stamps):
            steps = [round(b / 0.02) - round(a / 0.02) for a, b in zip(series, series[1:])]
            assert all(abs(t - round(t / 0.02) * 0.02) < 1e-6 for t in series), "sim time is whole 20 ms steps"
            assert min(steps) >= 1, "sim time never stands still or goes back"
        assert {round(t, 3) for t in stamps} & {round(t, 3) for t in clocks}, "joint_states stamped with /clock"
    finally:
        c.node.destroy_node()
        rclpy.shutdown(context=ctx)
        stop(proc)
