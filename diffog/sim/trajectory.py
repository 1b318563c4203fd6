"""End-effector waypoints -> 50 Hz joint-space actions (minimum-jerk segments, per-step IK), with optional
human-like variability (speed changes, smoothed hand jitter) and injected jerk for robustness experiments."""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.spatial.transform import Rotation, Slerp

from diffog.sim.ik import ArmIK

ARM_YAW = {"left": 0.0, "right": np.pi}  # the right arm's base is turned to face the left one
ARM_BASE_XY = {"left": (-0.469, 0.5), "right": (0.469, 0.5)}  # gym-aloha's vx300s_<arm> bodies


def grip_rotation(arm: str, pitch: float = 0.0, yaw: float = 0.0, roll: float = 0.0) -> np.ndarray:
    """Gripper orientation: pointing along the arm's forward direction turned by `yaw` (world z), tilted down by
    `pitch` (pi/2 points straight down) and rolled by `roll` about the pointing axis (fingers close along its y)."""
    return Rotation.from_euler("ZYX", [ARM_YAW[arm] + yaw, pitch, roll]).as_matrix()


def aim_rotation(arm: str, pos: Sequence[float], pitch: float) -> np.ndarray:
    """`grip_rotation` turned to face `pos` from the arm's base: the waist does the turning, so the weak forearm
    roll actuator carries no load (for grasps that do not care about yaw, like a cup's)."""
    bx, by = ARM_BASE_XY[arm]
    yaw = np.arctan2(pos[1] - by, pos[0] - bx) - ARM_YAW[arm]
    return grip_rotation(arm, pitch=pitch, yaw=float(np.angle(np.exp(1j * yaw))))


@dataclasses.dataclass(frozen=True)
class Waypoint:
    """Where an arm's grasp point is at time `t` (s), its orientation and gripper (0 closed .. 1 open)."""

    t: float
    pos: Sequence[float]
    rot: np.ndarray
    gripper: float


@dataclasses.dataclass(frozen=True)
class Variability:
    """Human-like imperfection of a demonstration: each segment's duration scaled by a factor drawn from
    `speed_range`, and smoothed hand jitter of `jitter_m` RMS with a `jitter_time_s` correlation time. Like a
    person's, the jitter grows with hand speed (full at `jitter_speed` m/s) and vanishes when holding still, so
    precise slow phases (insertions, grasps) stay precise."""

    speed_range: tuple[float, float] = (0.8, 1.25)
    jitter_m: float = 0.003
    jitter_time_s: float = 0.15
    jitter_speed: float = 0.15


def _min_jerk(s: np.ndarray) -> np.ndarray:
    return s ** 3 * (10 - 15 * s + 6 * s ** 2)


def _warp_times(waypoints: Mapping[str, Sequence[Waypoint]], factors: np.ndarray | None) -> dict[str, list[float]]:
    """Stretch each interval between consecutive waypoint times (over both arms, so hand-offs stay ordered)."""
    knots = np.unique(np.concatenate([[w.t for w in ws] for ws in waypoints.values()]))
    new = knots.copy()
    if factors is not None:
        new = np.concatenate([[knots[0]], knots[0] + np.cumsum(np.diff(knots) * factors[:len(knots) - 1])])
    return {arm: [float(np.interp(w.t, knots, new)) for w in ws] for arm, ws in waypoints.items()}


def interpolate(waypoints: Sequence[Waypoint], times: Sequence[float], dt: float, steps: int):
    """Grasp-site positions (T, 3), rotations (T, 3, 3) and grippers (T,) at t = k * dt, minimum-jerk between
    waypoints, holding the last one after it."""
    t = np.arange(steps) * dt
    pos = np.empty((steps, 3))
    rot = np.empty((steps, 3, 3))
    grip = np.empty(steps)
    knots = np.asarray(times)
    for k, tk in enumerate(t):
        i = int(np.clip(np.searchsorted(knots, tk, side="right") - 1, 0, len(knots) - 1))
        a, b = waypoints[i], waypoints[min(i + 1, len(waypoints) - 1)]
        span = knots[min(i + 1, len(knots) - 1)] - knots[i]
        # clipped twice: the polynomial can round to just past 1, which Slerp rejects
        s = float(np.clip(_min_jerk(np.clip((tk - knots[i]) / span, 0.0, 1.0)), 0.0, 1.0)) if span > 0 else 1.0
        pos[k] = (1 - s) * np.asarray(a.pos) + s * np.asarray(b.pos)
        rot[k] = Slerp([0.0, 1.0], Rotation.from_matrix([a.rot, b.rot]))(s).as_matrix()
        grip[k] = (1 - s) * a.gripper + s * b.gripper
    return pos, rot, grip


def plan_actions(model, start_q: Mapping[str, np.ndarray], waypoints: Mapping[str, Sequence[Waypoint]], dt: float,
                 settle_s: float = 0.5, variability: Variability | None = None,
                 rng: np.random.Generator | None = None) -> np.ndarray:
    """(T, 14) ALOHA actions following each arm's waypoints (left then right), IK warm-started step to step.

    The first waypoint of each arm should be its current pose at t = 0 (see `start_waypoint`)."""
    rng = rng if rng is not None else np.random.default_rng()
    factors = None
    if variability is not None:
        n_knots = len(np.unique(np.concatenate([[w.t for w in ws] for ws in waypoints.values()])))
        factors = rng.uniform(*variability.speed_range, size=max(n_knots - 1, 1))
    times = _warp_times(waypoints, factors)
    steps = int(round((max(ts[-1] for ts in times.values()) + settle_s) / dt)) + 1
    actions = np.empty((steps, 14))
    for i, arm in enumerate(("left", "right")):
        pos, rot, grip = interpolate(waypoints[arm], times[arm], dt, steps)
        if variability is not None and variability.jitter_m > 0:
            noise = gaussian_filter1d(rng.standard_normal((steps, 3)), variability.jitter_time_s / dt, axis=0)
            speed = np.linalg.norm(np.gradient(pos, dt, axis=0), axis=1, keepdims=True)
            scale = np.minimum(speed / variability.jitter_speed, 1.0) * variability.jitter_m
            pos = pos + noise / noise.std(axis=0) * scale
        ik = ArmIK(model, arm)
        q = np.asarray(start_q[arm], dtype=float)
        for k in range(steps):
            q, _ = ik.solve(pos[k], rot[k], q)
            actions[k, 7 * i:7 * i + 6] = q
        actions[:, 7 * i + 6] = grip
    return actions


def start_waypoint(model, arm: str, q: np.ndarray, gripper: float) -> Waypoint:
    """The arm's current grasp-site pose as the waypoint at t = 0."""
    pos, rot = ArmIK(model, arm).forward(q)
    return Waypoint(0.0, pos, rot, gripper)


def inject_jerk(actions: np.ndarray, amplitude: float, chunk: int, rng: np.random.Generator,
                mask: np.ndarray | None = None) -> np.ndarray:
    """The same path with a chunked policy's jerk: a random offset (uniform in +-amplitude rad per arm joint)
    held for `chunk` steps then jumping to the next, on the steps where `mask` is true (grippers untouched)."""
    out = np.array(actions, dtype=float)
    steps = len(out)
    offsets = rng.uniform(-amplitude, amplitude, size=(-(-steps // chunk), 14)).repeat(chunk, axis=0)[:steps]
    offsets[:, [6, 13]] = 0.0
    if mask is not None:
        offsets[~np.asarray(mask, dtype=bool)] = 0.0
    return out + offsets
