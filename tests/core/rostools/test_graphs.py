"""launch/graphs.yaml is the one description of the node graphs: every launch file is built from its entry
(launch/graph_launch.py over launch_entities) and graph_runner starts the same entry here."""
import pathlib
import re

import pytest
import yaml

from diffog.rostools.graph_runner import substitute
from diffog.rostools.graphs import LAUNCH_DIR, graph_of_launch_file, launch_entities, load_graphs

GRAPHS = load_graphs()
EXTERNAL_PACKAGES = {"interbotix_xs_sdk"}  # Interbotix's, installed on the robot PC


def test_every_launch_file_is_built_from_its_graph():
    assert {g.launch_file.name for g in GRAPHS.values()} == {p.name for p in LAUNCH_DIR.glob("*.launch.py")}
    for name, g in GRAPHS.items():
        assert graph_of_launch_file(g.launch_file).name == name
        assert "graph_launch_description(__file__)" in g.launch_file.read_text()


@pytest.mark.parametrize("graph", sorted(GRAPHS))
def test_graph_yields_nodes_that_exist_with_their_parameters_files(graph, repo_root):
    g = GRAPHS[graph]
    arguments, nodes = launch_entities(g)
    assert {a["name"]: a["default_value"] for a in arguments} == g.arguments
    for node in nodes:
        params_file, *overrides = node["parameters"]
        assert pathlib.Path(params_file).is_file()
        for value in (v for o in overrides for v in o.values()):
            substitute(value, g.arguments, share=lambda p: f"/share/{p}")  # every $(var ...) is an argument
        if node["package"] in EXTERNAL_PACKAGES:
            continue
        setup = repo_root / "ros2_ws" / "src" / node["package"] / "setup.py"
        assert setup.is_file(), f"{node['name']}: unknown package {node['package']}"
        assert re.search(rf'"{node["executable"]} = ', setup.read_text()), \
            f"{node['package']} has no entry point {node['executable']}"
    sections = yaml.safe_load(g.nodes[0].params_file.read_text())
    assert set(sections) == {n.fqn for n in g.nodes}, "the parameters file has a section per node, no others"


def test_launch_entities_carry_namespace_overrides_and_required():
    _, nodes = launch_entities(GRAPHS["move_stack_sim"])
    runner = next(n for n in nodes if n["name"] == "episode_runner")
    assert runner["required"] and "namespace" not in runner
    assert runner["parameters"][1]["episodes"] == "$(var episodes)"
    _, nodes = launch_entities(GRAPHS["move_stack"])
    xs = nodes[0]
    assert (xs["namespace"], xs["required"]) == ("follower_left", False)
    assert xs["parameters"][1]["mode_configs"] == "$(dirname)/config/interbotix/follower_left_modes.yaml"
    camera = next(n for n in nodes if n["name"] == "cam_high")
    assert camera["parameters"] == [str(LAUNCH_DIR / "config" / "move_stack.yaml")]
