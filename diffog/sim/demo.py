"""Scripted demonstrations: plan a task's waypoints into joint-space actions, run them, record what ALOHA records."""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from diffog.sim.env import SimAloha, make_env
from diffog.sim.trajectory import Variability, plan_actions, start_waypoint


@dataclasses.dataclass
class Demo:
    """One episode: observation t is what the robot saw before action t (ALOHA's recording order)."""

    task: str
    seed: int
    qpos: np.ndarray
    qvel: np.ndarray
    effort: np.ndarray
    action: np.ndarray
    images: dict[str, np.ndarray]
    success: bool
    object_poses: np.ndarray  # (T, K): recorded as /observations/object_poses for state-only policies


def scripted_actions(env: SimAloha, variability: Variability | None = None,
                     rng: np.random.Generator | None = None) -> np.ndarray:
    """(T, 14) actions solving the env's task from its current (just reset) state."""
    q = env.qpos()
    start_q = {"left": q[:6], "right": q[7:13]}
    plan = env.task.waypoints(env)
    waypoints = {arm: [start_waypoint(env.model, arm, start_q[arm], q[6 + 7 * i]), *plan[arm]]
                 for i, arm in enumerate(("left", "right"))}
    return plan_actions(env.model, start_q, waypoints, env.dt, variability=variability, rng=rng)


def execute(env: SimAloha, actions: np.ndarray) -> Demo:
    """Run `actions` from the env's current state, recording observations (and images if the env renders)."""
    rows = {"qpos": [], "qvel": [], "effort": [], "object_poses": []}
    frames: dict[str, list[np.ndarray]] = {c: [] for c in (env.cameras if env.render_size else [])}
    for a in actions:
        for key, fn in (("qpos", env.qpos), ("qvel", env.qvel), ("effort", env.effort),
                        ("object_poses", env.object_poses)):
            rows[key].append(fn())
        for cam, img in env.images().items():
            frames[cam].append(img)
        env.step(a)
    return Demo(env.task.name, -1, *(np.array(rows[k]) for k in ("qpos", "qvel", "effort")), np.asarray(actions),
                {c: np.array(v) for c, v in frames.items()}, env.success(), np.array(rows["object_poses"]))


def run_demo(task: str, seed: int, variability: Variability | None = None,
             render_size: tuple[int, int] | None = None, cameras: Sequence[str] | None = None) -> Demo:
    """Reset `task` with `seed`, plan its scripted demo (variability drawn from the same seed) and run it."""
    env = make_env(task, seed=seed, render_size=render_size, cameras=cameras)
    try:
        actions = scripted_actions(env, variability, np.random.default_rng([seed, 1]))
        demo = execute(env, actions)
    finally:
        env.close()
    demo.seed = seed
    return demo
