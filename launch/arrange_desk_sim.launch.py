"""arrange_desk in the MuJoCo sim over ROS: sim ALOHA (the real robot's topics, /clock), policy, bag recorder (when
`bag` is set), and the episode runner that resets the sim, compares the refiners and ends the launch when done.

    ros2 launch aloha_bringup arrange_desk_sim.launch.py checkpoint:=checkpoints/arrange_desk_state_diffog.ckpt \\
        episodes:=3 output:=runs/arrange_desk.json bag:=runs/arrange_desk_bag
Nodes and arguments: graphs.yaml `arrange_desk_sim`; parameters: config/arrange_desk_sim.yaml (both installed with
aloha_bringup).
Without ros2 launch: python -m diffog.rostools.graph_runner arrange_desk_sim --arg NAME=VALUE ...
"""
from launch import LaunchContext
from launch.launch_description_sources import load_python_launch_file_as_module
from launch.substitutions import PathJoinSubstitution
from launch_ros.substitutions import FindPackageShare

GRAPH_LAUNCH = PathJoinSubstitution([FindPackageShare("aloha_bringup"), "launch", "graph_launch.py"])


def generate_launch_description():
    graph_launch = load_python_launch_file_as_module(GRAPH_LAUNCH.perform(LaunchContext()))
    return graph_launch.graph_launch_description(__file__)
