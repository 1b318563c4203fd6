"""An ALOHA arm driven directly over its Dynamixel bus with dynamixel-sdk (protocol 2.0, X-series servos).

Reads present current/velocity/position of the seven joints in one GroupSyncRead and commands the six arm
joints in one GroupSyncWrite. The shoulder and elbow shadow motors follow their masters through the Secondary
ID register (configured at connect, reversed through Drive Mode), as Interbotix's xs_sdk configures them.
Every exchange that expects an answer is retried `retries` times, then raises RobotError naming what failed.
An I/O error of the port itself (the adapter unplugged: termios / serial / OS errors, a truncated reply) raises
RobotError naming the port and closes it, so nothing is left "in use"; `reconnect()` opens it again.
"""
from __future__ import annotations

import struct
import termios
import threading
import time
from collections.abc import Mapping, Sequence

import numpy as np
from dynamixel_sdk import COMM_SUCCESS, GroupSyncRead, GroupSyncWrite, PacketHandler, PortHandler

from diffog.hardware import dynamixel_table as xt
from diffog.hardware.robot import Arm, ArmState, RobotError, checked_positions

REBOOT_TIMEOUT_S = 2.0
SHADOWS = {"shoulder": "shoulder_shadow", "elbow": "elbow_shadow"}
# what dynamixel-sdk / pyserial raise when the device goes away under them (serial.SerialException is an OSError)
PORT_ERRORS = (OSError, termios.error, struct.error)


