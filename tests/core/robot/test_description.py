"""aloha.yaml enters as typed objects: anything missing, mistyped or impossible is refused where it is read."""
import copy
import math

import pytest
import yaml

from diffog.robot import ROBOT_DESCRIPTION, DescriptionError, JointLimits, load_robot_description


def test_shipped_description_loads_typed():
    d = load_robot_description()
    assert d.action_dim == 14 and d.action_joint_names[6] == "left_gripper"
    assert d.policy_joint_names(["right"]) == d.action_joint_names[7:]
    assert d.joint_indices(d.policy_joint_names(["right"])) == list(range(7, 14))
    assert d.ros_interface.topic("joint_states", arm_ns="follower_left") == "/follower_left/joint_states"
    assert JointLimits.from_description(d).upper.shape == (14,)


def test_round_trip_through_yaml(tmp_path):
    d = load_robot_description()
    d.teleop.move_time_s = 0.2
    (tmp_path / "a.yaml").write_text(d.to_yaml())
    assert load_robot_description(tmp_path / "a.yaml") == d


def _edit(raw, path, value):
    node = raw
    for k in path[:-1]:
        node = node[k]
    if value is KeyError:
        del node[path[-1]]
    else:
        node[path[-1]] = value


RAW = yaml.safe_load(ROBOT_DESCRIPTION.read_text())


@pytest.mark.parametrize("path, value, says", [
    (("joint_limits", "elbow", "upper"), None, "joint_limits.elbow.upper"),   # `upper:` left blank
    (("joint_limits", "elbow", "upper"), math.nan, "finite"),
    (("joint_limits", "elbow", "lower"), 2.0, "lower < upper"),
    (("joint_limits", "elbow", "velocity"), 0.0, "velocity > 0"),
    (("joint_limits", "elbow"), KeyError, "lacks ['elbow']"),
    (("control_rate_hz",), math.inf, "control_rate_hz"),
    (("control_rate_hz",), "fast", "control_rate_hz"),
    (("arms",), KeyError, "arms"),
    (("arm_joint",), ["waist"], "arm_joint"),                               # a misspelt key
    (("start_pose",), [0.0] * 5, "start_pose"),
    (("gripper", "follower", "joint_open"), -0.6213, "differ"),
    (("teleop", "move_time_s"), -1.0, "positive"),
])
def test_bad_descriptions_are_refused(tmp_path, path, value, says):
    raw = copy.deepcopy(RAW)
    _edit(raw, path, value)
    (tmp_path / "aloha.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(DescriptionError) as e:
        load_robot_description(tmp_path / "aloha.yaml")
    assert says in str(e.value) and "aloha.yaml" in str(e.value)
