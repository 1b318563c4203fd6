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
