"""The launch files (for `ros2 launch` on a robot PC) and launch/graphs.yaml (for graph_runner here) must start
the same nodes with the same parameters. launch_ros is not installable here, so each launch file is imported
with a small stand-in for the `launch` / `launch_ros` API that records what it declares."""
import importlib.util
import re
import sys
import types

import pytest
import yaml

from diffog.deploy.graph_runner import LAUNCH_DIR, load_graphs, substitute

GRAPHS = load_graphs()
WORKSPACE_PACKAGES = {"diffog_policy", "aloha_bringup"}
ROS_BUILTIN_PARAMETERS = {"use_sim_time"}
EXTERNAL_PACKAGES = {"interbotix_xs_sdk"}  # installed from Interbotix on the robot PC


class Sub:
    """A substitution rendered as a placeholder string both sides can produce."""

    def __init__(self, text):
        self.text = text


def shim_modules():
    m = {name: types.ModuleType(name) for name in
         ("launch", "launch.actions", "launch.substitutions", "launch_ros", "launch_ros.actions",
          "launch_ros.substitutions")}

    class LaunchDescription:
        def __init__(self, entities):
            self.entities = list(entities)

    class Shutdown:
        pass

    class DeclareLaunchArgument:
        def __init__(self, name, default_value=None, description=""):
            self.name, self.default_value = name, default_value

    class Node:
        def __init__(self, *, package, executable, name, namespace="", parameters=(), on_exit=None):
            self.package, self.executable, self.name, self.namespace = package, executable, name, namespace
            self.parameters, self.required = list(parameters), isinstance(on_exit, Shutdown)

    def render(part):
        return part.text if isinstance(part, Sub) else str(part)

    m["launch"].LaunchDescription = LaunchDescription
    m["launch.actions"].DeclareLaunchArgument = DeclareLaunchArgument
    m["launch.actions"].Shutdown = Shutdown
    m["launch.substitutions"].LaunchConfiguration = lambda name: Sub(f"<var:{name}>")
    m["launch.substitutions"].PathJoinSubstitution = lambda parts: Sub("/".join(render(p) for p in parts))
    m["launch_ros.actions"].Node = Node
    m["launch_ros.substitutions"].FindPackageShare = lambda pkg: Sub(f"<share:{pkg}>")
    return m


def declared(launch_file, monkeypatch):
    for name, module in shim_modules().items():
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.delitem(sys.modules, "aloha_task", raising=False)  # the shared module, imported afresh on the shims
    monkeypatch.setattr(sys, "path", list(sys.path))  # the launch file prepends launch/
    spec = importlib.util.spec_from_file_location(f"launch_file_{launch_file.stem.replace('.', '_')}", launch_file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.generate_launch_description().entities


def normalized(value):
    return value.text if isinstance(value, Sub) else str(value)


@pytest.mark.parametrize("graph", sorted(GRAPHS))
def test_launch_file_and_graph_declare_the_same_nodes_and_parameters(graph, monkeypatch):
    g = GRAPHS[graph]
    entities = declared(g.launch_file, monkeypatch)
    args = {e.name: e.default_value for e in entities if hasattr(e, "default_value")}
    assert args == g.arguments
    placeholders = {k: f"<var:{k}>" for k in args}
    nodes = [e for e in entities if hasattr(e, "executable")]
    assert [(n.namespace, n.name, n.package, n.executable, n.required) for n in nodes] == \
        [(s.namespace, s.name, s.package, s.executable, s.required) for s in g.nodes]
    for node, spec in zip(nodes, g.nodes):
        params_file, *rest = node.parameters
        assert params_file == str(spec.params_file.resolve()), f"{spec.fqn} reads another parameters file"
        launch_overrides = {k: normalized(v) for d in rest for k, v in d.items()}
        graph_overrides = {k: substitute(v, placeholders, LAUNCH_DIR.resolve(), share=lambda p: f"<share:{p}>")
                           for k, v in spec.overrides.items()}
        assert launch_overrides == graph_overrides, spec.fqn


@pytest.mark.parametrize("graph", sorted(GRAPHS))
def test_parameters_file_has_a_section_for_exactly_the_graphs_nodes(graph):
    g = GRAPHS[graph]
    sections = yaml.safe_load(g.nodes[0].params_file.read_text())
    assert all("ros__parameters" in v for v in sections.values())
    assert set(sections) == {n.fqn for n in g.nodes}


@pytest.mark.parametrize("graph", sorted(GRAPHS))
def test_every_executable_exists(graph, repo_root):
    for node in GRAPHS[graph].nodes:
        if node.package in EXTERNAL_PACKAGES:
            continue
        assert node.package in WORKSPACE_PACKAGES, f"{node.fqn}: unknown package {node.package}"
        setup = (repo_root / "ros2_ws" / "src" / node.package / "setup.py").read_text()
        assert re.search(rf'"{node.executable} = ', setup), f"{node.package} has no entry point {node.executable}"
        source = _node_source(repo_root, node)  # a PARAMETERS dict, or declare_parameter calls
        declared_params = re.findall(r'^\s+"(\w+)":', source, re.M) + re.findall(r'declare_parameter\("(\w+)"', source)
        sections = yaml.safe_load(node.params_file.read_text())
        unknown = (set(sections[node.fqn]["ros__parameters"]) | set(node.overrides)) - ROS_BUILTIN_PARAMETERS
        assert unknown <= set(declared_params), f"{node.fqn}: parameters the node does not declare: " \
                                                f"{sorted(unknown - set(declared_params))}"


def _node_source(repo_root, node):
    setup = (repo_root / "ros2_ws" / "src" / node.package / "setup.py").read_text()
    module = re.search(rf'"{node.executable} = {node.package}\.(\w+):', setup).group(1)
    return (repo_root / "ros2_ws" / "src" / node.package / node.package / f"{module}.py").read_text()
