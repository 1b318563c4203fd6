"""Move the stack on the real ALOHA: follower arms (Interbotix xs_sdk), cameras, Diffusion Policy + refiner.

    ros2 launch launch/move_stack.launch.py refiner:=diffog checkpoint:=checkpoints/move_stack_image_diffog.ckpt
Parameters: config/move_stack.yaml. Without ros2 launch: python -m diffog.deploy.graph_runner move_stack
"""
import pathlib

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

HERE = pathlib.Path(__file__).resolve().parent
PARAMS = str(HERE / "config" / "move_stack.yaml")
VX300S = PathJoinSubstitution([FindPackageShare("interbotix_xsarm_control"), "config", "vx300s.yaml"])


def follower(side: str) -> Node:
    modes = str(HERE / "config" / "interbotix" / f"follower_{side}_modes.yaml")
    return Node(package="interbotix_xs_sdk", executable="xs_sdk", name="xs_sdk", namespace=f"follower_{side}",
                parameters=[PARAMS, {"motor_configs": VX300S, "mode_configs": modes}])


def generate_launch_description() -> LaunchDescription:
    return LaunchDescription([
        DeclareLaunchArgument("refiner", default_value="diffog", description="none | clip | penalty | diffog"),
        DeclareLaunchArgument("checkpoint", default_value="checkpoints/move_stack_image_diffog.ckpt"),
        follower("left"),
        follower("right"),
        Node(package="diffog_policy", executable="camera_node", name="cam_high", parameters=[PARAMS]),
        Node(package="diffog_policy", executable="camera_node", name="cam_left_wrist", parameters=[PARAMS]),
        Node(package="diffog_policy", executable="policy_node", name="policy",
             parameters=[PARAMS, {"refiner": LaunchConfiguration("refiner"),
                                  "checkpoint": LaunchConfiguration("checkpoint")}]),
    ])
