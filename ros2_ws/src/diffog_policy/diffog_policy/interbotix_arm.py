"""The Interbotix backend of diffog.hardware's robot interface: one arm through its xs_sdk node's topics and
services (names from aloha.yaml `ros_interface`; the sim node serves the same ones).

Reads come from the newest /<arm>/joint_states message; commands go to commands/joint_group (group "arm") and
commands/joint_single (joint "gripper"); torque, reboot and operating modes are the xs_sdk services. The node
given must be spun by an executor on another thread (service replies and joint states arrive through it).
It needs only the message definitions; where interbotix_xs_modules is installed, interbotix_library_arm.py drives
the same interface through that library instead (make_xs_arms picks one).
"""
from __future__ import annotations

import time
from collections.abc import Sequence

from interbotix_xs_msgs.msg import JointGroupCommand, JointSingleCommand
from interbotix_xs_msgs.srv import OperatingModes, Reboot, TorqueEnable
from rclpy.node import Node
from sensor_msgs.msg import JointState

from diffog.hardware.robot import Arm, ArmState, RobotError, arm_state_from_joint_state, checked_positions
from diffog.robot.description import RosInterface
from diffog_policy.node_common import call_service, stamp_to_s


ARM_TOPICS = ("joint_states", "arm_group_command", "gripper_command", "torque_enable", "reboot_motors",
              "set_operating_modes")


def arm_topics(interface: RosInterface, arm_ns: str) -> dict[str, str]:
    """One arm's xs_sdk topic and service names from aloha.yaml `ros_interface`."""
    return {k: interface.topic(k, arm_ns=arm_ns) for k in ARM_TOPICS}


def xs_cmd_type(arm: Arm, target: str) -> str:
    """xs_sdk's cmd_type for a target: "group" for "all" / "arm", "single" for a joint; ValueError otherwise."""
    arm.joints_of(target)
    return "group" if target in ("all", "arm") else "single"


class InterbotixArm(Arm):
    def __init__(self, node: Node, arm_ns: str, interface: dict, *, max_age_s: float = 0.25,
                 service_timeout_s: float = 5.0):
        super().__init__(arm_ns)
        self.node, self.max_age_s, self.service_timeout_s = node, max_age_s, service_timeout_s
        topic = arm_topics(interface, arm_ns)
        self._latest: tuple[ArmState, float] | None = None  # the newest valid state, when it arrived (monotonic)
        node.create_subscription(JointState, topic["joint_states"], self._on_joint_states, 10)
        self._arm_pub = node.create_publisher(JointGroupCommand, topic["arm_group_command"], 10)
        self._gripper_pub = node.create_publisher(JointSingleCommand, topic["gripper_command"], 10)
        self._torque = node.create_client(TorqueEnable, topic["torque_enable"])
        self._reboot = node.create_client(Reboot, topic["reboot_motors"])
        self._modes = node.create_client(OperatingModes, topic["set_operating_modes"])
        self._joint_states_topic = topic["joint_states"]

    def _on_joint_states(self, msg: JointState) -> None:
        """Parsed on arrival: a malformed message is dropped (logged, throttled) and does not count as fresh, so
        without a good one the next read() raises RobotError and the caller holds."""
        try:
            state = arm_state_from_joint_state(msg.name, msg.position, msg.velocity, msg.effort,
                                               stamp_to_s(msg.header.stamp))
        except ValueError as e:
            self.node.get_logger().error(f"{self.name}: dropped joint_states: {e}", throttle_duration_sec=2.0)
            return
        self._latest = (state, time.monotonic())

    def read(self) -> ArmState:
        latest = self._latest
        if latest is None or time.monotonic() - latest[1] > self.max_age_s:
            raise RobotError(f"{self.name}: no joint_states on {self._joint_states_topic} in the last "
                             f"{self.max_age_s} s")
        return latest[0]

    def command_arm(self, positions: Sequence[float]) -> None:
        p = checked_positions(self.name, positions, len(self.ARM_JOINTS))
        self._arm_pub.publish(JointGroupCommand(name="arm", cmd=[float(x) for x in p]))

    def command_gripper(self, position: float) -> None:
        rad = checked_positions(self.name, [position], 1)[0]
        self._gripper_pub.publish(JointSingleCommand(name=self.GRIPPER, cmd=float(rad)))

    def _call(self, client, request, what: str):
        try:
            return call_service(client, request, self.service_timeout_s)
        except TimeoutError as e:
            raise RobotError(f"{self.name}: {e} ({what})") from e

    def set_torque(self, enable: bool, target: str = "all") -> None:
        self._call(self._torque,
                   TorqueEnable.Request(cmd_type=xs_cmd_type(self, target), name=target, enable=enable),
                   f"torque {'on' if enable else 'off'} {target}")

    def set_operating_mode(self, mode: str, target: str = "all") -> None:
        self._call(self._modes, OperatingModes.Request(cmd_type=xs_cmd_type(self, target), name=target, mode=mode,
                                                       profile_type="velocity"), f"mode {mode} for {target}")

    def reboot(self, target: str = "all", enable_torque: bool = False) -> None:
        self._call(self._reboot, Reboot.Request(cmd_type=xs_cmd_type(self, target), name=target, enable=enable_torque),
                   f"reboot {target}")
