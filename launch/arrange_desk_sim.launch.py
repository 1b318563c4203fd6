"""arrange_desk in the MuJoCo sim over ROS: sim ALOHA (the real robot's topics, /clock), policy, bag recorder, and the
episode runner that resets the sim, compares the refiners and ends the launch when done.

    ros2 launch launch/arrange_desk_sim.launch.py checkpoint:=checkpoints/arrange_desk_state_diffog.ckpt episodes:=3 \\
        output:=runs/arrange_desk.json bag:=runs/arrange_desk_bag
Nodes and arguments: graphs.yaml `arrange_desk_sim`; parameters: config/arrange_desk_sim.yaml.
Without ros2 launch: python -m diffog.rostools.graph_runner arrange_desk_sim --arg NAME=VALUE ...
"""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))  # ros2 launch loads this file by path
from graph_launch import graph_launch_description  # noqa: E402


def generate_launch_description():
    return graph_launch_description(__file__)
