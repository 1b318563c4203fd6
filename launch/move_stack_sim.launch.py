"""move_stack in the MuJoCo sim over ROS: sim ALOHA (the real robot's topics, /clock), policy, bag recorder, and the
episode runner that resets the sim, compares the refiners and ends the launch when done.

    ros2 launch launch/move_stack_sim.launch.py checkpoint:=checkpoints/move_stack_state_diffog.ckpt episodes:=3 \\
        output:=runs/move_stack.json bag:=runs/move_stack_bag
Nodes and arguments: graphs.yaml `move_stack_sim`; parameters: config/move_stack_sim.yaml.
Without ros2 launch: python -m diffog.rostools.graph_runner move_stack_sim --arg NAME=VALUE ...
"""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))  # ros2 launch loads this file by path
from graph_launch import graph_launch_description  # noqa: E402


def generate_launch_description():
    return graph_launch_description(__file__)
