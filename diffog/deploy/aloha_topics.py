"""The ALOHA follower's ROS interface as plain data: topic names from aloha.yaml, qpos from an Interbotix
joint_states message, arm/gripper commands from a 14-dim action, images from sensor_msgs/Image fields."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from diffog.robot import GripperConstants, RobotDescription, load_robot_description
from diffog.hardware.robot import arm_state_from_joint_state, to_aloha


@dataclass(frozen=True)
class AlohaTopics:
    description: RobotDescription

    @classmethod
    def load(cls, description: RobotDescription | None = None) -> "AlohaTopics":
        return cls(description or load_robot_description())

    @property
    def gripper(self) -> GripperConstants:
        return self.description.gripper.follower

    @property
    def followers(self) -> list[str]:
        return list(self.description.ros_interface.followers)

    @property
    def arm_joints(self) -> list[str]:
        return list(self.description.arm_joints)

    def topic(self, key: str, **fmt: str) -> str:
        return self.description.ros_interface.topic(key, **fmt)

    def qpos_slices(self) -> dict[str, slice]:
        """Each follower's 7 entries of qpos (6 arm joints, normalized gripper), in ALOHA order."""
        n = len(self.arm_joints) + 1
        return {f: slice(i * n, (i + 1) * n) for i, f in enumerate(self.followers)}

    def arm_qpos(self, names: Sequence[str], positions: Sequence[float], velocities: Sequence[float] = (),
                 efforts: Sequence[float] = ()) -> np.ndarray:
        """One follower's 7 qpos entries from its joint_states, as the recorder reads them (hardware.robot).
        ValueError for a malformed message (mismatched lengths, unknown / missing / repeated joints, non-finite
        values in any field): the caller drops it."""
        state = arm_state_from_joint_state(names, positions, velocities, efforts, 0.0)
        return to_aloha({"arm": state}, self.gripper)[0]

    def arm_command(self, action: np.ndarray) -> tuple[list[float], float]:
        """(6 arm joint goals, gripper joint goal in rad) for one follower from its 7 action entries."""
        return [float(x) for x in action[:6]], float(self.gripper.normalized_to_joint(float(action[6])))


def image_from_msg_fields(encoding: str, height: int, width: int, step: int, data: bytes) -> np.ndarray:
    """An HxWx3 RGB uint8 array from sensor_msgs/Image fields (rgb8 or bgr8; what ALOHA's cameras publish)."""
    if encoding not in ("rgb8", "bgr8"):
        raise ValueError(f"unsupported image encoding {encoding!r}; expected rgb8 or bgr8")
    if height <= 0 or width <= 0:
        raise ValueError(f"empty image ({height}x{width})")
    if step < 3 * width or len(data) < step * height:
        raise ValueError(f"image buffer of {len(data)} bytes (step {step}) is too small for {height}x{width}x3")
    rows = np.frombuffer(data, dtype=np.uint8, count=step * height).reshape(height, step)
    img = rows[:, : 3 * width].reshape(height, width, 3)
    return np.ascontiguousarray(img[..., ::-1] if encoding == "bgr8" else img)
