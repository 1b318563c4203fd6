"""Closed-loop evaluation of a checkpoint in the MuJoCo sim: success rate and the executed trajectory's metrics.

Each policy step spans `frame_skip` control periods; between consecutive chunk actions the command is linearly
interpolated, which is how the subsampled demonstrations relate to the 50 Hz actions they came from.
"""
from __future__ import annotations

from collections import deque

import numpy as np
import torch

from diffog.data.object_poses import object_poses
from diffog.policy.runtime import LoadedPolicy
from diffog.refine import continuous_dims_from_names, trajectory_metrics


def _observe(env, policy: LoadedPolicy) -> dict:
    obs = {"qpos": env.qpos()}
    if "object_poses" in policy.lowdim_keys:
        obs["object_poses"] = object_poses(env)
    if policy.cameras:
        obs["images"] = {c: env.render(c) for c in policy.cameras}
    return obs


def _stack(history: deque, n: int) -> dict:
    frames = [history[0]] * (n - len(history)) + list(history)  # pad the start as training windows are padded
    obs = {k: np.stack([f[k] for f in frames]) for k in frames[0] if k != "images"}
    if "images" in frames[0]:
        obs["images"] = {c: np.stack([f["images"][c] for f in frames]) for c in frames[0]["images"]}
    return obs


def rollout(policy: LoadedPolicy, task: str, seed: int, max_steps: int = 1200, refined: bool = True) -> dict:
    """One episode from `seed`; executes the refined chunk (or the raw one with refined=False / no layer).
    An episode whose physics diverges counts as failed (`diverged`)."""
    from diffog.sim import make_env
    from diffog.sim.env import SimulationError

    render = policy.image_size if policy.cameras else None
    env = make_env(task, seed=seed, render_size=render, cameras=policy.cameras or None)
    try:
        k, n_act = policy.frame_skip, policy.n_action_steps
        history: deque = deque([_observe(env, policy)], maxlen=policy.n_obs_steps)
        past, executed, infer_s, t, success, diverged = env.qpos(), [], [], 0, False, False
        while t < max_steps and not success and not diverged:
            raw, ref, stats = policy.predict_chunk(_stack(history, policy.n_obs_steps), past_action=past)
            chunk = ref if refined and ref is not None else raw
            infer_s.append(stats["inference_s"])
            for i in range(n_act):
                try:
                    for j in range(k):
                        env.step(chunk[i] + (chunk[i + 1] - chunk[i]) * (j / k))
                        t += 1
                        success = success or env.success()
                except SimulationError:
                    diverged = True
                    break
                executed.append(chunk[i])
                past = chunk[i]
                history.append(_observe(env, policy))
                if success or t >= max_steps:
                    break
    finally:
        env.close()
    metrics = {"velocity_max": np.nan, "velocity_std": np.nan, "acceleration_max": np.nan, "acceleration_std": np.nan}
    if len(executed) >= 3:  # an acceleration needs three steps; an early divergence may leave fewer
        traj = policy.normalizer.normalize("action", torch.as_tensor(np.stack(executed), dtype=torch.float32))
        dims = continuous_dims_from_names(policy.joint_names)
        metrics = {k: float(v) for k, v in trajectory_metrics(traj, policy.dt, dims).items()}
    return {"seed": seed, "success": bool(success), "diverged": diverged, "steps": t,
            "inference_s": float(np.mean(infer_s)), **metrics}


def evaluate_in_sim(policy: LoadedPolicy, task: str, seeds, max_steps: int = 1200, refined: bool = True) -> dict:
    runs = [rollout(policy, task, s, max_steps, refined) for s in seeds]
    keys = [k for k in runs[0] if k not in ("seed", "success", "diverged")]
    return {"task": task, "episodes": len(runs), "success_rate": float(np.mean([r["success"] for r in runs])),
            "diverged": int(sum(r["diverged"] for r in runs)),
            **{k: float(np.nanmean([r[k] for r in runs])) for k in keys}, "runs": runs}
