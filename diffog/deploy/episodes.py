"""Closed-loop episodes over ROS, summarized: success and the executed trajectory's smoothness per refiner,
measured like the sim evaluation (diffog.evaluation; normalized actions at the policy's step, paper Appendix
VIII-B)."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from diffog.data.normalizer import MinMaxNormalizer
from diffog.refine import continuous_dims_from_names, trajectory_metrics


def resample(times: np.ndarray, values: np.ndarray, dt: float) -> np.ndarray:
    """(N, D) commands sent at irregular times -> the path at every `dt` from the first to the last command."""
    if len(times) < 2:
        raise ValueError("need at least two commands to resample")
    grid = np.arange(times[0], times[-1] + 1e-9, dt)
    return np.stack([np.interp(grid, times, values[:, j]) for j in range(values.shape[1])], axis=1)


def executed_metrics(times: np.ndarray, commands: np.ndarray, dt: float, normalizer: MinMaxNormalizer,
                     joint_names: Sequence[str], joint_index: Sequence[int]) -> dict[str, float]:
    """Velocity / acceleration max and std of the commanded path (robot layout, 14 per row), sampled at the
    policy step `dt`, in the normalized action units the bounds live in, over the policy's continuous
    (non-gripper) joints `joint_names` (at `joint_index` in the robot's layout); empty when the commands span less than three steps (an episode the
    policy spent holding)."""
    if len(times) < 2 or times[-1] - times[0] < 2 * dt:
        return {}
    path = torch.as_tensor(resample(times, commands, dt)[:, list(joint_index)], dtype=torch.float32)
    dims = continuous_dims_from_names(joint_names)
    return {k: float(v) for k, v in trajectory_metrics(normalizer.normalize("action", path), dt, dims).items()}


def summarize(runs: Sequence[dict]) -> dict:
    """Success rate and the mean of every numeric per-episode value (over the episodes that have it)."""
    if not runs:
        raise ValueError("no episodes to summarize")
    keys = dict.fromkeys(k for r in runs for k, v in r.items()
                         if isinstance(v, (int, float)) and not isinstance(v, bool) and k != "seed")
    return {"episodes": len(runs), "success_rate": float(np.mean([r["success"] for r in runs])),
            **{k: float(np.mean([r[k] for r in runs if k in r])) for k in keys}}
