"""The launch description of every launch file here, built from its entry in graphs.yaml (the one place the graphs
are written down; diffog.rostools.graphs.launch_entities reads it without launch, this turns it into actions).

Not a launch file itself: installed with the launch files as share/aloha_bringup/launch/graph_launch.py, where
each launch file finds it through FindPackageShare('aloha_bringup'); graphs.yaml and the parameters files are
read from the same place. Substitution strings in graphs.yaml ($(var NAME), $(find-pkg-share PKG),
$(find-exec NAME), $(command '...')) go through ROS 2 launch's own frontend parser; a $(command ...) override is
a string parameter (ParameterValue(value_type=str)), a node marked `required` ends the launch when it exits
(on_exit=Shutdown()), one with `if_set: ARG` starts only when launch argument ARG is not empty.
"""
import pathlib

from launch import LaunchContext, LaunchDescription
from launch.actions import DeclareLaunchArgument, Shutdown
from launch.conditions import IfCondition
from launch.frontend.parse_substitution import parse_substitution
from launch.substitutions import LaunchConfiguration, NotEqualsSubstitution
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare  # also registers $(find-pkg-share ...) with the parser

from diffog.rostools.graphs import graph_of_launch_file, launch_entities, string_typed


def graphs_file() -> pathlib.Path:
    """share/aloha_bringup/launch/graphs.yaml: the installed graphs, parameters files beside them."""
    return pathlib.Path(FindPackageShare("aloha_bringup").perform(LaunchContext()), "launch", "graphs.yaml")


def parameter(value: str):
    subs = parse_substitution(value)
    return ParameterValue(subs, value_type=str) if string_typed(value) else subs


def graph_launch_description(launch_file: str) -> LaunchDescription:
    """The graph whose `launch` entry in graphs.yaml names `launch_file` (a launch file passes its __file__)."""
    arguments, nodes = launch_entities(graph_of_launch_file(launch_file, graphs_file()))
    entities = [DeclareLaunchArgument(**a) for a in arguments]
    for spec in nodes:
        spec = dict(spec)
        required, if_set = spec.pop("required"), spec.pop("if_set")
        params_file, *overrides = spec.pop("parameters")
        parameters = [params_file, *({k: parameter(v) for k, v in o.items()} for o in overrides)]
        if "arguments" in spec:
            spec["arguments"] = [parse_substitution(a) for a in spec["arguments"]]
        extra = {"on_exit": Shutdown()} if required else {}
        if if_set:
            extra["condition"] = IfCondition(NotEqualsSubstitution(LaunchConfiguration(if_set), ""))
        entities.append(Node(**spec, parameters=parameters, **extra))
    return LaunchDescription(entities)
