"""Teleoperated recording on the real ALOHA: leader -> follower teleop on all four buses, four cameras, recorder.

    ros2 launch launch/record.launch.py dataset_dir:=data/recorded task_name:=move_stack
Nodes and arguments: graphs.yaml `record`; parameters: config/record.yaml.
Without ros2 launch: python -m diffog.rostools.graph_runner record
"""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))  # ros2 launch loads this file by path
from graph_launch import graph_launch_description  # noqa: E402


def generate_launch_description():
    return graph_launch_description(__file__)
