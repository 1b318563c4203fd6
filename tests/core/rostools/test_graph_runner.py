import pathlib

import pytest

from diffog.rostools.graph_runner import LAUNCH_DIR, load_graphs, node_command, substitute


def test_substitutions_resolve_as_ros2_launch_does():
    share = {"pkg": pathlib.Path("/opt/share/pkg")}.__getitem__
    assert substitute("$(var a)/x", {"a": "1"}, share=share) == "1/x"
    assert substitute("$(dirname)/config", {}) == f"{LAUNCH_DIR}/config"
    assert substitute("$(find-pkg-share pkg)/c.yaml", {}, share=share) == "/opt/share/pkg/c.yaml"
    with pytest.raises(KeyError, match="unknown launch argument 'b'"):
        substitute("$(var b)", {"a": "1"})


def test_a_node_runs_with_its_name_parameters_file_and_overrides():
    g = load_graphs()["move_stack_sim"]
    runner = next(n for n in g.nodes if n.name == "episode_runner")
    cmd = node_command(runner, {**g.arguments, "episodes": "2"}, {"settle_s": "0.5"})
    assert cmd[0].endswith("lib/diffog_policy/episode_runner")
    assert cmd[1:] == ["--ros-args", "-r", "__node:=episode_runner", "--params-file", str(runner.params_file),
                       "-p", f"checkpoint:={g.arguments['checkpoint']}", "-p", "episodes:=2", "-p", "output:=''",
                       "-p", "settle_s:=0.5"]


def test_nodes_of_packages_not_installed_here_say_so():
    g = load_graphs()["move_stack"]
    xs = next(n for n in g.nodes if n.package == "interbotix_xs_sdk")
    assert xs.fqn == "/follower_left/xs_sdk"
    with pytest.raises(FileNotFoundError, match="interbotix_xs_sdk"):
        node_command(xs, g.arguments, {})
