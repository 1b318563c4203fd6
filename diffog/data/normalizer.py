"""Per-dimension min-max normalization to [-1, 1], fitted on the training split and saved with the checkpoint."""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

# A dimension that barely moves in the data (e.g. an unused gripper) is centred instead of blown up.
RANGE_EPS = 1e-4


class MinMaxNormalizer:
    """Maps each named stream (action, qpos, object_poses ...) dimension-wise from [min, max] to [-1, 1]."""

    def __init__(self, stats: Mapping[str, tuple[torch.Tensor, torch.Tensor]] | None = None):
        self._stats: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        for key, (lo, hi) in (stats or {}).items():
            self._set(key, lo, hi)

    def _set(self, key: str, lo, hi) -> None:
        lo = torch.as_tensor(lo, dtype=torch.float32).reshape(-1)
        hi = torch.as_tensor(hi, dtype=torch.float32).reshape(-1)
        if lo.shape != hi.shape or not torch.all(torch.isfinite(lo) & torch.isfinite(hi)) or torch.any(hi < lo):
            raise ValueError(f"normalizer stats for {key!r} are invalid: min {lo.tolist()} max {hi.tolist()}")
        self._stats[key] = (lo, hi)

    @classmethod
    def fit(cls, data: Mapping[str, np.ndarray | torch.Tensor]) -> MinMaxNormalizer:
        """Stats from (N, D) arrays per key (all frames of the training episodes)."""
        stats = {}
        for key, x in data.items():
            x = torch.as_tensor(np.asarray(x), dtype=torch.float32).reshape(-1, np.shape(x)[-1])
            if not torch.all(torch.isfinite(x)):
                raise ValueError(f"cannot fit the normalizer: {key!r} contains NaN or inf")
            stats[key] = (x.min(0).values, x.max(0).values)
        return cls(stats)

    @property
    def keys(self) -> list[str]:
        return list(self._stats)

    def dim(self, key: str) -> int:
        return self._stats[key][0].numel()

    def _scale_offset(self, key: str, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if key not in self._stats:
            raise KeyError(f"the normalizer has no stream {key!r}; it has {self.keys}")
        lo, hi = (s.to(like.device, like.dtype) for s in self._stats[key])
        span = hi - lo
        flat = span < RANGE_EPS
        scale = torch.where(flat, torch.ones_like(span), 2.0 / torch.where(flat, torch.ones_like(span), span))
        offset = torch.where(flat, -(hi + lo) / 2, -1.0 - lo * scale)
        return scale, offset

    def normalize(self, key: str, x: torch.Tensor) -> torch.Tensor:
        x = torch.as_tensor(x, dtype=torch.float32)
        if x.shape[-1] != self.dim(key):
            raise ValueError(f"{key!r} has {x.shape[-1]} values per step, the normalizer expects {self.dim(key)}")
        scale, offset = self._scale_offset(key, x)
        return x * scale + offset

    def unnormalize(self, key: str, x: torch.Tensor) -> torch.Tensor:
        scale, offset = self._scale_offset(key, x)
        return (x - offset) / scale

    def state_dict(self) -> dict[str, dict[str, torch.Tensor]]:
        """Plain tensors only, so a checkpoint holding it loads with torch.load(weights_only=True)."""
        return {k: {"min": lo.clone(), "max": hi.clone()} for k, (lo, hi) in self._stats.items()}

    @classmethod
    def from_state_dict(cls, state: Mapping[str, Mapping[str, torch.Tensor]]) -> MinMaxNormalizer:
        try:
            return cls({k: (v["min"], v["max"]) for k, v in state.items()})
        except (KeyError, TypeError) as e:
            raise ValueError(f"malformed normalizer state: {e}") from e
