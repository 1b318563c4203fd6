"""The robot description (aloha.yaml) as typed, validated objects: read once where it enters, then passed down.

OmegaConf checks each field's type against the dataclasses (a limit left blank in the YAML, a string where a
number belongs, an unknown or missing key all raise), and each dataclass checks its own values (finite, lower <
upper, positive rates). The installed copy of aloha.yaml lives in aloha_bringup.
"""
from __future__ import annotations

import math
import os
import pathlib
from dataclasses import dataclass, field

from omegaconf import MISSING, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from diffog import REPO_ROOT

ROBOT_DESCRIPTION = REPO_ROOT / "ros2_ws" / "src" / "aloha_bringup" / "config" / "aloha.yaml"


class DescriptionError(ValueError):
    """A robot description with a missing, mistyped or impossible value."""


def _finite(where: str, **values: float) -> None:
    for name, v in values.items():
        if not math.isfinite(v):
            raise DescriptionError(f"{where}.{name} must be finite, got {v}")


@dataclass
class JointLimit:
    """Position bounds and velocity limit of one joint (rad, rad/s; the gripper in normalized units)."""

    lower: float = MISSING
    upper: float = MISSING
    velocity: float = MISSING

    def __post_init__(self) -> None:
        _finite("joint_limits", lower=self.lower, upper=self.upper, velocity=self.velocity)
        if not self.lower < self.upper or not self.velocity > 0:
            raise DescriptionError(f"joint limit needs lower < upper and velocity > 0, got {self}")


@dataclass
class GripperConstants:
    """ALOHA's gripper normalization (tonyzhaozh/aloha constants.py): 0 = closed, 1 = open, from the gripper
    joint angle (rad) or the finger position (m)."""

    position_open: float = MISSING   # finger position (m)
    position_close: float = MISSING
    joint_open: float = MISSING      # gripper joint (rad)
    joint_close: float = MISSING

    def __post_init__(self) -> None:
        _finite("gripper", **{k: getattr(self, k) for k in ("position_open", "position_close", "joint_open",
                                                              "joint_close")})
        if self.position_open == self.position_close or self.joint_open == self.joint_close:
            raise DescriptionError(f"gripper open and close values must differ, got {self}")

    def joint_to_normalized(self, joint):
        return (joint - self.joint_close) / (self.joint_open - self.joint_close)

    def normalized_to_joint(self, value):
        return value * (self.joint_open - self.joint_close) + self.joint_close

    def position_to_normalized(self, position):
        return (position - self.position_close) / (self.position_open - self.position_close)

    def velocity_to_normalized(self, finger_velocity):
        return finger_velocity / (self.position_open - self.position_close)

    def joint_velocity_to_normalized(self, joint_velocity):
        return joint_velocity / (self.joint_open - self.joint_close)


@dataclass
class GripperMapping:
    leader: GripperConstants = MISSING
    follower: GripperConstants = MISSING

    def leader_to_follower_joint(self, leader_joint: float) -> float:
        """ALOHA's MASTER2PUPPET_JOINT_FN: the follower gripper joint target for a leader gripper angle."""
        return float(self.follower.normalized_to_joint(self.leader.joint_to_normalized(leader_joint)))


@dataclass
class RosInterface:
    """The real robot's ROS interface (Interbotix xs_sdk per arm, cameras); `{arm_ns}` / `{camera}` placeholders."""

    followers: list[str] = MISSING
    leaders: list[str] = MISSING
    robot_models: dict[str, str] = MISSING
    joint_states: str = MISSING
    arm_group_command: str = MISSING
    gripper_command: str = MISSING
    torque_enable: str = MISSING
    reboot_motors: str = MISSING
    set_operating_modes: str = MISSING
    camera_image: str = MISSING

    def topic(self, key: str, **fmt: str) -> str:
        return getattr(self, key).format(**fmt)


@dataclass
class TeleopSettings:
    start_gesture_close_threshold: float = MISSING  # rad: both leader gripper joints below this start a demo
    max_step_scale: float = MISSING   # follower step per tick <= scale x velocity limit x dt
    move_time_s: float = MISSING      # time to bring every arm to start_pose before teleoperating

    def __post_init__(self) -> None:
        _finite("teleop", start_gesture_close_threshold=self.start_gesture_close_threshold,
                max_step_scale=self.max_step_scale, move_time_s=self.move_time_s)
        if not self.max_step_scale > 0 or not self.move_time_s > 0:
            raise DescriptionError(f"teleop max_step_scale and move_time_s must be positive, got {self}")


