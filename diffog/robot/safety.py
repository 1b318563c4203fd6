"""Last gate before a command reaches the arms: non-finite values, joint limits and the largest step per tick."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from diffog.robot.description import RobotDescription, load_robot_description
from diffog.robot.validation import require_positive


@dataclass(frozen=True)
class JointLimits:
    """Per action dimension (ALOHA order): position bounds and velocity limit (rad, rad/s; gripper normalized)."""

    lower: np.ndarray
    upper: np.ndarray
    velocity: np.ndarray

    def __post_init__(self) -> None:
        lo, hi, v = (np.asarray(x, dtype=np.float64) for x in (self.lower, self.upper, self.velocity))
        if not (lo.shape == hi.shape == v.shape) or lo.ndim != 1:
            raise ValueError(f"joint limits need three vectors of one length, got {lo.shape}, {hi.shape}, {v.shape}")
        if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi)) and np.all(np.isfinite(v))):
            raise ValueError("joint limits must be finite (a limit left blank or NaN switches a check off)")
        if np.any(lo >= hi) or np.any(v <= 0):
            raise ValueError("joint limits need lower < upper and a positive velocity limit for every joint")

    @classmethod
    def from_description(cls, description: RobotDescription | None = None) -> "JointLimits":
        d = description or load_robot_description()
        lim = [d.joint_limits[j] for _arm in d.arms for j in d.joint_names_per_arm]
        return cls(*(np.array([getattr(x, k) for x in lim], dtype=np.float64) for k in ("lower", "upper", "velocity")))


class UnsafeCommand(ValueError):
    """The command must not be sent; the robot holds its last command instead."""


class SafetyFilter:
    """Checks each command before it is sent: finite, clamped into the joint limits, and no joint moving more than
    `step_scale` x its velocity limit x the command period away from the last command sent."""

    def __init__(self, limits: JointLimits, command_dt: float, step_scale: float = 1.0):
        require_positive("safety", command_dt=command_dt, step_scale=step_scale)  # NaN would disable the step check
        self.limits = limits
        self.max_step = limits.velocity * command_dt * step_scale

    def clamp(self, actions: np.ndarray) -> np.ndarray:
        """Actions (..., D) clamped into the joint limits: done on a chunk before it is interpolated, so a target
        beyond a limit cannot stretch the steps toward it."""
        return np.clip(actions, self.limits.lower, self.limits.upper)

    def check(self, command: np.ndarray, last_sent: np.ndarray | None) -> np.ndarray:
        """The command to send (clamped copy), or UnsafeCommand with the reason."""
        command = np.asarray(command, dtype=np.float64)
        if command.shape != self.limits.lower.shape:
            raise UnsafeCommand(f"command has shape {command.shape}, expected {self.limits.lower.shape}")
        if not np.all(np.isfinite(command)):
            raise UnsafeCommand(f"non-finite command in dims {np.flatnonzero(~np.isfinite(command)).tolist()}")
        clamped = self.clamp(command)
        if last_sent is not None:
            step = np.abs(clamped - last_sent)
            over = np.flatnonzero(step > self.max_step + 1e-9)
            if over.size:
                j = int(over[np.argmax(step[over] / self.max_step[over])])
                raise UnsafeCommand(f"step of {step[j]:.4f} in dim {j} exceeds the limit {self.max_step[j]:.4f}")
        return clamped
