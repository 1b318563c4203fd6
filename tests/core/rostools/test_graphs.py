"""launch/graphs.yaml is the one description of the node graphs: every launch file is built from its entry
(launch/graph_launch.py over launch_entities) and graph_runner starts the same entry here."""
import pathlib
import re

import pytest
import yaml

from diffog.rostools.graph_runner import substitute
from diffog.rostools.graphs import LAUNCH_DIR, graph_of_launch_file, launch_entities, load_graphs, string_typed

GRAPHS = load_graphs()
# Interbotix's and ROS 2's packages the real-robot graphs start, installed on the robot PC (aloha_bringup
# exec_depends on them, tests/core/rostools/test_manifests.py)
EXTERNAL_PACKAGES = {"interbotix_xs_sdk", "robot_state_publisher", "tf2_ros"}
REAL_ARMS = {"move_stack": ["follower_left", "follower_right"], "arrange_desk": ["follower_left", "follower_right"],
             "record": ["leader_left", "leader_right", "follower_left", "follower_right"]}
MODEL = {"leader": "aloha_wx250s", "follower": "aloha_vx300s"}  # Interbotix ALOHA's robot_model_leader / _follower


def test_every_launch_file_is_built_from_its_graph():
    assert {g.launch_file.name for g in GRAPHS.values()} == {p.name for p in LAUNCH_DIR.glob("*.launch.py")}
    for name, g in GRAPHS.items():
        assert graph_of_launch_file(g.launch_file).name == name
        text = g.launch_file.read_text()
        assert "graph_launch_description(__file__)" in text
        assert 'FindPackageShare("aloha_bringup")' in text and "sys.path" not in text


def test_graphs_find_their_files_through_the_installed_package():
    """No $(dirname): the launch folder is installed as share/aloha_bringup/launch (aloha_bringup's setup.py)."""
    text = (LAUNCH_DIR / "graphs.yaml").read_text()
    assert "$(dirname)" not in re.sub(r"#.*", "", text)
    setup = (LAUNCH_DIR.parent / "ros2_ws" / "src" / "aloha_bringup" / "setup.py").read_text()
    for target in ("share/{package_name}/launch", "share/{package_name}/launch/config",
                   "share/{package_name}/launch/config/interbotix"):
        assert f'(f"{target}"' in setup
    shared = "$(find-pkg-share aloha_bringup)/launch/"
    for g in GRAPHS.values():
        for n in g.nodes:
            for value in n.overrides.values():
                for path in re.findall(re.escape(shared) + r"(\S+)", value):
                    assert (LAUNCH_DIR / path).is_file(), path


@pytest.mark.parametrize("graph", sorted(GRAPHS))
def test_graph_yields_nodes_that_exist_with_their_parameters_files(graph, repo_root):
    g = GRAPHS[graph]
    arguments, nodes = launch_entities(g)
    assert {a["name"]: a["default_value"] for a in arguments} == g.arguments
    for node in nodes:
        params_file, *overrides = node["parameters"]
        assert pathlib.Path(params_file).is_file()
        for value in [*(v for o in overrides for v in o.values()), *node.get("arguments", [])]:
            # every $(var ...) is an argument; the rest parses (commands are not run here)
            substitute(value, g.arguments, share=lambda p: f"/share/{p}", run=lambda c: "<robot/>",
                       which=lambda e: f"/bin/{e}")
        assert not node["if_set"] or node["if_set"] in g.arguments
        if node["package"] in EXTERNAL_PACKAGES:
            continue
        setup = repo_root / "ros2_ws" / "src" / node["package"] / "setup.py"
        assert setup.is_file(), f"{node['name']}: unknown package {node['package']}"
        assert re.search(rf'"{node["executable"]} = ', setup.read_text()), \
            f"{node['package']} has no entry point {node['executable']}"
    sections = yaml.safe_load(g.nodes[0].params_file.read_text())
    assert set(sections) <= {n.fqn for n in g.nodes}, "the parameters file has no section for a node not in it"
    assert {n.fqn for n in g.nodes if n.package not in EXTERNAL_PACKAGES or n.package == "interbotix_xs_sdk"} \
        <= set(sections), "every node of ours and every xs_sdk has a section"


