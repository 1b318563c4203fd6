"""Arrange the desk on the real ALOHA: follower arms (Interbotix xs_sdk), three cameras, Diffusion Policy + refiner.

    ros2 launch launch/arrange_desk.launch.py refiner:=diffog checkpoint:=checkpoints/arrange_desk_image_diffog.ckpt
Parameters: config/arrange_desk.yaml. Without ros2 launch: python -m diffog.deploy.graph_runner arrange_desk
"""
import pathlib

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

HERE = pathlib.Path(__file__).resolve().parent
PARAMS = str(HERE / "config" / "arrange_desk.yaml")
VX300S = PathJoinSubstitution([FindPackageShare("interbotix_xsarm_control"), "config", "vx300s.yaml"])


def follower(side: str) -> Node:
    modes = str(HERE / "config" / "interbotix" / f"follower_{side}_modes.yaml")
    return Node(package="interbotix_xs_sdk", executable="xs_sdk", name="xs_sdk", namespace=f"follower_{side}",
                parameters=[PARAMS, {"motor_configs": VX300S, "mode_configs": modes}])


def generate_launch_description() -> LaunchDescription:
    return LaunchDescription([
        DeclareLaunchArgument("refiner", default_value="diffog", description="none | clip | penalty | diffog"),
        DeclareLaunchArgument("checkpoint", default_value="checkpoints/arrange_desk_image_diffog.ckpt"),
        follower("left"),
        follower("right"),
        *(Node(package="diffog_policy", executable="camera_node", name=cam, parameters=[PARAMS])
          for cam in ("cam_high", "cam_left_wrist", "cam_right_wrist")),
        Node(package="diffog_policy", executable="policy_node", name="policy",
             parameters=[PARAMS, {"refiner": LaunchConfiguration("refiner"),
                                  "checkpoint": LaunchConfiguration("checkpoint")}]),
    ])
