"""One robot interface for every backend (Dynamixel bus, Interbotix xs_sdk topics, the sim), per arm, and the
bimanual view in ALOHA's 14-dim layout (6 joints + normalized gripper per arm)."""
from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from diffog.robot import GripperConstants, RobotDescription, finite_vector, load_robot_description


class RobotError(RuntimeError):
    """The robot did not do what was asked (no answer, corrupt replies, a servo error); the caller should hold."""


@dataclass(frozen=True)
class ArmState:
    """One read of an arm's seven motor joints: six arm joints then the gripper joint (xs_sdk's joint_states)."""

    position: np.ndarray        # rad
    velocity: np.ndarray        # rad/s
    effort: np.ndarray          # motor current, mA (what xs_sdk publishes as effort)
    stamp: float                # s (time.time()) when it was read
    finger_position: float | None = None   # m, when the backend reports the finger (xs_sdk's left_finger)
    finger_velocity: float | None = None   # m/s


class Arm(abc.ABC):
    """An Interbotix-style arm: 6 arm joints (group "arm") and a gripper (joint "gripper"); "all" is both.
    Gripper commands and readings are the gripper joint's angle (rad); normalization happens in `Bimanual`."""

    ARM_JOINTS: tuple[str, ...] = ("waist", "shoulder", "elbow", "forearm_roll", "wrist_angle", "wrist_rotate")
    GRIPPER = "gripper"
    JOINTS: tuple[str, ...] = (*ARM_JOINTS, GRIPPER)

    def __init__(self, name: str):
        self.name = name

    @abc.abstractmethod
    def read(self) -> ArmState:
        """Present positions, velocities and efforts; RobotError when the arm does not answer."""

    @abc.abstractmethod
    def command_arm(self, positions: Sequence[float]) -> None:
        """Goal positions (rad) of the six arm joints."""

    @abc.abstractmethod
    def command_gripper(self, position: float) -> None:
        """Goal angle (rad) of the gripper joint."""

    @abc.abstractmethod
    def set_torque(self, enable: bool, target: str = "all") -> None:
        """Torque on/off for "all", "arm" or one joint name."""

    @abc.abstractmethod
    def set_operating_mode(self, mode: str, target: str = "all") -> None:
        """Interbotix mode name ("position", "current_based_position", ...) for "all", "arm" or a joint."""

    @abc.abstractmethod
    def reboot(self, target: str = "all", enable_torque: bool = False) -> None:
        """Reboot motors (clears hardware errors), then torque them on when asked."""

    def close(self) -> None:
        """Release the port or connection."""

    def joints_of(self, target: str) -> tuple[str, ...]:
        """The joints a target names; ValueError for anything else."""
        if target == "all":
            return self.JOINTS
        if target == "arm":
            return self.ARM_JOINTS
        if target in self.JOINTS:
            return (target,)
        raise ValueError(f"{self.name}: unknown joint or group {target!r}; expected 'all', 'arm' or one of {self.JOINTS}")


def checked_positions(name: str, positions: Sequence[float], count: int) -> np.ndarray:
    """Finite goal positions of the right length, else ValueError (nothing is sent)."""
    return finite_vector(f"{name} goal positions", positions, count)


