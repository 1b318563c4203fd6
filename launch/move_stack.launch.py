"""Move the stack on the real ALOHA: follower arms (Interbotix xs_sdk), cameras, Diffusion Policy + refiner.

    ros2 launch launch/move_stack.launch.py refiner:=diffog checkpoint:=checkpoints/move_stack_image_diffog.ckpt
Nodes and arguments: graphs.yaml `move_stack`; parameters: config/move_stack.yaml.
Without ros2 launch: python -m diffog.rostools.graph_runner move_stack
"""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))  # ros2 launch loads this file by path
from graph_launch import graph_launch_description  # noqa: E402


def generate_launch_description():
    return graph_launch_description(__file__)
