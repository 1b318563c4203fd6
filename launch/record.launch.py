"""Teleoperated recording on the real ALOHA: leader -> follower teleop on all four buses, four cameras, recorder.

    ros2 launch launch/record.launch.py dataset_dir:=data/recorded task_name:=move_stack
Parameters: config/record.yaml. Without ros2 launch: python -m diffog.deploy.graph_runner record
"""
import pathlib

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

PARAMS = str(pathlib.Path(__file__).resolve().parent / "config" / "record.yaml")


def generate_launch_description() -> LaunchDescription:
    return LaunchDescription([
        DeclareLaunchArgument("dataset_dir", default_value="data/recorded"),
        DeclareLaunchArgument("task_name", default_value="move_stack"),
        Node(package="diffog_policy", executable="teleop_node", name="teleop", parameters=[PARAMS]),
        *(Node(package="diffog_policy", executable="camera_node", name=cam, parameters=[PARAMS])
          for cam in ("cam_high", "cam_low", "cam_left_wrist", "cam_right_wrist")),
        Node(package="diffog_policy", executable="recorder_node", name="recorder",
             parameters=[PARAMS, {"dataset_dir": LaunchConfiguration("dataset_dir"),
                                  "task_name": LaunchConfiguration("task_name")}]),
    ])
