"""The simulated ALOHA (diffog.sim) behind the robot interface: two follower arms sharing one MuJoCo env.

Arm commands set each arm's part of the env's 14-dim action; `SimRobot.step()` advances the sim by one `dt`
with the latest targets (whoever owns the control loop calls it). The sim is position-controlled only.
"""
from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from diffog.robot import RobotDescription, load_robot_description
from diffog.hardware.robot import Arm, ArmState, RobotError, checked_positions

POSITION_MODES = ("position", "current_based_position")


class SimRobot:
    """`env` follows diffog.sim's contract (step / qpos / qvel / effort / set_torque / hold_action)."""

    def __init__(self, env, description: RobotDescription | None = None):
        d = description or load_robot_description()
        self.env = env
        self.gripper = d.gripper.follower
        self.target = np.asarray(env.hold_action(), dtype=np.float64).copy()
        self.arms = {side: SimArm(self, side, k) for k, side in enumerate(d.arms)}

    def step(self) -> None:
        self.env.step(self.target)


class SimArm(Arm):
    def __init__(self, robot: SimRobot, side: str, index: int):
        super().__init__(f"follower_{side}")
        self.robot, self.side = robot, side
        self._slice = slice(7 * index, 7 * index + 7)

    def read(self) -> ArmState:
        env, g = self.robot.env, self.robot.gripper
        q, v, e = (np.asarray(x, dtype=np.float64)[self._slice] for x in (env.qpos(), env.qvel(), env.effort()))
        span = g.position_open - g.position_close
        return ArmState(position=np.array([*q[:6], g.normalized_to_joint(q[6])]),
                        velocity=np.array([*v[:6], v[6] * (g.joint_open - g.joint_close)]),
                        effort=e.copy(), stamp=time.time(),
                        finger_position=g.position_close + q[6] * span, finger_velocity=v[6] * span)

    def command_arm(self, positions: Sequence[float]) -> None:
        p = checked_positions(self.name, positions, 6)
        self.robot.target[self._slice.start:self._slice.start + 6] = p

    def command_gripper(self, position: float) -> None:
        rad = checked_positions(self.name, [position], 1)[0]
        self.robot.target[self._slice.stop - 1] = self.robot.gripper.joint_to_normalized(rad)

    def set_torque(self, enable: bool, target: str = "all") -> None:
        if self.joints_of(target) == (self.GRIPPER,):
            raise RobotError(f"{self.name}: the sim switches torque per arm, not for the gripper alone")
        self.robot.env.set_torque(self.side, enable)

    def set_operating_mode(self, mode: str, target: str = "all") -> None:
        self.joints_of(target)
        if mode not in POSITION_MODES:
            raise RobotError(f"{self.name}: the sim is position-controlled; mode {mode!r} is not available")

    def reboot(self, target: str = "all", enable_torque: bool = False) -> None:
        self.joints_of(target)
        if enable_torque and target != self.GRIPPER:
            self.set_torque(True, target)