@pytest.mark.parametrize("graph", sorted(REAL_ARMS))
def test_real_graphs_start_what_interbotix_aloha_bringup_starts(graph):
    """Per arm (Interbotix/aloha launch/aloha_bringup.launch.py over interbotix_xsarm_control's xsarm_control.launch.py
    and xsarm_description.launch.py): xs_sdk in the arm's namespace with ALOHA's motor and mode configs and
    robot_description from Interbotix's xacro; robot_state_publisher beside it with the same description; a static
    transform world -> <arm>/base_link."""
    g = GRAPHS[graph]
    by_fqn = {n.fqn: n for n in g.nodes}
    xs_nodes = [n for n in g.nodes if n.package == "interbotix_xs_sdk"]
    assert [n.namespace for n in xs_nodes] == REAL_ARMS[graph]
    for arm in REAL_ARMS[graph]:
        role, side = arm.split("_")
        xs, rsp = by_fqn[f"/{arm}/xs_sdk"], by_fqn[f"/{arm}/robot_state_publisher"]
        assert (xs.executable, rsp.package, rsp.executable) == ("xs_sdk", "robot_state_publisher",
                                                                "robot_state_publisher")
        assert xs.overrides["motor_configs"] == \
            f"$(find-pkg-share interbotix_xsarm_control)/config/{MODEL[role]}.yaml"
        assert xs.overrides["mode_configs"] == \
            f"$(find-pkg-share aloha_bringup)/launch/config/interbotix/{role}_modes_{side}.yaml"
        modes = yaml.safe_load((LAUNCH_DIR / "config" / "interbotix" / f"{role}_modes_{side}.yaml").read_text())
        assert modes["port"] == f"/dev/ttyDXL_{arm}"
        urdf = xs.overrides["robot_description"]
        assert urdf == rsp.overrides["robot_description"] == (
            f"$(command '$(find-exec xacro) $(find-pkg-share interbotix_xsarm_descriptions)/urdf/{MODEL[role]}"
            f".urdf.xacro robot_name:={arm}')")
        assert string_typed(urdf)
        tf = by_fqn[f"{arm}_transform_broadcaster"]
        assert (tf.package, tf.executable) == ("tf2_ros", "static_transform_publisher")
        args = dict(zip(tf.arguments[::2], tf.arguments[1::2]))
        assert (args["--frame-id"], args["--child-frame-id"]) == ("world", f"{arm}/base_link")
        # aloha_static.yaml: leaders at x = -0.5, followers at +0.5, left arms at y = +0.25
        assert (float(args["--x"]), float(args["--y"])) == ((-0.5 if role == "leader" else 0.5),
                                                            (0.25 if side == "left" else -0.25))
    sections = yaml.safe_load(g.nodes[0].params_file.read_text())
    assert all(sections[f"/{arm}/xs_sdk"]["ros__parameters"]["load_configs"] for arm in REAL_ARMS[graph])


def test_launch_entities_carry_namespace_overrides_arguments_and_conditions():
    _, nodes = launch_entities(GRAPHS["move_stack_sim"])
    runner = next(n for n in nodes if n["name"] == "episode_runner")
    assert runner["required"] and "namespace" not in runner and not runner["if_set"]
    assert runner["parameters"][1]["episodes"] == "$(var episodes)"
    bag = next(n for n in nodes if n["name"] == "bag_recorder")
    assert bag["if_set"] == "bag"  # bag:="" (the default) starts no recorder, which would refuse an empty output
    _, nodes = launch_entities(GRAPHS["move_stack"])
    xs = nodes[0]
    assert (xs["namespace"], xs["required"]) == ("follower_left", False)
    assert xs["parameters"][1]["mode_configs"] == \
        "$(find-pkg-share aloha_bringup)/launch/config/interbotix/follower_modes_left.yaml"
    tf = next(n for n in nodes if n["executable"] == "static_transform_publisher")
    assert tf["arguments"][-2:] == ["--child-frame-id", "follower_left/base_link"] and len(tf["parameters"]) == 1
    camera = next(n for n in nodes if n["name"] == "cam_high")
    assert camera["parameters"] == [str(LAUNCH_DIR / "config" / "move_stack.yaml")]