@dataclass
class RobotDescription:
    robot: str = MISSING
    arms: list[str] = MISSING
    arm_joints: list[str] = MISSING
    gripper_joint: str = MISSING
    control_rate_hz: float = MISSING
    joint_limits: dict[str, JointLimit] = MISSING
    motor_ids: dict[str, int] = MISSING
    gripper: GripperMapping = MISSING
    start_pose: list[float] = MISSING  # per arm: 6 joints then the two finger positions (m)
    sleep_pose: list[float] = MISSING
    ports: dict[str, str] = field(default_factory=dict)
    baudrate: int = 1_000_000
    cameras: list[str] = field(default_factory=list)
    ros_interface: RosInterface = MISSING
    teleop: TeleopSettings = MISSING

    def __post_init__(self) -> None:
        if not (math.isfinite(self.control_rate_hz) and self.control_rate_hz > 0):
            raise DescriptionError(f"control_rate_hz must be positive and finite, got {self.control_rate_hz}")
        if missing := [j for j in self.joint_names_per_arm if j not in self.joint_limits]:
            raise DescriptionError(f"joint_limits lacks {missing}")
        for name in ("start_pose", "sleep_pose"):
            pose = getattr(self, name)
            if len(pose) != len(self.arm_joints) + 2 or not all(map(math.isfinite, pose)):
                raise DescriptionError(f"{name} needs {len(self.arm_joints)} joints + 2 finite finger positions")

    @property
    def joint_names_per_arm(self) -> list[str]:
        return [*self.arm_joints, self.gripper_joint]

    @property
    def action_joint_names(self) -> list[str]:
        """The action / qpos names in ALOHA order: left_waist .. left_gripper, right_waist .. right_gripper."""
        return [f"{arm}_{j}" for arm in self.arms for j in self.joint_names_per_arm]

    @property
    def action_dim(self) -> int:
        return len(self.arms) * len(self.joint_names_per_arm)

    def policy_joint_names(self, arms: list[str] | None = None) -> list[str]:
        """The action / qpos names of the arms a policy commands (all arms by default), in ALOHA order; a
        one-arm policy (move_stack, paper Table VII) leaves the other arm holding its pose."""
        arms = list(self.arms) if arms is None else list(arms)
        if unknown := [a for a in arms if a not in self.arms]:
            raise ValueError(f"unknown arms {unknown}; the robot has {self.arms}")
        return [n for n in self.action_joint_names if n.split("_", 1)[0] in arms]

    def to_yaml(self) -> str:
        """This description as aloha.yaml text (e.g. a modified copy handed to a node as its parameter)."""
        return OmegaConf.to_yaml(OmegaConf.structured(self))

    def joint_indices(self, names: list[str]) -> list[int]:
        """Where `names` sit in the robot's qpos / action vector; they must keep the robot's order."""
        robot = self.action_joint_names
        if unknown := [n for n in names if n not in robot]:
            raise ValueError(f"unknown joints {unknown}; the robot has {robot}")
        index = [robot.index(n) for n in names]
        if index != sorted(index) or len(set(index)) != len(index):
            raise ValueError(f"joints {names} are not in the robot's order {robot}")
        return index


def parse_structured(schema: type, data) -> object:
    """`data` (a dict or OmegaConf node) checked against the dataclass `schema` and built into it: wrong types,
    unknown and missing keys raise OmegaConf errors, impossible values the dataclasses' own errors."""
    return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(schema), data))


def load_robot_description(path: str | os.PathLike | None = None) -> RobotDescription:
    """Read and validate a robot description YAML (default: the shipped aloha.yaml); DescriptionError names
    the bad field."""
    path = pathlib.Path(path) if path else ROBOT_DESCRIPTION
    try:
        return parse_structured(RobotDescription, OmegaConf.load(path))
    except OmegaConfBaseException as e:
        raise DescriptionError(f"{path}: {e}".replace("\n", "; ")) from e
    except (OSError, DescriptionError) as e:
        raise DescriptionError(f"{path}: {e}") from e
