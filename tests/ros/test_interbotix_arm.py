"""The Interbotix backend against a stand-in xs_sdk node (its topics and services) over DDS in one process."""
import threading
import time

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy", reason="run through `make test` (needs env.sh)")
from interbotix_xs_msgs.msg import JointGroupCommand, JointSingleCommand  # noqa: E402
from interbotix_xs_msgs.srv import OperatingModes, Reboot, TorqueEnable  # noqa: E402
from rclpy.executors import MultiThreadedExecutor  # noqa: E402
from sensor_msgs.msg import JointState  # noqa: E402

from diffog.robot import load_robot_description  # noqa: E402
from diffog.hardware.robot import RobotError  # noqa: E402
from diffog_policy.interbotix_arm import InterbotixArm  # noqa: E402

pytestmark = pytest.mark.ros
NAMES = ["waist", "shoulder", "elbow", "forearm_roll", "wrist_angle", "wrist_rotate", "gripper", "left_finger",
         "right_finger"]


class FakeXsSdk:
    """Publishes joint_states for /follower_left and records what arrives on its command topics and services."""

    def __init__(self, node):
        self.node, self.commands, self.requests = node, [], []
        ns = "/follower_left"
        self.pub = node.create_publisher(JointState, f"{ns}/joint_states", 10)
        node.create_subscription(JointGroupCommand, f"{ns}/commands/joint_group", self.commands.append, 10)
        node.create_subscription(JointSingleCommand, f"{ns}/commands/joint_single", self.commands.append, 10)
        for srv, name in ((TorqueEnable, "torque_enable"), (Reboot, "reboot_motors"),
                          (OperatingModes, "set_operating_modes")):
            node.create_service(srv, f"{ns}/{name}", self._answer)
        node.create_timer(0.02, self.publish)

    def _answer(self, request, response):
        self.requests.append(request)
        return response

    def publish(self):
        msg = JointState(name=NAMES, position=[0.1, -0.9, 1.1, 0.0, -0.3, 0.0, 0.5, 0.03822, -0.03822],
                         velocity=[0.0] * 9, effort=[12.0] * 9)
        msg.header.stamp = self.node.get_clock().now().to_msg()
        self.pub.publish(msg)


@pytest.fixture
def graph():
    ctx = rclpy.Context()
    rclpy.init(context=ctx)
    sdk_node = rclpy.create_node("fake_xs_sdk", context=ctx)
    arm_node = rclpy.create_node("arm_client", context=ctx)
    fake = FakeXsSdk(sdk_node)
    executor = MultiThreadedExecutor(num_threads=2, context=ctx)
    executor.add_node(sdk_node)
    executor.add_node(arm_node)
    spin = threading.Thread(target=executor.spin, daemon=True)
    spin.start()
    arm = InterbotixArm(arm_node, "follower_left", load_robot_description().ros_interface, service_timeout_s=10.0)
    yield fake, arm
    executor.shutdown()
    rclpy.shutdown(context=ctx)
    spin.join(timeout=10)


def wait_for(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def readable(arm):
    try:
        return arm.read() is not None
    except RobotError:
        return False


def test_reads_commands_and_services_go_through_xs_sdk_interface(graph):
    fake, arm = graph
    wait_for(lambda: readable(arm))
    state = arm.read()
    assert state.position.tolist() == pytest.approx([0.1, -0.9, 1.1, 0.0, -0.3, 0.0, 0.5])
    assert state.finger_position == pytest.approx(0.03822) and state.effort[0] == 12.0
    def sent_both():  # publish until the stand-in has matched the command topics and heard both
        arm.command_arm([0.2, -0.8, 1.0, 0.0, -0.2, 0.1])
        arm.command_gripper(-0.6)
        return {type(c) for c in fake.commands} == {JointGroupCommand, JointSingleCommand}
    wait_for(sent_both)
    group = next(c for c in fake.commands if isinstance(c, JointGroupCommand))
    single = next(c for c in fake.commands if isinstance(c, JointSingleCommand))
    assert group.name == "arm" and list(group.cmd) == pytest.approx([0.2, -0.8, 1.0, 0.0, -0.2, 0.1])
    assert single.name == "gripper" and single.cmd == pytest.approx(-0.6)
    arm.set_torque(False, "gripper")
    arm.set_operating_mode("current_based_position", "gripper")
    arm.reboot("all", enable_torque=True)
    torque, mode, reboot = fake.requests
    assert (torque.cmd_type, torque.name, torque.enable) == ("single", "gripper", False)
    assert (mode.cmd_type, mode.mode) == ("single", "current_based_position")
    assert (reboot.cmd_type, reboot.name, reboot.enable) == ("group", "all", True)
    with pytest.raises(ValueError, match="non-finite"):
        arm.command_arm([np.nan] * 6)
    with pytest.raises(ValueError, match="unknown joint"):
        arm.set_torque(True, "elbow_shadow")


def test_silent_arm_is_a_clear_error():
    ctx = rclpy.Context()
    rclpy.init(context=ctx)
    node = rclpy.create_node("lonely", context=ctx)
    try:
        arm = InterbotixArm(node, "follower_right", load_robot_description().ros_interface, service_timeout_s=0.5)
        with pytest.raises(RobotError, match="no joint_states on /follower_right/joint_states"):
            arm.read()
        with pytest.raises(RobotError, match="torque_enable is not available"):
            arm.set_torque(True)
    finally:
        node.destroy_node()
        rclpy.shutdown(context=ctx)
