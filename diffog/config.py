"""Paths to the project's shared configuration, usable without ROS (the installed copy lives in aloha_bringup)."""
import pathlib

import yaml

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
ROBOT_DESCRIPTION = REPO_ROOT / "ros2_ws" / "src" / "aloha_bringup" / "config" / "aloha.yaml"


def load_robot_description(path: str | pathlib.Path = ROBOT_DESCRIPTION) -> dict:
    """The ALOHA robot description (joint names, limits, motor ids, gripper constants, poses) as a dict."""
    with open(path) as f:
        return yaml.safe_load(f)


def action_joint_names(description: dict | None = None) -> list[str]:
    """The 14 action / qpos names in ALOHA order: left_waist .. left_gripper, right_waist .. right_gripper."""
    d = description or load_robot_description()
    return [f"{arm}_{j}" for arm in d["arms"] for j in [*d["arm_joints"], d["gripper_joint"]]]


def policy_joint_names(arms: list[str] | None = None, description: dict | None = None) -> list[str]:
    """The action / qpos names of the arms a policy commands (all arms by default), in ALOHA order; a one-arm
    policy (move_stack, paper Table VII) leaves the other arm holding its pose."""
    d = description or load_robot_description()
    arms = list(d["arms"]) if arms is None else list(arms)
    if unknown := [a for a in arms if a not in d["arms"]]:
        raise ValueError(f"unknown arms {unknown}; the robot has {d['arms']}")
    return [n for n in action_joint_names(d) if n.split("_", 1)[0] in arms]


def joint_indices(names: list[str], description: dict | None = None) -> list[int]:
    """Where `names` sit in the robot's 14-dim qpos / action vector; they must keep the robot's order."""
    robot = action_joint_names(description)
    if unknown := [n for n in names if n not in robot]:
        raise ValueError(f"unknown joints {unknown}; the robot has {robot}")
    index = [robot.index(n) for n in names]
    if index != sorted(index) or len(set(index)) != len(index):
        raise ValueError(f"joints {names} are not in the robot's order {robot}")
    return index
