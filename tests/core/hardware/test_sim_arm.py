"""The sim backend: the robot interface over diffog.sim's MuJoCo ALOHA."""
import numpy as np
import pytest

from diffog.robot import load_robot_description
from diffog.hardware.robot import Bimanual, RobotError
from diffog.hardware.sim_arm import SimRobot

sim = pytest.importorskip("diffog.sim")


@pytest.fixture
def robot():
    env = sim.make_env("transfer_cube", seed=0)
    yield SimRobot(env)
    env.close()


def test_commands_reach_the_sim_and_reads_match_its_qpos(robot):
    left = robot.arms["left"]
    follower = load_robot_description().gripper.follower
    left.command_arm([0.2, -0.96, 1.16, 0.0, -0.3, 0.0])
    left.command_gripper(follower.joint_open)
    for _ in range(50):
        robot.step()
    state = left.read()
    assert state.position[0] == pytest.approx(0.2, abs=5e-3)
    assert follower.joint_to_normalized(state.position[6]) > 0.9  # opened (the sim fingers settle just short)
    qpos, _, effort, _ = Bimanual(robot.arms, "follower").observe()
    np.testing.assert_allclose(qpos, robot.env.qpos(), atol=1e-9)  # finger normalization round trips
    assert effort.shape == (14,)
    assert robot.arms["right"].read().position[0] == pytest.approx(0.0, abs=5e-3)  # untouched arm holds


def test_bimanual_command_drives_both_arms_and_rejects_nan(robot):
    bots = Bimanual(robot.arms, "follower")
    action = robot.env.qpos()
    action[[0, 7]] = [0.1, -0.1]
    bots.command(action)
    before = robot.target.copy()
    with pytest.raises(ValueError, match="non-finite"):
        bots.command(np.full(14, np.nan))
    np.testing.assert_array_equal(robot.target, before)
    for _ in range(40):
        robot.step()
    assert bots.observe()[0][[0, 7]] == pytest.approx([0.1, -0.1], abs=5e-3)


def test_torque_and_modes(robot):
    left = robot.arms["left"]
    left.set_torque(False)
    assert robot.env.torque_on["left"] is False
    with pytest.raises(RobotError, match="per arm"):
        left.set_torque(True, "gripper")
    with pytest.raises(RobotError, match="position-controlled"):
        left.set_operating_mode("current", "arm")
    left.reboot("all", enable_torque=True)
    assert robot.env.torque_on["left"] is True
