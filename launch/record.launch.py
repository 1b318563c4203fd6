"""Teleoperated recording on the real ALOHA: all four arms as ALOHA's bringup starts them (Interbotix xs_sdk,
robot_state_publisher, a static transform each), leader -> follower teleop through them, four cameras, recorder.

    ros2 launch aloha_bringup record.launch.py dataset_dir:=data/recorded task_name:=move_stack
Nodes and arguments: graphs.yaml `record`; parameters: config/record.yaml (both installed with aloha_bringup,
found with FindPackageShare like graph_launch.py).
Without ros2 launch: python -m diffog.rostools.graph_runner record
"""
from launch import LaunchContext
from launch.launch_description_sources import load_python_launch_file_as_module
from launch.substitutions import PathJoinSubstitution
from launch_ros.substitutions import FindPackageShare

GRAPH_LAUNCH = PathJoinSubstitution([FindPackageShare("aloha_bringup"), "launch", "graph_launch.py"])


def generate_launch_description():
    graph_launch = load_python_launch_file_as_module(GRAPH_LAUNCH.perform(LaunchContext()))
    return graph_launch.graph_launch_description(__file__)
