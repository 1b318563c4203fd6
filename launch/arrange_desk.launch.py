"""Arrange the desk on the real ALOHA: follower arms (Interbotix xs_sdk), three cameras, Diffusion Policy + refiner.

    ros2 launch launch/arrange_desk.launch.py refiner:=diffog checkpoint:=checkpoints/arrange_desk_image_diffog.ckpt
Nodes and arguments: graphs.yaml `arrange_desk`; parameters: config/arrange_desk.yaml.
Without ros2 launch: python -m diffog.rostools.graph_runner arrange_desk
"""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))  # ros2 launch loads this file by path
from graph_launch import graph_launch_description  # noqa: E402


def generate_launch_description():
    return graph_launch_description(__file__)
