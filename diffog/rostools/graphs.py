"""launch/graphs.yaml, the one description of every node graph: what each launch file declares (launch/graph_launch.py
builds its DeclareLaunchArgument and launch_ros Node actions from it) and what graph_runner starts here without
`ros2 launch`. Nothing here imports launch (launch_ros has no pip wheels): `launch_entities` gives the keyword
arguments of those actions, with substitution strings left for ROS 2 launch's own parser.
"""
from __future__ import annotations

import pathlib
import re
from dataclasses import dataclass, field

import yaml

from diffog import REPO_ROOT

LAUNCH_DIR = REPO_ROOT / "launch"
GRAPHS = LAUNCH_DIR / "graphs.yaml"
NODE_KEYS = {"name", "namespace", "package", "executable", "arguments", "overrides", "required", "if_set"}
COMMAND = re.compile(r"\$\(command\s")


def string_typed(value: str) -> bool:
    """An override holding a $(command ...) (a URDF from xacro) is a string parameter as it stands: ROS 2 launch
    would otherwise read the command's output as YAML (launch_ros ParameterValue(value_type=str) says not to)."""
    return bool(COMMAND.search(value))


@dataclass(frozen=True)
class NodeSpec:
    name: str
    package: str
    executable: str
    params_file: pathlib.Path
    namespace: str = ""
    overrides: dict[str, str] = field(default_factory=dict)  # parameters given in the launch file itself
    required: bool = False  # when it exits, the whole graph shuts down (launch's on_exit=Shutdown())
    arguments: tuple[str, ...] = ()  # command-line arguments before --ros-args (launch_ros Node `arguments`)
    if_set: str = ""  # a launch argument: the node starts only when it is not empty

    @property
    def fqn(self) -> str:
        """The node's full name, as its section in the parameters file and `--param` name it."""
        return f"/{self.namespace}/{self.name}" if self.namespace else self.name


@dataclass(frozen=True)
class Graph:
    name: str
    launch_file: pathlib.Path
    arguments: dict[str, str]  # launch argument -> default
    nodes: list[NodeSpec]
    descriptions: dict[str, str] = field(default_factory=dict)  # launch argument -> its help text


def load_graphs(path: pathlib.Path = GRAPHS) -> dict[str, Graph]:
    spec = yaml.safe_load(path.read_text())
    graphs = {}
    for name, g in spec.items():
        args = {k: str(v) for k, v in (g.get("arguments") or {}).items()}
        descriptions = {k: str(v) for k, v in (g.get("descriptions") or {}).items()}
        if unknown := set(descriptions) - set(args):
            raise KeyError(f"{path}: graph {name} describes launch arguments it does not have: {sorted(unknown)}")
        nodes = []
        for n in g["nodes"]:
            if unknown := set(n) - NODE_KEYS:
                raise KeyError(f"{path}: graph {name}, node {n.get('name')}: unknown keys {sorted(unknown)}")
            if n.get("if_set", "") and n["if_set"] not in args:
                raise KeyError(f"{path}: graph {name}, node {n['name']}: if_set names no launch argument")
            nodes.append(NodeSpec(n["name"], n["package"], n["executable"], path.parent / g["params"],
                                  n.get("namespace", ""), {k: str(v) for k, v in (n.get("overrides") or {}).items()},
                                  bool(n.get("required", False)), tuple(str(a) for a in n.get("arguments") or ()),
                                  n.get("if_set", "")))
        graphs[name] = Graph(name, path.parent / g["launch"], args, nodes, descriptions)
    return graphs


def graph_of_launch_file(launch_file: str | pathlib.Path, path: pathlib.Path = GRAPHS) -> Graph:
    """The graph whose `launch` entry names `launch_file` (a launch file passes its own __file__)."""
    name = pathlib.Path(launch_file).name
    for graph in load_graphs(path).values():
        if graph.launch_file.name == name:
            return graph
    raise KeyError(f"{path} has no graph with `launch: {name}`")


def launch_entities(graph: Graph) -> tuple[list[dict], list[dict]]:
    """The graph as its launch file declares it: keyword arguments of launch.actions.DeclareLaunchArgument, one
    dict per launch argument, and of launch_ros.actions.Node, one per node (`parameters`: the graph's parameters
    file, then the node's overrides if it has any; `arguments` if it has any). Override values and arguments stay
    strings in ROS 2 launch's substitution syntax ($(var NAME), $(find-pkg-share PKG), $(find-exec NAME),
    $(command '...'), $(dirname)); `required` (on_exit=Shutdown()) and `if_set` (a launch argument that must not
    be empty for the node to start) are not Node arguments."""
    arguments = [{"name": k, "default_value": v,
                  **({"description": graph.descriptions[k]} if k in graph.descriptions else {})}
                 for k, v in graph.arguments.items()]
    nodes = [{"package": n.package, "executable": n.executable, "name": n.name,
              **({"namespace": n.namespace} if n.namespace else {}),
              **({"arguments": list(n.arguments)} if n.arguments else {}),
              "parameters": [str(n.params_file), *([dict(n.overrides)] if n.overrides else [])],
              "required": n.required, "if_set": n.if_set}
             for n in graph.nodes]
    return arguments, nodes
