"""A Dynamixel protocol-2.0 servo bus on a pseudo-terminal, for testing the real dynamixel-sdk code without servos.

The SDK opens `emulator.port` (the pty's slave path) with pyserial exactly as it would /dev/ttyDXL_*. The
emulator answers PING, READ, WRITE, SYNC_READ, SYNC_WRITE and REBOOT with CRC-checked, byte-stuffed status
packets, keeps each servo's control table, honours Secondary ID (shadow motors) and can inject faults: a servo
that stops answering, corrupted status packets, or the USB adapter pulled out (`unplug()`: the pty closes, so the
SDK's reads and writes fail with EIO) and plugged back in (`plug()`: a new pty; with `link`, a stable device path
such as udev's /dev/ttyDXL_* symlinks points at it). Written by hand because no maintained Python emulator of the
protocol exists; the CRC is dynamixel-sdk's own.
"""
from __future__ import annotations

import os
import pathlib
import select
import struct
import threading
import tty
from collections.abc import Iterable

from dynamixel_sdk import Protocol2PacketHandler

from diffog.hardware import dynamixel_table as xt

HEADER = bytes([0xFF, 0xFF, 0xFD, 0x00])
BROADCAST = 0xFE
PING, READ, WRITE, REBOOT, SYNC_READ, SYNC_WRITE, STATUS = 0x01, 0x02, 0x03, 0x08, 0x82, 0x83, 0x55
ERR_CRC, ERR_INSTRUCTION, ERR_ACCESS = 3, 2, 7
_crc = Protocol2PacketHandler().updateCRC


def _stuff(body: bytes) -> bytes:
    out = bytearray()
    for b in body:
        out.append(b)
        if b == 0xFD and out[-3:] == b"\xff\xff\xfd" and len(out) >= 3:
            out.append(0xFD)
    return bytes(out)


def _unstuff(body: bytes) -> bytes:
    out = bytearray()
    i = 0
    while i < len(body):
        out.append(body[i])
        if body[i] == 0xFD and len(out) >= 3 and out[-3:] == b"\xff\xff\xfd" and i + 1 < len(body) and body[i + 1] == 0xFD:
            i += 1
        i += 1
    return bytes(out)


class Servo:
    """One X-series servo's control table (position mode, torque off, centred)."""

    def __init__(self, servo_id: int):
        self.id = servo_id
        self.table = bytearray(xt.TABLE_SIZE)
        self.reset()

    def reset(self) -> None:
        """Power-on / reboot: RAM back to defaults, EEPROM (id, modes, secondary id) kept."""
        eeprom = bytes(self.table[:64])
        self.table[:] = bytearray(xt.TABLE_SIZE)
        if any(eeprom):
            self.table[:64] = eeprom
        else:
            self.write(xt.MODEL_NUMBER, struct.pack("<H", xt.XM430_W350))
            self.table[xt.OPERATING_MODE] = xt.OPERATING_MODES["position"]
            self.table[xt.SECONDARY_ID] = xt.NO_SECONDARY_ID
        self.write(xt.PRESENT_POSITION, struct.pack("<i", xt.CENTER_TICKS))
        self.write(xt.GOAL_POSITION, struct.pack("<i", xt.CENTER_TICKS))

    def read(self, address: int, length: int) -> bytes:
        return bytes(self.table[address:address + length])

    def write(self, address: int, data: bytes) -> None:
        self.table[address:address + len(data)] = data
        # an ideal servo: with torque on it is where it was told to be
        if address <= xt.GOAL_POSITION < address + len(data) and self.table[xt.TORQUE_ENABLE]:
            self.table[xt.PRESENT_POSITION:xt.PRESENT_POSITION + 4] = self.table[xt.GOAL_POSITION:xt.GOAL_POSITION + 4]

    def int_at(self, address: int, size: int = 4) -> int:
        return int.from_bytes(self.table[address:address + size], "little", signed=True)

    def set_int(self, address: int, value: int, size: int = 4) -> None:
        self.table[address:address + size] = int(value).to_bytes(size, "little", signed=True)


