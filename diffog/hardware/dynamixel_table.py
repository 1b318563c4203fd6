"""The X-series (XM430 / XM540, protocol 2.0) control-table entries the stack uses, and their units.

From the ROBOTIS e-Manual (emanual.robotis.com, XM430-W350 control table); dynamixel-sdk ships no table for
the plain protocol-2.0 API, so the addresses live here.
"""
import math

MODEL_NUMBER = 0          # 2 bytes, EEPROM
DRIVE_MODE = 10           # 1 byte, EEPROM; bit 0 = reverse direction (the shadow motors)
OPERATING_MODE = 11       # 1 byte, EEPROM
SECONDARY_ID = 12         # 1 byte, EEPROM; a servo also obeys writes to this id (how shadows follow)
TORQUE_ENABLE = 64        # 1 byte
HARDWARE_ERROR_STATUS = 70
GOAL_POSITION = 116       # 4 bytes
PRESENT_CURRENT = 126     # 2 bytes, signed
PRESENT_VELOCITY = 128    # 4 bytes, signed
PRESENT_POSITION = 132    # 4 bytes, signed
PRESENT_BLOCK = (PRESENT_CURRENT, 10)  # current, velocity, position in one sync read
TABLE_SIZE = 147

XM430_W350 = 1020         # model number answered to a ping
NO_SECONDARY_ID = 255     # > 252 disables the secondary id

# Interbotix's operating-mode names (OperatingModes.srv) -> register value
OPERATING_MODES = {"current": 0, "velocity": 1, "position": 3, "ext_position": 4, "current_based_position": 5,
                   "pwm": 16}

TICKS_PER_REV = 4096
CENTER_TICKS = 2048
RAD_PER_TICK = 2 * math.pi / TICKS_PER_REV
RAD_S_PER_VELOCITY_UNIT = 0.229 * 2 * math.pi / 60  # 0.229 rpm
MA_PER_CURRENT_UNIT = 2.69                           # xs_sdk publishes current (mA) as joint effort


def radians_to_ticks(rad: float) -> int:
    return int(round(rad / RAD_PER_TICK)) + CENTER_TICKS


def ticks_to_radians(ticks: int) -> float:
    return (ticks - CENTER_TICKS) * RAD_PER_TICK
