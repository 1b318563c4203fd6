"""The launch description of every launch file here, built from its entry in graphs.yaml (the one place the graphs
are written down; diffog.rostools.graphs.launch_entities reads it without launch, this turns it into actions).

Not a launch file itself: `ros2 launch` loads launch files by path, so they put this folder on sys.path to import
it. Substitution strings in graphs.yaml ($(var NAME), $(dirname), $(find-pkg-share PKG)) go through ROS 2 launch's
own frontend parser; a node marked `required` ends the launch when it exits (on_exit=Shutdown()).
"""
import importlib
import pathlib
import sys

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, Shutdown
from launch.frontend.parse_substitution import parse_substitution
from launch_ros.actions import Node

importlib.import_module("launch_ros.substitutions")  # registers $(find-pkg-share ...) with the parser

HERE = pathlib.Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:  # this checkout's diffog, unless one is installed
    sys.path.append(str(HERE.parent))
from diffog.rostools.graphs import graph_of_launch_file, launch_entities  # noqa: E402


def graph_launch_description(launch_file: str) -> LaunchDescription:
    """The graph whose `launch` entry in graphs.yaml names `launch_file` (a launch file passes its __file__)."""
    arguments, nodes = launch_entities(graph_of_launch_file(launch_file, HERE / "graphs.yaml"))
    entities = [DeclareLaunchArgument(**a) for a in arguments]
    for spec in nodes:
        spec = dict(spec)
        required = spec.pop("required")
        params_file, *overrides = spec.pop("parameters")
        parameters = [params_file, *({k: parse_substitution(v) for k, v in o.items()} for o in overrides)]
        entities.append(Node(**spec, parameters=parameters, **({"on_exit": Shutdown()} if required else {})))
    return LaunchDescription(entities)
