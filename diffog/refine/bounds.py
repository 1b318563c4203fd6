"""Which action dimensions DiffOG constrains, and their per-step bounds in normalized action units."""
from __future__ import annotations

from collections.abc import Sequence

import torch

BoundLike = float | Sequence[float] | torch.Tensor


def continuous_dims_from_names(joint_names: Sequence[str]) -> list[int]:
    """Indices of the dimensions that form a trajectory: every joint except grippers (the paper's S)."""
    dims = [i for i, name in enumerate(joint_names) if "gripper" not in name.lower()]
    if not dims:
        raise ValueError(f"no continuous (non-gripper) joint among {list(joint_names)}")
    return dims


def as_bound_vector(value: BoundLike, n_dims: int, name: str) -> torch.Tensor:
    """A float or a per-continuous-dimension sequence as a float64 vector of length n_dims, checked finite."""
    vec = torch.as_tensor(value, dtype=torch.float64).detach().clone()
    if vec.ndim == 0:
        vec = vec.expand(n_dims).clone()
    if vec.shape != (n_dims,):
        raise ValueError(f"{name} must be a float or have one entry per continuous dim ({n_dims}), got {tuple(vec.shape)}")
    if not torch.isfinite(vec).all():
        raise ValueError(f"{name} must be finite, got {vec.tolist()}")
    return vec


def check_bounds(lower: torch.Tensor, upper: torch.Tensor, what: str = "step bound") -> None:
    """Proposition 1 of the paper: lower < upper keeps the QP feasible; raise naming the offending dims."""
    bad = (lower >= upper).reshape(-1, lower.shape[-1]).any(0).nonzero().flatten().tolist()
    if bad:
        raise ValueError(
            f"{what}: lower must be < upper for every continuous dim; violated at continuous dims {bad} "
            f"(lower={lower.tolist()}, upper={upper.tolist()})"
        )


def bounds_from_physical_limits(
    max_velocity: BoundLike,
    dt: float,
    scale: BoundLike,
    min_velocity: BoundLike | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-step bounds in normalized units from velocity limits (rad/s or m/s) of the continuous dims.

    `scale` is the normalizer's per-dimension factor (normalized = raw * scale + offset; for min-max
    normalization to [-1, 1], scale = 2 / (max - min)). A step of v * dt in raw units is v * dt * scale
    normalized. `min_velocity` defaults to -max_velocity.
    """
    scale_t = torch.as_tensor(scale, dtype=torch.float64).flatten()
    n = scale_t.numel()
    if dt <= 0:
        raise ValueError(f"dt must be > 0, got {dt}")
    if not (torch.isfinite(scale_t).all() and (scale_t > 0).all()):
        raise ValueError(f"normalizer scale must be finite and > 0 per dim, got {scale_t.tolist()}")
    vmax = as_bound_vector(max_velocity, n, "max_velocity")
    vmin = -vmax if min_velocity is None else as_bound_vector(min_velocity, n, "min_velocity")
    lower, upper = vmin * dt * scale_t, vmax * dt * scale_t
    check_bounds(lower, upper, "velocity limits")
    return lower, upper
