"""The Dynamixel backend runs the real dynamixel-sdk against a protocol-2.0 servo bus emulated on a pty."""
import math
import time

import numpy as np
import pytest

from diffog.robot import load_robot_description
from diffog.hardware import dynamixel_table as xt
from diffog.hardware.dynamixel_arm import DynamixelArm
from diffog.hardware.robot import RobotError
from diffog.hardware.servo_bus_emulator import SYNC_READ, SYNC_WRITE, ServoBusEmulator

IDS = load_robot_description().motor_ids


@pytest.fixture
def bus():
    with ServoBusEmulator(IDS.values()) as emulator:
        yield emulator


@pytest.fixture
def arm(bus):
    a = DynamixelArm("follower_left", bus.port, IDS, retries=3)
    yield a
    a.close()


def goal(bus, joint):
    return bus.servo(IDS[joint]).int_at(xt.GOAL_POSITION)


def test_connect_configures_shadow_motors(bus, arm):
    for joint in ("shoulder", "elbow"):
        shadow = bus.servo(IDS[f"{joint}_shadow"])
        assert shadow.table[xt.SECONDARY_ID] == IDS[joint] and shadow.table[xt.DRIVE_MODE] & 1


def test_position_round_trip_through_sync_write_and_sync_read(bus, arm):
    arm.set_torque(True)
    target = np.array([0.3, -0.96, 1.16, -0.5, -0.3, 1.0])
    arm.command_arm(target)
    arm.command_gripper(-0.62)
    assert (IDs := [i for i, inst in bus.instructions if inst == SYNC_WRITE]) and IDs[-1] == 0xFE
    assert goal(bus, "shoulder_shadow") == goal(bus, "shoulder")  # the shadow follows via its secondary id
    state = arm.read()
    assert state.position.shape == (7,)
    np.testing.assert_allclose(state.position, [*target, -0.62], atol=xt.RAD_PER_TICK)
    assert bus.instructions[-1] == (0xFE, SYNC_READ)
    # velocity and current registers come back in rad/s and mA
    bus.servo(IDS["elbow"]).set_int(xt.PRESENT_VELOCITY, -10)
    bus.servo(IDS["gripper"]).set_int(xt.PRESENT_CURRENT, 300, size=2)
    state = arm.read()
    assert state.velocity[2] == pytest.approx(-10 * 0.229 * 2 * math.pi / 60)
    assert state.effort[6] == pytest.approx(300 * 2.69)
    assert abs(time.time() - state.stamp) < 1.0


def test_torque_off_lets_a_hand_move_the_arm(bus, arm):
    arm.set_torque(True)
    assert all(s.table[xt.TORQUE_ENABLE] == 1 for s in bus.servos.values())
    arm.set_torque(False, "arm")
    assert bus.servo(IDS["shoulder_shadow"]).table[xt.TORQUE_ENABLE] == 0
    assert bus.servo(IDS["gripper"]).table[xt.TORQUE_ENABLE] == 1
    arm.command_arm(np.zeros(6))
    bus.servo(IDS["waist"]).set_int(xt.PRESENT_POSITION, xt.radians_to_ticks(0.7))  # pushed by hand
    assert arm.read().position[0] == pytest.approx(0.7, abs=xt.RAD_PER_TICK)


def test_operating_mode_and_reboot(bus, arm):
    arm.set_torque(True)
    arm.set_operating_mode("current_based_position", "gripper")
    g = bus.servo(IDS["gripper"])
    assert g.table[xt.OPERATING_MODE] == 5 and g.table[xt.TORQUE_ENABLE] == 1
    with pytest.raises(ValueError, match="unknown operating mode"):
        arm.set_operating_mode("fast", "gripper")
    with pytest.raises(ValueError, match="unknown joint"):
        arm.set_torque(True, "left_gripper")
    arm.reboot("gripper")
    assert g.table[xt.TORQUE_ENABLE] == 0 and g.table[xt.OPERATING_MODE] == 5  # RAM reset, EEPROM kept
    arm.reboot("gripper", enable_torque=True)
    assert g.table[xt.TORQUE_ENABLE] == 1


def test_a_servo_that_stops_answering_raises_within_a_timeout(bus, arm):
    bus.silent.add(IDS["wrist_angle"])
    t0 = time.monotonic()
    with pytest.raises(RobotError, match=r"not answering a ping: \[7\]"):
        arm.read()
    assert time.monotonic() - t0 < 2.0
    with pytest.raises(RobotError, match="failed after 3 tries"):
        arm.set_torque(True, "wrist_angle")
    bus.silent.clear()
    assert arm.read().position.shape == (7,)  # the bus recovers once the servo answers again


def test_corrupted_status_packets_are_retried_then_reported(bus, arm):
    bus.corrupt_replies = 1  # one bad CRC: the retry succeeds
    arm.set_torque(True, "waist")
    assert bus.servo(IDS["waist"]).table[xt.TORQUE_ENABLE] == 1
    bus.corrupt_replies = 2
    assert arm.read().position.shape == (7,)
    bus.corrupt_replies = 10 ** 6  # every reply corrupt: reported, no hang
    t0 = time.monotonic()
    with pytest.raises(RobotError, match="Incorrect status packet"):
        arm.set_torque(False, "waist")
    assert time.monotonic() - t0 < 2.0


def test_bad_commands_send_nothing(bus, arm):
    arm.set_torque(True)
    before = goal(bus, "elbow")
    n = len(bus.instructions)
    with pytest.raises(ValueError, match="non-finite"):
        arm.command_arm([0, 0, float("nan"), 0, 0, 0])
    with pytest.raises(ValueError, match="expected 6"):
        arm.command_arm([0, 0, 0])
    assert goal(bus, "elbow") == before and len(bus.instructions) == n


def test_missing_port_is_a_clear_error():
    with pytest.raises(RobotError, match="cannot open Dynamixel port /dev/ttyDXL_nope"):
        DynamixelArm("follower_left", "/dev/ttyDXL_nope", IDS)


def test_status_needing_byte_stuffing_reads_back_exactly(bus, arm):
    # current -1 (FF FF) then velocity -515 (FD FD FF FF) puts FF FF FD FD in the data: it must be stuffed
    wrist = bus.servo(IDS["wrist_rotate"])
    wrist.set_int(xt.PRESENT_CURRENT, -1, size=2)
    wrist.set_int(xt.PRESENT_VELOCITY, -515)
    state = arm.read()
    assert state.effort[5] == pytest.approx(-2.69)
    assert state.velocity[5] == pytest.approx(-515 * xt.RAD_S_PER_VELOCITY_UNIT)