class ServoBusEmulator:
    """Servos `ids` on a pty; use as a context manager. `port` is the device path to give dynamixel-sdk: the pty's
    own, or `link` (a symlink kept pointing at the current pty, removed while unplugged). The servos keep their
    state across unplug / plug, as servos powered apart from the adapter do."""

    def __init__(self, ids: Iterable[int], link: str | os.PathLike | None = None):
        self.servos = {i: Servo(i) for i in ids}
        self.silent: set[int] = set()
        self.corrupt_replies = 0          # corrupt this many upcoming status packets (bad CRC)
        self.instructions: list[tuple[int, int]] = []  # (id, instruction) received, for tests
        self._lock = threading.Lock()
        self._link = pathlib.Path(link) if link is not None else None
        self._pty_path = ""
        self._fds: tuple[int, int, int, int] | None = None   # master, slave, wake pipe (read, write)
        self._thread: threading.Thread | None = None
        self.plug()

    @property
    def port(self) -> str:
        return str(self._link) if self._link is not None else self._pty_path

    @property
    def plugged(self) -> bool:
        return self._fds is not None

    def plug(self) -> None:
        """Connect the adapter: a new pty served by a new thread (a no-op when plugged)."""
        if self._fds is not None:
            return
        master, slave = os.openpty()
        tty.setraw(slave)
        self._pty_path = os.ttyname(slave)
        if self._link is not None:  # replace atomically, as udev re-creates its symlink
            tmp = self._link.with_name(f".{self._link.name}.{os.getpid()}.tmp")
            tmp.unlink(missing_ok=True)
            tmp.symlink_to(self._pty_path)
            os.replace(tmp, self._link)
        self._fds = (master, slave, *os.pipe())
        self._thread = threading.Thread(target=self._serve, args=(master, self._fds[2]), name="servo-bus-emulator",
                                        daemon=True)
        self._thread.start()

    def unplug(self) -> None:
        """Pull the adapter out: serving stops and the pty closes, so the SDK's next read or write fails (EIO) and
        the device path (`link`) disappears (a no-op when unplugged)."""
        if self._fds is None:
            return
        master, slave, wake_r, wake_w = self._fds
        os.write(wake_w, b"x")
        self._thread.join(timeout=5)
        for fd in (master, slave, wake_r, wake_w):
            os.close(fd)
        self._fds = None
        if self._link is not None:
            self._link.unlink(missing_ok=True)

    def __enter__(self) -> ServoBusEmulator:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.unplug()

    def servo(self, servo_id: int) -> Servo:
        return self.servos[servo_id]

    # --- the bus -------------------------------------------------------------------------------------------
    def _serve(self, master: int, wake_r: int) -> None:
        buf = bytearray()
        while True:
            ready, _, _ = select.select([master, wake_r], [], [])
            if wake_r in ready:
                return
            try:
                buf += os.read(master, 4096)
            except OSError:
                return
            while (packet := self._take_packet(buf)) is not None:
                with self._lock:
                    for reply in self._handle(packet):
                        os.write(master, reply)

    @staticmethod
    def _take_packet(buf: bytearray) -> bytes | None:
        start = buf.find(HEADER)
        if start < 0:
            del buf[:max(0, len(buf) - 3)]
            return None
        del buf[:start]
        if len(buf) < 7:
            return None
        total = 7 + int.from_bytes(buf[5:7], "little")
        if len(buf) < total:
            return None
        packet = bytes(buf[:total])
        del buf[:total]
        return packet

    def _handle(self, packet: bytes) -> list[bytes]:
        dxl_id, inst = packet[4], packet[7]
        self.instructions.append((dxl_id, inst))
        if _crc(0, list(packet[:-2]), len(packet) - 2) != int.from_bytes(packet[-2:], "little"):
            return [self._status(dxl_id, ERR_CRC)] if dxl_id in self.servos else []
        params = _unstuff(packet[8:-2])
        if inst == SYNC_READ:
            address, length = struct.unpack_from("<HH", params)
            return [self._status(i, 0, self.servos[i].read(address, length)) for i in params[4:] if i in self.servos]
        if inst == SYNC_WRITE:
            address, length = struct.unpack_from("<HH", params)
            for k in range(4, len(params), length + 1):
                for servo in self._addressed(params[k]):
                    servo.write(address, params[k + 1:k + 1 + length])
            return []
        targets = self._addressed(dxl_id)
        for servo in targets:
            if inst == WRITE:
                address = struct.unpack_from("<H", params)[0]
                servo.write(address, params[2:])
            elif inst == REBOOT:
                servo.reset()
        primary = self.servos.get(dxl_id)
        if primary is None:  # broadcast or secondary id: no status packet
            return []
        if inst == PING:
            return [self._status(dxl_id, 0, primary.read(xt.MODEL_NUMBER, 2) + b"\x2d")]
        if inst == READ:
            address, length = struct.unpack_from("<HH", params)
            return [self._status(dxl_id, 0, primary.read(address, length))]
        if inst in (WRITE, REBOOT):
            return [self._status(dxl_id, 0)]
        return [self._status(dxl_id, ERR_INSTRUCTION)]

    def _addressed(self, dxl_id: int) -> list[Servo]:
        return [s for s in self.servos.values()
                if dxl_id in (s.id, BROADCAST) or s.table[xt.SECONDARY_ID] == dxl_id]

    def _status(self, dxl_id: int, error: int, data: bytes = b"") -> bytes:
        if dxl_id in self.silent:
            return b""
        body = _stuff(bytes([STATUS, error]) + data)
        packet = bytearray(HEADER + bytes([dxl_id]) + (len(body) + 2).to_bytes(2, "little") + body)
        crc = _crc(0, list(packet), len(packet))
        if self.corrupt_replies > 0:
            self.corrupt_replies -= 1
            crc ^= 0x5A5A
        return bytes(packet + crc.to_bytes(2, "little"))
