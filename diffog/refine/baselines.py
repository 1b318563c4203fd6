"""The paper's post-hoc baselines (Appendix VI): greedy constraint clipping and penalty-based optimization.

Both work in whatever units the chunk and the bounds share (the paper applies them to raw actions). Only
continuous dims are changed; grippers pass through. Chunks are (B, T, D); past is (B, D) or None.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch

from .bounds import BoundLike, as_bound_vector, check_bounds

# Table VIII: (step size eta, violation tolerance eps_V, max iterations).
PENALTY_PRESETS: dict[str, tuple[float, float, int]] = {
    "robomimic": (0.03, 0.004, 10000),
    "pusht": (0.1, 0.1, 1000),
    "metaworld": (0.1, 0.05, 1000),
    "aloha": (0.05, 0.01, 1000),
}


def _prepare(a, continuous_dims, lower, upper, past):
    if a.ndim != 3:
        raise ValueError(f"chunk must be (B, T, D), got {tuple(a.shape)}")
    dims = list(continuous_dims)
    lo = as_bound_vector(lower, len(dims), "lower").to(a)
    hi = as_bound_vector(upper, len(dims), "upper").to(a)
    check_bounds(lo, hi)
    if past is not None and past.shape != (a.shape[0], a.shape[2]):
        raise ValueError(f"past must be (B, D) = {(a.shape[0], a.shape[2])}, got {tuple(past.shape)}")
    return dims, lo, hi


def clip_chunk(
    a: torch.Tensor,
    continuous_dims: Sequence[int],
    lower: BoundLike,
    upper: BoundLike,
    past: torch.Tensor | None = None,
) -> torch.Tensor:
    """Greedy clipping: each step from the previous *clipped* action is clipped into [lower, upper].

    Without a past action the first action is kept as is.
    """
    dims, lo, hi = _prepare(a, continuous_dims, lower, upper, past)
    c = a[..., dims]
    out = [c[:, 0] if past is None else past[:, dims] + torch.clamp(c[:, 0] - past[:, dims], lo, hi)]
    for k in range(1, a.shape[1]):
        out.append(out[-1] + torch.clamp(c[:, k] - out[-1], lo, hi))
    y = a.clone()
    y[..., dims] = torch.stack(out, 1)
    return y


class PenaltyResult(NamedTuple):
    actions: torch.Tensor  # (B, T, D)
    iterations: torch.Tensor  # (B,) updates applied
    converged: torch.Tensor  # (B,) bool: violation fell below the tolerance within max_iter


def penalty_refine(
    a: torch.Tensor,
    continuous_dims: Sequence[int],
    lower: BoundLike,
    upper: BoundLike,
    past: torch.Tensor | None = None,
    step_size: float = PENALTY_PRESETS["aloha"][0],
    tol: float = PENALTY_PRESETS["aloha"][1],
    max_iter: int = PENALTY_PRESETS["aloha"][2],
) -> PenaltyResult:
    """Penalty-based optimization: c_k -= eta * (v_max,k - v_min,k) for the step ending at k, until the
    largest violation (max |v_max| + max |v_min|) is below tol or max_iter; defaults are Table VIII's ALOHA row."""
    dims, lo, hi = _prepare(a, continuous_dims, lower, upper, past)
    c = a[..., dims].clone()
    B = a.shape[0]
    iters = torch.zeros(B, dtype=torch.int64, device=a.device)
    converged = torch.zeros(B, dtype=torch.bool, device=a.device)
    for _ in range(max_iter + 1):
        prev = torch.cat([c[:, :1] if past is None else past[:, None, dims], c[:, :-1]], 1)
        step = c - prev
        v_max, v_min = (step - hi).clamp(min=0), (lo - step).clamp(min=0)
        converged = v_max.amax((1, 2)) + v_min.amax((1, 2)) < tol
        if bool(converged.all()) or int(iters.max()) >= max_iter:
            break
        run = (~converged).to(c.dtype).view(B, 1, 1)
        c = c - step_size * run * (v_max - v_min)
        iters += (~converged).long()
    y = a.clone()
    y[..., dims] = c
    return PenaltyResult(y, iters, converged)
