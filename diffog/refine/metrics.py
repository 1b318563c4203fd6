"""Trajectory smoothness metrics of the paper's Appendix VIII-B."""
from __future__ import annotations

from collections.abc import Sequence

import torch


def trajectory_metrics(
    trajectory: torch.Tensor, dt: float, dims: Sequence[int] | None = None
) -> dict[str, torch.Tensor]:
    """Velocity and acceleration "max" and "std" of executed actions (T, D) or (B, T, D).

    Per dimension: the max over time of |derivative| and its (population) std over time, then averaged
    over the selected dims (default all); finite differences divided by dt. Returns shape () or (B,).
    """
    x = trajectory if dims is None else trajectory[..., list(dims)]
    if x.shape[-2] < 3:
        raise ValueError(f"need at least 3 time steps for an acceleration, got {x.shape[-2]}")
    vel = x.diff(dim=-2) / dt
    acc = vel.diff(dim=-2) / dt
    out = {}
    for name, d in (("velocity", vel), ("acceleration", acc)):
        out[f"{name}_max"] = d.abs().amax(-2).mean(-1)
        out[f"{name}_std"] = d.std(-2, correction=0).mean(-1)
    return out
