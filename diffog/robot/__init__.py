"""The robot itself, independent of any policy: its description (aloha.yaml as typed, validated objects:
joints, limits, gripper calibration, ROS interface names), the safety filter every command passes, and input
checks. May import: nothing else from diffog.
"""
from diffog.robot.description import (ROBOT_DESCRIPTION, DescriptionError, GripperConstants,
                                      GripperMapping, JointLimit, RobotDescription, load_robot_description)
from diffog.robot.safety import JointLimits, SafetyFilter, UnsafeCommand
from diffog.robot.validation import finite_vector

__all__ = ["ROBOT_DESCRIPTION", "DescriptionError", "GripperConstants", "GripperMapping", "JointLimit",
           "JointLimits", "RobotDescription", "SafetyFilter", "UnsafeCommand", "finite_vector",
           "load_robot_description"]
