"""Open-loop replay: a recorded bag's observations (with /clock) into the policy node; its output to a new bag.

    ros2 launch launch/replay.launch.py bag:=runs/bag output:=runs/replayed checkpoint:=checkpoints/...pt
Nodes and arguments: graphs.yaml `replay`; parameters: config/replay.yaml.
Without ros2 launch, and with the comparison to the recorded commands:
    python -m diffog.rostools.replay runs/bag --checkpoint checkpoints/...pt
"""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))  # ros2 launch loads this file by path
from graph_launch import graph_launch_description  # noqa: E402


def generate_launch_description():
    return graph_launch_description(__file__)
