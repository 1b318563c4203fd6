"""Backend faults: the Dynamixel adapter unplugged mid-run. Every operation then fails with the backend's RobotError
naming the port (never a raw termios / struct error), nothing reaches a servo, the port is closed rather than
left "in use", and once the adapter is back the same arm reconnects on the same device path."""
import numpy as np
import pytest

from diffog.hardware import dynamixel_table as xt
from diffog.hardware.dynamixel_arm import DynamixelArm
from diffog.hardware.robot import RobotError
from diffog.hardware.servo_bus_emulator import ServoBusEmulator
from diffog.robot import load_robot_description

IDS = load_robot_description().motor_ids


@pytest.fixture
def bus(tmp_path):
    with ServoBusEmulator(IDS.values(), link=tmp_path / "ttyDXL_follower_left") as emulator:
        yield emulator


def goals(bus) -> list[int]:
    return [bus.servo(i).int_at(xt.GOAL_POSITION) for i in IDS.values()]


def test_unplugged_port_is_a_robot_error_naming_it_and_reopens_when_back(bus, fault):
    arm = DynamixelArm("follower_left", bus.port, IDS, retries=3)
    try:
        arm.set_torque(True)
        arm.command_arm([0.1, -0.9, 1.1, 0.0, -0.3, 0.2])
        before = arm.read()
        held = goals(bus)

        bus.unplug()  # mid-run: the port was open and in use
        for op in (arm.read, lambda: arm.command_arm([0.5] * 6), lambda: arm.command_gripper(0.3),
                   lambda: arm.set_torque(False), lambda: arm.set_operating_mode("position"), arm.reboot):
            with pytest.raises(RobotError, match=str(bus.port)) as err:
                op()
            assert isinstance(err.value, RobotError)  # not termios.error / struct.error / SerialException
        assert not arm.connected and not arm._port.is_using  # closed, not "in use" forever
        fault.unsafe_commands += sum(a != b for a, b in zip(held, goals(bus)))  # nothing reached a servo
        with pytest.raises(RobotError, match="cannot open Dynamixel port"):
            arm.reconnect()  # the device is still gone

        bus.plug()  # the adapter is back (a new pty behind the same path)
        arm.reconnect()
        assert arm.connected
        np.testing.assert_allclose(arm.read().position, before.position, atol=xt.RAD_PER_TICK)
        arm.command_arm([0.2, -0.9, 1.1, 0.0, -0.3, 0.2])  # a sync write: no reply, so read back after it
        assert arm.read().position[0] == pytest.approx(0.2, abs=xt.RAD_PER_TICK)
        assert fault.unsafe_commands == 0
    finally:
        arm.close()


def test_a_fresh_arm_opens_the_port_a_failed_one_closed(bus, fault):
    """A fresh arm (a restarted node) opens the port the failed one closed."""
    arm = DynamixelArm("follower_left", bus.port, IDS)
    bus.unplug()
    with pytest.raises(RobotError, match=str(bus.port)):
        arm.read()
    bus.plug()
    again = DynamixelArm("follower_left", bus.port, IDS)
    try:
        assert again.read().position.shape == (7,)
    finally:
        again.close()
        arm.close()
    assert fault.unsafe_commands == 0


def test_reconnect_to_a_live_arm_keeps_its_torque(bus, fault):
    """Reconnecting after an unplug does not torque off the (already configured) shadow motors of a holding arm."""
    arm = DynamixelArm("follower_left", bus.port, IDS)
    try:
        arm.set_torque(True)
        bus.unplug()
        with pytest.raises(RobotError, match=str(bus.port)):
            arm.command_gripper(0.1)
        bus.plug()
        arm.reconnect()
        torque = {j: bus.servo(i).table[xt.TORQUE_ENABLE] for j, i in IDS.items()}
        fault.unsafe_commands += sum(not on for on in torque.values())  # a servo let go of the arm
        assert all(torque.values()), torque
    finally:
        arm.close()
