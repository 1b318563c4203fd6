"""The Interbotix backend through Interbotix's own Python API (interbotix_xs_modules), used when it is importable;
else the xs_sdk-topics backend (interbotix_arm.py). Both speak the same xs_sdk interface behind diffog.hardware's
`Arm`; `make_xs_arms` picks one per process and logs which.

The library's first ROS 2 core (xs_robot/core.py, 2022) subclassed Node and called rclpy.init() per arm, so it could
not share a process; since the 2024 API (interbotix_ros_toolboxes interbotix_common_modules/common_robot/robot.py;
core.py, arm.py and gravity_compensation.py take `node=`) it can, and only that API has common_robot, so importing
it is the version check. Every arm is built on one InterbotixRobotNode, then
`robot_startup(node)` spins it on the library's own thread, in the order ALOHA's ROS 2 code uses
(Interbotix/aloha scripts/dual_side_teleop.py main, real_env.py RealEnv.__init__). Before startup the library spins
that node itself (construction waits for services and joint_states), so it gets a node of its own: handing it ours,
which our executor spins, would let rclpy move it between executors. The library's service calls return nothing, so
a refused torque / mode / reboot request is not reported on this path (the topics path raises RobotError).
"""
from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

from rclpy.node import Node

from diffog.hardware.robot import Arm, ArmState, RobotError, arm_state_from_joint_state, checked_positions
from diffog.robot import RobotDescription
from diffog_policy.interbotix_arm import InterbotixArm, xs_cmd_type
from diffog_policy.node_common import clock_now_s, stamp_to_s

LIBRARY_NODE_NAME = "diffog_interbotix"


def library_import_error() -> ImportError | None:
    """None when interbotix_xs_modules' arm API (and interbotix_common_modules) import, else why not."""
    try:
        importlib.import_module("interbotix_xs_modules.xs_robot.arm")
        importlib.import_module("interbotix_common_modules.common_robot.robot")
    except ImportError as e:
        return e
    return None


class InterbotixLibraryArm(Arm):
    """One arm as an InterbotixManipulatorXS (`bot`) built on `node` (an InterbotixRobotNode the library spins)."""

    def __init__(self, bot: Any, node: Any, arm_ns: str, *, max_age_s: float = 0.25):
        super().__init__(arm_ns)
        self.bot, self.node, self.max_age_s = bot, node, max_age_s

    def read(self) -> ArmState:
        core = self.bot.core
        with core.js_mutex:  # core.py _joint_state_cb swaps joint_states under this lock
            msg = core.joint_states
        if msg is None:
            raise RobotError(f"{self.name}: no joint_states yet")
        stamp = stamp_to_s(msg.header.stamp)
        # the library keeps only the newest message, so its xs_sdk stamp (same clock on ALOHA's one PC) dates it
        age = clock_now_s(self.node) - stamp
        if abs(age) > self.max_age_s:
            raise RobotError(f"{self.name}: newest joint_states is {age:.3f} s old (limit {self.max_age_s} s)")
        try:
            return arm_state_from_joint_state(list(msg.name), list(msg.position), list(msg.velocity),
                                              list(msg.effort), stamp)
        except (KeyError, ValueError) as e:
            raise RobotError(f"{self.name}: {e}") from e

    def command_arm(self, positions: Sequence[float]) -> None:
        p = checked_positions(self.name, positions, len(self.ARM_JOINTS))
        # arm.py InterbotixArmXSInterface.set_joint_positions: publishes only within the joint and velocity limits
        # it read from get_robot_info, else returns False (ALOHA's RealEnv.step calls it the same way)
        if not self.bot.arm.set_joint_positions([float(x) for x in p], blocking=False):
            raise RobotError(f"{self.name}: interbotix_xs_modules refused {p.tolist()} (outside joint or velocity "
                             "limits); nothing sent")

    def command_gripper(self, position: float) -> None:
        rad = checked_positions(self.name, [position], 1)[0]
        # core.py robot_write_joint_command: JointSingleCommand on commands/joint_single, as ALOHA's set_gripper_pose
        self.bot.core.robot_write_joint_command(self.GRIPPER, float(rad))

    def set_torque(self, enable: bool, target: str = "all") -> None:
        self.bot.core.robot_torque_enable(xs_cmd_type(self, target), target, bool(enable))  # core.py

    def set_operating_mode(self, mode: str, target: str = "all") -> None:
        # core.py robot_set_operating_modes; its profile_type default "velocity" matches the topics backend
        self.bot.core.robot_set_operating_modes(xs_cmd_type(self, target), target, mode)

    def reboot(self, target: str = "all", enable_torque: bool = False) -> None:
        self.bot.core.robot_reboot_motors(xs_cmd_type(self, target), target, bool(enable_torque))  # core.py


def build_library_arms(models: dict[str, str], *, max_age_s: float = 0.25) -> dict[str, InterbotixLibraryArm]:
    """Every arm (name -> Interbotix robot_model) on one new InterbotixRobotNode, then robot_startup: ALOHA's order.
    Call once per process (the library keeps one global node and starts it once)."""
    from interbotix_common_modules.common_robot.robot import create_interbotix_global_node, robot_startup
    from interbotix_xs_modules.xs_robot.arm import InterbotixManipulatorXS

    node = create_interbotix_global_node(LIBRARY_NODE_NAME)
    bots = {}
    for name, model in models.items():
        try:
            bots[name] = InterbotixManipulatorXS(robot_model=model, group_name="arm", gripper_name=Arm.GRIPPER,
                                                 robot_name=name, node=node, iterative_update_fk=False)
        except SystemExit as e:  # core.py exits the process when the xs_sdk services are missing
            raise RobotError(f"{name}: interbotix_xs_modules found no xs_sdk services under /{name}") from e
    robot_startup(node)
    return {name: InterbotixLibraryArm(bot, node, name, max_age_s=max_age_s) for name, bot in bots.items()}


def robot_models(description: RobotDescription, names: Sequence[str]) -> dict[str, str]:
    """Interbotix robot_model per arm namespace from aloha.yaml `ros_interface.robot_models` (per role)."""
    ros = description.ros_interface
    role = {n: r for r in ("leaders", "followers") for n in getattr(ros, r)}
    if unknown := [n for n in names if n not in role]:
        raise ValueError(f"unknown arms {unknown}; aloha.yaml ros_interface has {ros.leaders + ros.followers}")
    return {n: ros.robot_models[role[n]] for n in names}


def make_xs_arms(node: Node, names: Sequence[str], description: dict) -> dict[str, Arm]:
    """The Interbotix-backed arms `names`: through interbotix_xs_modules when it imports, else the xs_sdk topics on
    `node`; logs which."""
    if not names:
        return {}
    log = node.get_logger()
    if (error := library_import_error()) is None:
        log.info(f"Interbotix backend for {list(names)}: interbotix_xs_modules (its node {LIBRARY_NODE_NAME!r})")
        return dict(build_library_arms(robot_models(description, names)))
    log.info(f"Interbotix backend for {list(names)}: xs_sdk topics (interbotix_xs_modules not importable: {error})")
    return {n: InterbotixArm(node, n, description.ros_interface) for n in names}
