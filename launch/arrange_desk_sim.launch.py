"""arrange_desk in the MuJoCo sim over ROS: sim ALOHA (the real robot's topics, /clock), policy, bag recorder, and the
episode runner that resets the sim, compares the refiners and ends the launch when done.

    ros2 launch launch/arrange_desk_sim.launch.py checkpoint:=checkpoints/arrange_desk_image_diffog.ckpt episodes:=3 \\
        output:=runs/arrange_desk.json bag:=runs/arrange_desk_bag
Parameters: config/arrange_desk_sim.yaml.
Without ros2 launch: python -m diffog.deploy.graph_runner arrange_desk_sim --arg NAME=VALUE ...
"""
import pathlib

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, Shutdown
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

PARAMS = str(pathlib.Path(__file__).resolve().parent / "config" / "arrange_desk_sim.yaml")


def generate_launch_description() -> LaunchDescription:
    checkpoint = LaunchConfiguration("checkpoint")
    return LaunchDescription([
        DeclareLaunchArgument("refiner", default_value="diffog", description="none | clip | penalty | diffog"),
        DeclareLaunchArgument("checkpoint", default_value="checkpoints/arrange_desk_image_diffog.ckpt"),
        DeclareLaunchArgument("episodes", default_value="3", description="per refiner the episode runner compares"),
        DeclareLaunchArgument("output", default_value="", description="the episode runner's JSON results"),
        DeclareLaunchArgument("bag", default_value="", description="the MCAP bag to record"),
        Node(package="aloha_bringup", executable="sim_node", name="aloha_sim", parameters=[PARAMS]),
        Node(package="diffog_policy", executable="policy_node", name="policy",
             parameters=[PARAMS, {"refiner": LaunchConfiguration("refiner"), "checkpoint": checkpoint}]),
        Node(package="diffog_policy", executable="bag_recorder", name="bag_recorder",
             parameters=[PARAMS, {"output": LaunchConfiguration("bag")}]),
        Node(package="diffog_policy", executable="episode_runner", name="episode_runner", on_exit=Shutdown(),
             parameters=[PARAMS, {"checkpoint": checkpoint, "episodes": LaunchConfiguration("episodes"),
                                  "output": LaunchConfiguration("output")}]),
    ])
