"""Arrange the desk on the real ALOHA: follower arms (Interbotix xs_sdk), three cameras, Diffusion Policy + refiner.

    ros2 launch launch/arrange_desk.launch.py refiner:=diffog checkpoint:=checkpoints/arrange_desk_image_diffog.ckpt
Parameters: config/arrange_desk.yaml. Without ros2 launch: python -m diffog.deploy.graph_runner arrange_desk
"""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))  # ros2 launch loads this file by path
from aloha_task import robot_launch  # noqa: E402


def generate_launch_description():
    return robot_launch("arrange_desk", cameras=("cam_high", "cam_left_wrist", "cam_right_wrist"))
