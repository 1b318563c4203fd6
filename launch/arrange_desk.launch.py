"""Arrange the desk on the real ALOHA: follower arms as ALOHA's bringup starts them (Interbotix xs_sdk,
robot_state_publisher, a static transform each), three cameras, Diffusion Policy + refiner.

    ros2 launch aloha_bringup arrange_desk.launch.py refiner:=diffog \\
        checkpoint:=checkpoints/arrange_desk_image_diffog.ckpt
Nodes and arguments: graphs.yaml `arrange_desk`; parameters: config/arrange_desk.yaml (both installed with
aloha_bringup, found with FindPackageShare like graph_launch.py).
Without ros2 launch: python -m diffog.rostools.graph_runner arrange_desk
"""
from launch import LaunchContext
from launch.launch_description_sources import load_python_launch_file_as_module
from launch.substitutions import PathJoinSubstitution
from launch_ros.substitutions import FindPackageShare

GRAPH_LAUNCH = PathJoinSubstitution([FindPackageShare("aloha_bringup"), "launch", "graph_launch.py"])


def generate_launch_description():
    graph_launch = load_python_launch_file_as_module(GRAPH_LAUNCH.perform(LaunchContext()))
    return graph_launch.graph_launch_description(__file__)
