"""arrange_desk in the MuJoCo sim over ROS: sim ALOHA (the real robot's topics, /clock), policy, bag recorder, and the
episode runner that resets the sim, compares the refiners and ends the launch when done.

    ros2 launch launch/arrange_desk_sim.launch.py checkpoint:=checkpoints/arrange_desk_state_diffog.ckpt episodes:=3 \\
        output:=runs/arrange_desk.json bag:=runs/arrange_desk_bag
Parameters: config/arrange_desk_sim.yaml.
Without ros2 launch: python -m diffog.deploy.graph_runner arrange_desk_sim --arg NAME=VALUE ...
"""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))  # ros2 launch loads this file by path
from aloha_task import sim_launch  # noqa: E402


def generate_launch_description():
    return sim_launch("arrange_desk")
