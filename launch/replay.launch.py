"""Open-loop replay: a recorded bag's observations (with /clock) into the policy node; its output to a new bag.

    ros2 launch launch/replay.launch.py bag:=runs/bag output:=runs/replayed checkpoint:=checkpoints/...pt
Parameters: config/replay.yaml. Without ros2 launch, and with the comparison to the recorded commands:
    python -m diffog.deploy.replay runs/bag --checkpoint checkpoints/...pt
"""
import pathlib

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, Shutdown
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

PARAMS = str(pathlib.Path(__file__).resolve().parent / "config" / "replay.yaml")


def generate_launch_description() -> LaunchDescription:
    return LaunchDescription([
        DeclareLaunchArgument("bag", default_value=""),
        DeclareLaunchArgument("output", default_value=""),
        DeclareLaunchArgument("checkpoint", default_value="checkpoints/move_stack_image_diffog.ckpt"),
        DeclareLaunchArgument("refiner", default_value="diffog"),
        Node(package="diffog_policy", executable="policy_node", name="policy",
             parameters=[PARAMS, {"checkpoint": LaunchConfiguration("checkpoint"),
                                  "refiner": LaunchConfiguration("refiner")}]),
        Node(package="diffog_policy", executable="bag_recorder", name="bag_recorder",
             parameters=[PARAMS, {"output": LaunchConfiguration("output")}]),
        Node(package="diffog_policy", executable="bag_player", name="bag_player", on_exit=Shutdown(),
             parameters=[PARAMS, {"bag": LaunchConfiguration("bag")}]),
    ])
