"""ALOHA's gripper normalization (tonyzhaozh/aloha constants.py): 0 = closed, 1 = open, for leader and follower,
from the gripper joint angle (rad) or the finger position (m). Constants come from aloha.yaml `gripper`."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from diffog.config import load_robot_description


@dataclass(frozen=True)
class GripperConstants:
    position_open: float   # finger position (m)
    position_close: float
    joint_open: float      # gripper joint (rad)
    joint_close: float

    def joint_to_normalized(self, joint: float | np.ndarray) -> float | np.ndarray:
        return (joint - self.joint_close) / (self.joint_open - self.joint_close)

    def normalized_to_joint(self, value: float | np.ndarray) -> float | np.ndarray:
        return value * (self.joint_open - self.joint_close) + self.joint_close

    def position_to_normalized(self, position: float | np.ndarray) -> float | np.ndarray:
        return (position - self.position_close) / (self.position_open - self.position_close)

    def velocity_to_normalized(self, finger_velocity: float | np.ndarray) -> float | np.ndarray:
        return finger_velocity / (self.position_open - self.position_close)

    def joint_velocity_to_normalized(self, joint_velocity: float | np.ndarray) -> float | np.ndarray:
        return joint_velocity / (self.joint_open - self.joint_close)


@dataclass(frozen=True)
class GripperMapping:
    leader: GripperConstants
    follower: GripperConstants

    @classmethod
    def from_description(cls, description: dict | None = None) -> GripperMapping:
        g = (description or load_robot_description())["gripper"]
        return cls(GripperConstants(**g["leader"]), GripperConstants(**g["follower"]))

    def leader_to_follower_joint(self, leader_joint: float) -> float:
        """ALOHA's MASTER2PUPPET_JOINT_FN: the follower gripper joint target for a leader gripper angle."""
        return float(self.follower.normalized_to_joint(self.leader.joint_to_normalized(leader_joint)))