class Bimanual:
    """Left and right arms of one role ("leader" or "follower") in ALOHA's 14-dim layout."""

    def __init__(self, arms: Mapping[str, Arm], role: str, description: RobotDescription | None = None):
        d = description or load_robot_description()
        if list(arms) != list(d.arms):
            raise ValueError(f"expected arms {d.arms}, got {list(arms)}")
        if role not in ("leader", "follower"):
            raise ValueError(f"role must be 'leader' or 'follower', got {role!r}")
        self.arms = dict(arms)
        self.gripper: GripperConstants = getattr(d.gripper, role)

    def read(self) -> dict[str, ArmState]:
        return {side: arm.read() for side, arm in self.arms.items()}

    def observe(self, states: Mapping[str, ArmState] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        """qpos, qvel, effort (14 each, gripper normalized 0 closed .. 1 open) and the oldest read stamp, from a
        fresh read or from `states` already read."""
        states = states or self.read()
        return (*to_aloha(states, self.gripper), min(s.stamp for s in states.values()))

    def command(self, action: Sequence[float]) -> None:
        """Send a 14-dim ALOHA action (gripper normalized); ValueError before anything is sent if it is bad."""
        a = checked_positions("action", action, 7 * len(self.arms))
        for k, arm in enumerate(self.arms.values()):
            arm.command_arm(a[7 * k:7 * k + 6])
            arm.command_gripper(float(self.gripper.normalized_to_joint(a[7 * k + 6])))

    def set_torque(self, enable: bool, target: str = "all") -> None:
        for arm in self.arms.values():
            arm.set_torque(enable, target)

    def close(self) -> None:
        for arm in self.arms.values():
            arm.close()


def to_aloha(states: Mapping[str, ArmState], gripper: GripperConstants) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ALOHA's qpos / qvel / effort from per-arm states: the finger position normalized when the backend reports
    it (as ALOHA's real_env does), else the gripper joint normalized (ALOHA's linear joint<->finger map)."""
    qpos, qvel, effort = [], [], []
    for s in states.values():
        if s.finger_position is not None:
            g_pos = gripper.position_to_normalized(s.finger_position)
            g_vel = gripper.velocity_to_normalized(s.finger_velocity or 0.0)
        else:
            g_pos = gripper.joint_to_normalized(s.position[6])
            g_vel = gripper.joint_velocity_to_normalized(s.velocity[6])
        qpos += [*s.position[:6], g_pos]
        qvel += [*s.velocity[:6], g_vel]
        effort += list(s.effort[:7])
    return np.array(qpos), np.array(qvel), np.array(effort)


# the names an xs_sdk joint_states message of an ALOHA arm (vx300s / wx250s) carries
JOINT_STATE_NAMES: tuple[str, ...] = (*Arm.JOINTS, "left_finger", "right_finger")


def _finite_field(field: str, values: Sequence[float], names: Sequence[str]) -> np.ndarray:
    """One joint_states field as float64, the names' length (velocity and effort may be empty), all finite."""
    try:
        v = np.asarray(values, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as e:
        raise ValueError(f"joint_states {field} is not a list of numbers: {e}") from None
    if len(v) != len(names) and not (len(v) == 0 and field != "position"):
        raise ValueError(f"joint_states has {len(names)} names but {len(v)} {field} values")
    if not np.all(np.isfinite(v)):
        bad = [n for n, x in zip(names, v) if not np.isfinite(x)]
        raise ValueError(f"joint_states has non-finite {field} (NaN or inf) for {bad}")
    return v


def arm_state_from_joint_state(names: Sequence[str], position: Sequence[float], velocity: Sequence[float],
                               effort: Sequence[float], stamp: float) -> ArmState:
    """An ArmState from an xs_sdk joint_states message's fields (joints by name, in any order; `left_finger` when
    present). Empty velocity / effort (allowed by sensor_msgs/JointState) read as zeros. A malformed message raises
    ValueError saying what is wrong, before anything is used: a field whose length differs from the names', a
    duplicate, unknown or missing joint, a non-finite value."""
    names = [str(n) for n in names]
    index = {n: i for i, n in enumerate(names)}
    if len(index) != len(names):
        raise ValueError(f"joint_states names a joint twice: {names}")
    if unknown := [n for n in names if n not in JOINT_STATE_NAMES]:
        raise ValueError(f"joint_states has unknown joints {unknown}; expected {list(JOINT_STATE_NAMES)}")
    if missing := [j for j in Arm.JOINTS if j not in index]:
        raise ValueError(f"joint_states lacks joints {missing}; it has {names}")
    pos, vel, eff = (_finite_field(f, v, names) for f, v in
                     (("position", position), ("velocity", velocity), ("effort", effort)))

    def pick(values: np.ndarray, joints) -> np.ndarray:
        return values[[index[j] for j in joints]] if len(values) else np.zeros(len(joints))

    finger = index.get("left_finger")
    return ArmState(position=pick(pos, Arm.JOINTS), velocity=pick(vel, Arm.JOINTS),
                    effort=pick(eff, Arm.JOINTS), stamp=stamp,
                    finger_position=None if finger is None else float(pos[finger]),
                    finger_velocity=None if finger is None or not len(vel) else float(vel[finger]))