class DynamixelArm(Arm):
    """One arm on one serial bus (e.g. /dev/ttyDXL_follower_left); `motor_ids` as aloha.yaml `motor_ids`."""

    def __init__(self, name: str, port: str, motor_ids: Mapping[str, int], *, baudrate: int = 1_000_000,
                 retries: int = 3):
        super().__init__(name)
        missing = [j for j in (*self.JOINTS, *SHADOWS.values()) if j not in motor_ids]
        if missing:
            raise ValueError(f"{name}: motor_ids lacks {missing}")
        self.ids = {j: int(motor_ids[j]) for j in self.JOINTS}
        self.shadow_ids = {j: int(motor_ids[s]) for j, s in SHADOWS.items()}
        self.port, self.baudrate, self.retries = port, baudrate, retries
        self._lock = threading.Lock()  # the SDK's port is not thread-safe
        self._port = PortHandler(port)
        self._ph = PacketHandler(2.0)
        self._reader = GroupSyncRead(self._port, self._ph, *xt.PRESENT_BLOCK)
        for j in self.JOINTS:
            self._reader.addParam(self.ids[j])
        self._arm_writer = GroupSyncWrite(self._port, self._ph, xt.GOAL_POSITION, 4)
        self._connect()

    def _connect(self) -> None:
        """Open the port and configure the shadow motors; RobotError (port closed again) when either fails."""
        if self._port.getCFlagBaud(self.baudrate) <= 0:
            raise RobotError(f"{self.name}: baud rate {self.baudrate} is not supported by dynamixel-sdk")
        with self._lock:
            try:
                self._port.setBaudRate(self.baudrate)  # opens the port at that rate
            except Exception as e:  # pyserial raises SerialException / OSError for a missing or busy device
                self._drop_port()
                raise RobotError(f"{self.name}: cannot open Dynamixel port {self.port}: {e}") from e
        try:
            self._configure_shadows()
        except RobotError:
            self.close()
            raise

    def reconnect(self) -> None:
        """Close the port if it is open and open it again (after an unplug, once the adapter is back); the servos'
        torque and goals are not touched. RobotError while the device is still missing."""
        self.close()
        self._connect()

    @property
    def connected(self) -> bool:
        return bool(self._port.is_open)

    def _configure_shadows(self) -> None:
        for joint, shadow in self.shadow_ids.items():
            # EEPROM survives power cycles and unplugs: a configured shadow (a reconnect to a live, torqued arm)
            # is left alone rather than torqued off
            if (self._read_byte(shadow, xt.SECONDARY_ID) == self.ids[joint]
                    and self._read_byte(shadow, xt.DRIVE_MODE) & 1):
                continue
            self._write(shadow, xt.TORQUE_ENABLE, 0, 1)
            self._write(shadow, xt.SECONDARY_ID, self.ids[joint], 1)
            self._write(shadow, xt.DRIVE_MODE, 1, 1)  # reversed: it turns against its master

    # --- bus exchanges -----------------------------------------------------------------------------------
    def _drop_port(self) -> None:
        """Close the port whatever state an exception left it in (the SDK's `is_using` flag included)."""
        self._port.is_using = False
        self._port.is_open = False
        try:
            if self._port.ser is not None:
                self._port.ser.close()
        except Exception:  # noqa: BLE001 - closing a vanished device may fail too; it is closed either way
            pass

    def _io(self, what: str, exchange):
        """`exchange()` under the port lock. Port I/O errors close the port and raise RobotError naming it."""
        with self._lock:
            if not self._port.is_open:
                raise RobotError(f"{self.name}: Dynamixel port {self.port} is closed (after an I/O error or "
                                 f"close()); reconnect() to open it again ({what})")
            try:
                return exchange()
            except PORT_ERRORS as e:
                self._drop_port()
                raise RobotError(f"{self.name}: I/O error on Dynamixel port {self.port} during {what} (unplugged?): "
                                 f"{type(e).__name__}: {e}; the port is closed, reconnect() opens it again") from e

    def _retry(self, what: str, exchange) -> object:
        """Run `exchange()` -> (value, comm_result, servo_error) until it succeeds or retries run out."""
        reason = ""
        for _ in range(self.retries):
            value, result, error = exchange()
            if result == COMM_SUCCESS and not error:
                return value
            reason = self._ph.getTxRxResult(result) if result != COMM_SUCCESS else self._ph.getRxPacketError(error)
        raise RobotError(f"{self.name}: {what} failed after {self.retries} tries: {reason}")

    def _write(self, dxl_id: int, address: int, value: int, size: int) -> None:
        data = list(value.to_bytes(size, "little", signed=value < 0))
        what = f"write of register {address} on servo {dxl_id}"
        self._io(what, lambda: self._retry(what, lambda: (None, *self._ph.writeTxRx(self._port, dxl_id, address,
                                                                                     size, data))))

    def _read_byte(self, dxl_id: int, address: int) -> int:
        what = f"read of register {address} on servo {dxl_id}"
        return self._io(what, lambda: self._retry(what, lambda: self._ph.read1ByteTxRx(self._port, dxl_id, address)))

    def _silent_servos(self, servos) -> list[int]:
        """The servos not answering a ping (call under the port lock)."""
        return [i for i in servos if self._ph.ping(self._port, i)[1] != COMM_SUCCESS]

    # --- Arm ---------------------------------------------------------------------------------------------
    def read(self) -> ArmState:
        what = "sync read of present current/velocity/position"

        def exchange():
            try:
                self._retry(what, lambda: (None, self._reader.txRxPacket(), 0))
            except RobotError as e:
                raise RobotError(f"{e}; servos not answering a ping: {self._silent_servos(self.ids.values())}") \
                    from None
            stamp = time.time()
            block = [bytes(self._reader.data_dict[self.ids[j]]) for j in self.JOINTS]
            return stamp, [struct.unpack("<hii", b) for b in block]  # struct.error for a truncated reply

        stamp, values = self._io(what, exchange)
        current, velocity, position = zip(*values)
        return ArmState(position=np.array([xt.ticks_to_radians(p) for p in position]),
                        velocity=np.array(velocity) * xt.RAD_S_PER_VELOCITY_UNIT,
                        effort=np.array(current) * xt.MA_PER_CURRENT_UNIT, stamp=stamp)

    def command_arm(self, positions: Sequence[float]) -> None:
        p = checked_positions(self.name, positions, len(self.ARM_JOINTS))

        def exchange():
            self._arm_writer.clearParam()
            for joint, rad in zip(self.ARM_JOINTS, p):
                self._arm_writer.addParam(self.ids[joint], list(struct.pack("<i", xt.radians_to_ticks(rad))))
            return self._arm_writer.txPacket()  # a sync write has no status packet to retry on

        result = self._io("arm sync write", exchange)
        if result != COMM_SUCCESS:
            raise RobotError(f"{self.name}: arm sync write failed: {self._ph.getTxRxResult(result)}")

    def command_gripper(self, position: float) -> None:
        rad = checked_positions(self.name, [position], 1)[0]
        self._write(self.ids[self.GRIPPER], xt.GOAL_POSITION, xt.radians_to_ticks(rad), 4)

    def _servos(self, target: str) -> list[int]:
        joints = self.joints_of(target)
        return [self.ids[j] for j in joints] + [self.shadow_ids[j] for j in joints if j in self.shadow_ids]

    def set_torque(self, enable: bool, target: str = "all") -> None:
        for dxl_id in self._servos(target):
            self._write(dxl_id, xt.TORQUE_ENABLE, int(enable), 1)

    def set_operating_mode(self, mode: str, target: str = "all") -> None:
        if mode not in xt.OPERATING_MODES:
            raise ValueError(f"unknown operating mode {mode!r}; expected one of {sorted(xt.OPERATING_MODES)}")
        for dxl_id in self._servos(target):
            # the mode lives in EEPROM, writable only with torque off; torque is restored afterwards
            torque = self._read_byte(dxl_id, xt.TORQUE_ENABLE)
            self._write(dxl_id, xt.TORQUE_ENABLE, 0, 1)
            self._write(dxl_id, xt.OPERATING_MODE, xt.OPERATING_MODES[mode], 1)
            if torque:
                self._write(dxl_id, xt.TORQUE_ENABLE, 1, 1)

    def reboot(self, target: str = "all", enable_torque: bool = False) -> None:
        servos = self._servos(target)
        for dxl_id in servos:
            what = f"reboot of servo {dxl_id}"
            self._io(what, lambda: self._retry(what, lambda: (None, *self._ph.reboot(self._port, dxl_id))))
        deadline = time.monotonic() + REBOOT_TIMEOUT_S  # a servo is silent while it boots
        while silent := self._io("ping after a reboot", lambda: self._silent_servos(servos)):
            if time.monotonic() > deadline:
                raise RobotError(f"{self.name}: servos {silent} did not come back after a reboot")
        if enable_torque:
            self.set_torque(True, target)

    def close(self) -> None:
        with self._lock:
            if self._port.is_open:
                self._drop_port()
