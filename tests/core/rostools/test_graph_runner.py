import json
import pathlib
import sys

import pytest

from diffog.rostools.graph_runner import LAUNCH_DIR, GraphProcess, load_graphs, node_command, substitute


def test_substitutions_resolve_as_ros2_launch_does():
    share = {"pkg": pathlib.Path("/opt/share/pkg")}.__getitem__
    assert substitute("$(var a)/x", {"a": "1"}, share=share) == "1/x"
    assert substitute("$(dirname)/config", {}) == f"{LAUNCH_DIR}/config"
    assert substitute("$(find-pkg-share pkg)/c.yaml", {}, share=share) == "/opt/share/pkg/c.yaml"
    with pytest.raises(KeyError, match="unknown launch argument 'b'"):
        substitute("$(var b)", {"a": "1"})


def test_command_substitution_runs_with_nested_substitutions():
    """$(command '...') as graphs.yaml gives robot_description: the quoted command's substitutions first, then its
    output (a failing command or one writing to stderr raises, launch's on_stderr='fail')."""
    ran = []
    out = substitute("$(command '$(find-exec xacro) $(find-pkg-share d)/urdf/m.urdf.xacro robot_name:=$(var arm)')",
                     {"arm": "follower_left"}, share=lambda p: f"/s/{p}", which=lambda e: f"/bin/{e}",
                     run=lambda c: ran.append(c) or "<robot/>")
    assert (out, ran) == ("<robot/>", ["/bin/xacro /s/d/urdf/m.urdf.xacro robot_name:=follower_left"])
    assert substitute(f"$(command '{sys.executable} -c \"print(1)\"')", {}) == "1\n"
    with pytest.raises(RuntimeError, match="failed"):
        substitute(f"$(command '{sys.executable} -c \"import sys; sys.exit(3)\"')", {})
    with pytest.raises(FileNotFoundError, match="no executable"):
        substitute("$(find-exec no-such-executable-here)", {})


def test_a_node_runs_with_its_name_parameters_file_and_overrides():
    g = load_graphs()["move_stack_sim"]
    runner = next(n for n in g.nodes if n.name == "episode_runner")
    cmd = node_command(runner, {**g.arguments, "episodes": "2"}, {"settle_s": "0.5"})
    assert cmd[0].endswith("lib/diffog_policy/episode_runner")
    assert cmd[1:] == ["--ros-args", "-r", "__node:=episode_runner", "--params-file", str(runner.params_file),
                       "-p", f"checkpoint:={g.arguments['checkpoint']}", "-p", "episodes:=2", "-p", "output:=''",
                       "-p", "settle_s:=0.5"]


def test_command_outputs_are_string_parameters_and_arguments_precede_ros_args(monkeypatch):
    """A URDF passes verbatim as a YAML double-quoted scalar (rcl parses -p values as YAML); a node's arguments
    (static_transform_publisher's) come before --ros-args."""
    import diffog.rostools.graph_runner as gr

    monkeypatch.setattr(gr, "find_executable", lambda package, exe: pathlib.Path(f"/lib/{package}/{exe}"))
    monkeypatch.setattr(gr, "find_package_share", lambda package: pathlib.Path(f"/share/{package}"))
    monkeypatch.setattr(gr, "find_exec", lambda name: f"/bin/{name}")
    urdf = '<?xml version="1.0"?>\n<robot name="follower_left"> <!-- a: b # c --> </robot>\n'
    monkeypatch.setattr(gr, "run_command", lambda command: urdf)
    g = load_graphs()["move_stack"]
    rsp = next(n for n in g.nodes if n.fqn == "/follower_left/robot_state_publisher")
    cmd = node_command(rsp, g.arguments, {})
    assert cmd[-2:] == ["-p", f"robot_description:={json.dumps(urdf)}"]
    tf = next(n for n in g.nodes if n.name == "follower_left_transform_broadcaster")
    cmd = node_command(tf, g.arguments, {})
    assert cmd[1:cmd.index("--ros-args")] == list(tf.arguments)


def test_a_node_whose_if_set_argument_is_empty_is_not_started(monkeypatch):
    import diffog.rostools.graph_runner as gr

    monkeypatch.setattr(gr, "find_executable", lambda package, exe: pathlib.Path(f"/lib/{package}/{exe}"))
    g = load_graphs()["move_stack_sim"]
    assert "bag_recorder" not in GraphProcess(g, {"bag": ""}).commands
    assert "bag_recorder" in GraphProcess(g, {"bag": "/tmp/bag"}).commands


def test_nodes_of_packages_not_installed_here_say_so():
    g = load_graphs()["move_stack"]
    xs = next(n for n in g.nodes if n.package == "interbotix_xs_sdk")
    assert xs.fqn == "/follower_left/xs_sdk"
    with pytest.raises(FileNotFoundError, match="interbotix_xs_sdk"):
        node_command(xs, g.arguments, {})
