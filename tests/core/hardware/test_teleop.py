"""Leader -> follower teleoperation over four emulated Dynamixel buses (the real SDK code path)."""
import contextlib
import copy

import numpy as np
import pytest

from diffog.robot import load_robot_description
from diffog.hardware import dynamixel_table as xt
from diffog.hardware.dynamixel_arm import DynamixelArm
from diffog.hardware.robot import Bimanual
from diffog.hardware.servo_bus_emulator import ServoBusEmulator
from diffog.hardware.teleop import Phase, Teleoperator

D = copy.deepcopy(load_robot_description())
D.teleop.move_time_s = 0.1
IDS = D.motor_ids


@pytest.fixture
def rig():
    with contextlib.ExitStack() as stack:
        buses = {n: stack.enter_context(ServoBusEmulator(IDS.values()))
                 for n in ("leader_left", "leader_right", "follower_left", "follower_right")}
        arms = {n: DynamixelArm(n, bus.port, IDS) for n, bus in buses.items()}
        for arm in arms.values():
            stack.callback(arm.close)
        leaders = Bimanual({s: arms[f"leader_{s}"] for s in ("left", "right")}, "leader", D)
        followers = Bimanual({s: arms[f"follower_{s}"] for s in ("left", "right")}, "follower", D)
        yield buses, Teleoperator(leaders, followers, D)


def hand_moves(bus, joint, rad):
    bus.servo(IDS[joint]).set_int(xt.PRESENT_POSITION, xt.radians_to_ticks(rad))


def goal_rad(bus, joint):
    return xt.ticks_to_radians(bus.servo(IDS[joint]).int_at(xt.GOAL_POSITION))


def test_start_pose_gesture_then_followers_track_leaders(rig):
    buses, teleop = rig
    with pytest.raises(RuntimeError, match="prepare"):
        teleop.tick()
    teleop.prepare(sleep=lambda s: None)
    g = D.gripper
    start = D.start_pose[:6]
    for name, bus in buses.items():
        assert [goal_rad(bus, j) for j in ("waist", "shoulder", "elbow")] == pytest.approx(start[:3], abs=2e-3)
        assert bus.servo(IDS["shoulder_shadow"]).int_at(xt.GOAL_POSITION) == bus.servo(IDS["shoulder"]).int_at(
            xt.GOAL_POSITION)
    assert goal_rad(buses["follower_left"], "gripper") == pytest.approx(g.follower.joint_close, abs=2e-3)
    assert goal_rad(buses["leader_left"], "gripper") == pytest.approx(
        (g.leader.joint_open + g.leader.joint_close) / 2, abs=2e-3)
    assert buses["leader_left"].servo(IDS["gripper"]).table[xt.TORQUE_ENABLE] == 0
    assert buses["leader_left"].servo(IDS["waist"]).table[xt.TORQUE_ENABLE] == 1
    assert buses["follower_left"].servo(IDS["gripper"]).table[xt.OPERATING_MODE] == 5

    # only one leader gripper squeezed: keep waiting
    hand_moves(buses["leader_left"], "gripper", -0.5)
    assert teleop.tick() is None and teleop.phase is Phase.WAITING
    hand_moves(buses["leader_right"], "gripper", -0.5)
    first = teleop.tick()
    assert teleop.phase is Phase.RUNNING
    assert all(s.table[xt.TORQUE_ENABLE] == 0 for b in ("leader_left", "leader_right")
               for s in buses[b].servos.values())
    assert first[6] == pytest.approx(g.leader.joint_to_normalized(-0.5), abs=2e-3)

    # the operator moves the left waist by 0.5 rad: the follower gets there in velocity-limited steps
    hand_moves(buses["leader_left"], "waist", 0.5)
    hand_moves(buses["leader_left"], "gripper", g.leader.joint_open)
    max_step = D.joint_limits["waist"].velocity / D.control_rate_hz
    waists = [goal_rad(buses["follower_left"], "waist")]
    for _ in range(12):
        action = teleop.tick()
        waists.append(goal_rad(buses["follower_left"], "waist"))
    assert np.max(np.diff(waists)) <= max_step + 2e-3
    assert waists[-1] == pytest.approx(0.5, abs=2e-3)
    assert action[6] == pytest.approx(1.0, abs=1e-3)
    assert goal_rad(buses["follower_left"], "gripper") == pytest.approx(
        g.leader_to_follower_joint(g.leader.joint_open), abs=2e-3)


def test_follower_command_respects_limits_and_max_step(rig):
    _, teleop = rig
    teleop.last_command = None
    lim = teleop.limits
    wild = np.where(np.arange(14) % 2 == 0, 10.0, -10.0)
    clipped = teleop.follower_command(wild)
    assert np.all(clipped <= lim.upper) and np.all(clipped >= lim.lower)
    teleop.last_command = np.where(np.arange(14) % 7 == 6, 0.5, 0.0)  # grippers half open
    step = teleop.follower_command(wild) - teleop.last_command
    np.testing.assert_allclose(np.abs(step), teleop.max_step)
    teleop.last_command = np.zeros(14)
    near = np.full(14, 0.01)
    np.testing.assert_allclose(teleop.follower_command(near), near)


def test_start_gesture_threshold_is_alohas(rig):
    _, teleop = rig
    assert teleop.start_threshold == -0.3
    assert teleop.start_gesture([-0.31, -0.4]) and not teleop.start_gesture([-0.31, -0.29])
