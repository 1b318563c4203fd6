"""Open-loop replay: a recorded bag's observations (with /clock) into the policy node; its output to a new bag
(no bag recorder when output is empty).

    ros2 launch aloha_bringup replay.launch.py bag:=runs/bag output:=runs/replayed checkpoint:=checkpoints/...pt
Nodes and arguments: graphs.yaml `replay`; parameters: config/replay.yaml (both installed with aloha_bringup).
Without ros2 launch, and with the comparison to the recorded commands:
    python -m diffog.rostools.replay runs/bag --checkpoint checkpoints/...pt
"""
from launch import LaunchContext
from launch.launch_description_sources import load_python_launch_file_as_module
from launch.substitutions import PathJoinSubstitution
from launch_ros.substitutions import FindPackageShare

GRAPH_LAUNCH = PathJoinSubstitution([FindPackageShare("aloha_bringup"), "launch", "graph_launch.py"])


def generate_launch_description():
    graph_launch = load_python_launch_file_as_module(GRAPH_LAUNCH.perform(LaunchContext()))
    return graph_launch.graph_launch_description(__file__)
