"""SimServer: the sim as xs_sdk joint_states and commands, without ROS (the sim node is a shell over it)."""
import math

import numpy as np
import pytest

from diffog.hardware.robot import RobotError
from diffog.sim.server import JOINT_STATE_NAMES, SimServer


@pytest.fixture(scope="module")
def server():
    s = SimServer("transfer_cube", seed=0)
    yield s
    s.close()


def run(server, seconds):
    for _ in range(round(seconds / server.env.dt)):
        server.step()


def test_joint_state_fields_are_xs_sdk_layout(server):
    server.reset(0)
    f = server.joint_state("follower_right")
    assert f.name == JOINT_STATE_NAMES and len(f.position) == len(f.velocity) == len(f.effort) == 9
    assert f.position[7] == pytest.approx(-f.position[8]) and f.position[7] > 0  # fingers mirror each other
    np.testing.assert_allclose(f.position[:6], server.env.qpos()[7:13])


def test_group_and_single_commands_move_only_what_they_name(server):
    server.reset(0)
    start = server.joint_state("follower_left").position
    server.command_group("follower_left", "arm", [0.3, *start[1:6]])
    server.command_single("follower_left", "wrist_rotate", 0.5)
    run(server, 1.0)
    now = server.joint_state("follower_left").position
    assert now[0] == pytest.approx(0.3, abs=0.02) and now[5] == pytest.approx(0.5, abs=0.03)
    np.testing.assert_allclose(now[1:5], start[1:5], atol=0.02)
    np.testing.assert_allclose(server.joint_state("follower_right").position[:6], start[:6], atol=0.02)


@pytest.mark.parametrize("arm, call, args, error", [
    ("follower_left", "command_group", ("arm", [math.nan] * 6), ValueError),
    ("follower_left", "command_group", ("all", [0.0] * 6), ValueError),
    ("follower_left", "command_group", ("wrist", [0.0] * 6), ValueError),
    ("follower_left", "command_single", ("elbow_shadow", 0.0), ValueError),
    ("leader_left", "command_single", ("gripper", 0.0), RobotError),
])
def test_bad_commands_raise_and_keep_the_goal(server, arm, call, args, error):
    server.reset(0)
    goal = server.robot.target.copy()
    with pytest.raises(error):
        getattr(server, call)(arm, *args)
    np.testing.assert_array_equal(server.robot.target, goal)


def test_reset_starts_the_next_seed_holding_still(server):
    server.reset(4)
    server.command_group("follower_left", "arm", [0.5, -0.96, 1.16, 0.0, -0.3, 0.0])
    run(server, 0.2)
    server.reset()
    assert server.seed == 5 and server.time == 0.0
    run(server, 0.2)
    assert server.joint_state("follower_left").position[0] == pytest.approx(0.0, abs=0.01)
