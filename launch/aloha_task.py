"""The launch descriptions every ALOHA task shares; each <task>.launch.py and <task>_sim.launch.py names its task.

Not a launch file itself: `ros2 launch` loads launch files by path, so they put this folder on sys.path to
import it. Parameters come from config/<task>.yaml and config/<task>_sim.yaml (graph_runner reads the same).
"""
import pathlib

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, Shutdown
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

HERE = pathlib.Path(__file__).resolve().parent


def _policy_arguments(task: str, inputs: str) -> list[DeclareLaunchArgument]:
    """The real robot needs an image policy; the sim serves object poses to a state policy as well."""
    return [DeclareLaunchArgument("refiner", default_value="diffog", description="none | clip | penalty | diffog"),
            DeclareLaunchArgument("checkpoint", default_value=f"checkpoints/{task}_{inputs}_diffog.ckpt")]


def robot_launch(task: str, cameras: tuple[str, ...]) -> LaunchDescription:
    """The real robot: both followers (Interbotix xs_sdk), the task's cameras, the policy."""
    params = str(HERE / "config" / f"{task}.yaml")
    vx300s = PathJoinSubstitution([FindPackageShare("interbotix_xsarm_control"), "config", "vx300s.yaml"])

    def follower(side: str) -> Node:
        modes = str(HERE / "config" / "interbotix" / f"follower_{side}_modes.yaml")
        return Node(package="interbotix_xs_sdk", executable="xs_sdk", name="xs_sdk", namespace=f"follower_{side}",
                    parameters=[params, {"motor_configs": vx300s, "mode_configs": modes}])

    return LaunchDescription([
        *_policy_arguments(task, "image"),
        follower("left"),
        follower("right"),
        *(Node(package="diffog_policy", executable="camera_node", name=cam, parameters=[params]) for cam in cameras),
        Node(package="diffog_policy", executable="policy_node", name="policy",
             parameters=[params, {"refiner": LaunchConfiguration("refiner"),
                                  "checkpoint": LaunchConfiguration("checkpoint")}]),
    ])


def sim_launch(task: str) -> LaunchDescription:
    """The MuJoCo sim: sim ALOHA on the real robot's topics (/clock), policy, bag recorder, and the episode
    runner that resets the sim, compares the refiners and ends the launch when done."""
    params = str(HERE / "config" / f"{task}_sim.yaml")
    checkpoint = LaunchConfiguration("checkpoint")
    return LaunchDescription([
        *_policy_arguments(task, "state"),
        DeclareLaunchArgument("episodes", default_value="3", description="per refiner the episode runner compares"),
        DeclareLaunchArgument("output", default_value="", description="the episode runner's JSON results"),
        DeclareLaunchArgument("bag", default_value="", description="the MCAP bag to record"),
        Node(package="aloha_bringup", executable="sim_node", name="aloha_sim", parameters=[params]),
        Node(package="diffog_policy", executable="policy_node", name="policy",
             parameters=[params, {"refiner": LaunchConfiguration("refiner"), "checkpoint": checkpoint}]),
        Node(package="diffog_policy", executable="bag_recorder", name="bag_recorder",
             parameters=[params, {"output": LaunchConfiguration("bag")}]),
        Node(package="diffog_policy", executable="episode_runner", name="episode_runner", on_exit=Shutdown(),
             parameters=[params, {"checkpoint": checkpoint, "episodes": LaunchConfiguration("episodes"),
                                  "output": LaunchConfiguration("output")}]),
    ])
