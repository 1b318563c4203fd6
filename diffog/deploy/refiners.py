"""The refiner applied to each raw chunk at deployment, chosen by name for comparisons: the base policy alone,
the paper's two post-hoc baselines, or the trained DiffOG layer, all anchored to the last executed action."""
from __future__ import annotations

from collections.abc import Sequence

import torch

from diffog.data.normalizer import MinMaxNormalizer
from diffog.refine import DiffOGLayer, clip_chunk, host_kernels, penalty_refine
from diffog.refine.qpth_reference import single_thread

REFINERS = ("none", "clip", "penalty", "diffog")


class ChunkRefiner:
    """(raw chunk (T, D), past action (D)) in robot units -> (refined chunk, stats). Refinement runs on the
    normalized chunk, where the bounds live (paper Table VII); stats follow diffog_msgs/RefinementStats."""

    def __init__(self, name: str, normalizer: MinMaxNormalizer, continuous_dims: Sequence[int],
                 lower: torch.Tensor, upper: torch.Tensor, layer: DiffOGLayer | None = None):
        if name not in REFINERS:
            raise ValueError(f"unknown refiner {name!r}; choose one of {REFINERS}")
        if name == "diffog" and layer is None:
            raise ValueError("refiner 'diffog' needs a checkpoint trained with the DiffOG layer (mode dataset or "
                             "refine); this one is a base policy")
        self.name, self.normalizer, self.layer = name, normalizer, layer
        if name == "diffog":
            host_kernels.warm_up()  # batch-1 refinement runs compiled kernels: loaded now, not on the first tick
        self.dims = list(continuous_dims)
        self.lower, self.upper = lower.double(), upper.double()

    @torch.no_grad()
    def __call__(self, raw: torch.Tensor, past: torch.Tensor) -> tuple[torch.Tensor, dict]:
        a = self.normalizer.normalize("action", torch.as_tensor(raw, dtype=torch.float32))[None]
        p = self.normalizer.normalize("action", torch.as_tensor(past, dtype=torch.float32))[None]
        stats: dict = {"refiner": self.name, "backend": self.name}
        if self.name == "none":
            y = a
        elif self.name == "clip":
            y = clip_chunk(a, self.dims, self.lower, self.upper, p)
        elif self.name == "penalty":
            res = penalty_refine(a, self.dims, self.lower, self.upper, p)
            y = res.actions
            stats.update(solver_iterations=int(res.iterations.max()), converged=bool(res.converged.all()))
        else:
            with single_thread(a.device):  # batched LU on CPU is wrong with >1 thread (pytorch #142815)
                y = self.layer.forward_with_past_action(a, p)
            s = self.layer.last_stats.summary()
            stats.update(backend=s["backend"], solver_iterations=s["iterations"], converged=s["converged"],
                         active_constraints=s["active_constraints"])
        stats.update(max_step_before=self._max_step(a, p), max_step_after=self._max_step(y, p),
                     max_constraint_violation=self._violation(y, p))
        return self.normalizer.unnormalize("action", y[0]).double(), stats

    def _steps(self, y: torch.Tensor, past: torch.Tensor) -> torch.Tensor:
        c = torch.cat([past[:, None], y], 1)[..., self.dims].double()
        return c.diff(dim=1)

    def _max_step(self, y: torch.Tensor, past: torch.Tensor) -> float:
        return float(self._steps(y, past).abs().max())

    def _violation(self, y: torch.Tensor, past: torch.Tensor) -> float:
        s = self._steps(y, past)
        return float(torch.maximum(s - self.upper, self.lower - s).clamp(min=0).max())
