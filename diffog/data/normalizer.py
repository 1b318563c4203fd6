"""Per-dimension min-max normalization to [-1, 1], fitted on the training split and saved with the checkpoint.

Two guards keep a tiny data range from wrecking the policy:
- every dimension's span is at least its stream's `min_span` (robot units, centred on the data's midpoint), so a
  joint that never moves in the data cannot turn the policy's output range [-1, 1] into a large motion, and a
  near-constant input (an idle joint's sag, an object that barely moves) cannot blow small errors up;
- observations are clipped to [-obs_clip, obs_clip] after normalization, so an input far outside the training
  range reaches the network as "at the edge of what was seen", never as a value of hundreds.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

# Robot units: rad for joints (grippers are normalized 0..1), m and quaternion components for object poses.
DEFAULT_MIN_SPAN = {"action": 0.2, "qpos": 0.2, "qvel": 0.5, "effort": 1.0, "object_poses": 0.1}
FALLBACK_MIN_SPAN = 0.1  # streams not named above
DEFAULT_OBS_CLIP = 1.5   # normalized observations are clipped to +-this: 25 % of the range beyond the data


class MinMaxNormalizer:
    """Maps each named stream (action, qpos, object_poses ...) dimension-wise from [min, max] to [-1, 1]."""

    def __init__(self, stats: Mapping[str, tuple[torch.Tensor, torch.Tensor]] | None = None,
                 min_span: Mapping[str, float] | None = None, obs_clip: float = DEFAULT_OBS_CLIP):
        if not np.isfinite(obs_clip) or obs_clip < 1.0:
            raise ValueError(f"obs_clip must be a finite value >= 1, got {obs_clip}")
        self.obs_clip = float(obs_clip)
        self._min_span = {**DEFAULT_MIN_SPAN, **(min_span or {})}
        if bad := {k: v for k, v in self._min_span.items() if not (np.isfinite(v) and v > 0)}:
            raise ValueError(f"min_span must be positive and finite, got {bad}")
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
    def fit(cls, data: Mapping[str, np.ndarray | torch.Tensor], min_span: Mapping[str, float] | None = None,
            obs_clip: float = DEFAULT_OBS_CLIP) -> MinMaxNormalizer:
        """Stats from (N, D) arrays per key (all frames of the training episodes)."""
        stats = {}
        for key, x in data.items():
            x = torch.as_tensor(np.asarray(x), dtype=torch.float32).reshape(-1, np.shape(x)[-1])
            if not torch.all(torch.isfinite(x)):
                raise ValueError(f"cannot fit the normalizer: {key!r} contains NaN or inf")
            stats[key] = (x.min(0).values, x.max(0).values)
        return cls(stats, min_span, obs_clip)

    @property
    def keys(self) -> list[str]:
        return list(self._stats)

    def dim(self, key: str) -> int:
        return self._stats[key][0].numel()

    def min_span(self, key: str) -> float:
        return float(self._min_span.get(key, FALLBACK_MIN_SPAN))

    def span(self, key: str) -> torch.Tensor:
        """The robot-unit width that maps onto [-1, 1], per dimension (at least the stream's min_span)."""
        lo, hi = self._stats[key]
        return torch.clamp(hi - lo, min=self.min_span(key))

    def _scale_offset(self, key: str, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if key not in self._stats:
            raise KeyError(f"the normalizer has no stream {key!r}; it has {self.keys}")
        lo, hi = (s.to(like.device, like.dtype) for s in self._stats[key])
        scale = 2.0 / self.span(key).to(like.device, like.dtype)
        return scale, -(hi + lo) / 2 * scale

    def normalize(self, key: str, x: torch.Tensor) -> torch.Tensor:
        x = torch.as_tensor(x, dtype=torch.float32)
        if x.shape[-1] != self.dim(key):
            raise ValueError(f"{key!r} has {x.shape[-1]} values per step, the normalizer expects {self.dim(key)}")
        scale, offset = self._scale_offset(key, x)
        return x * scale + offset

    def normalize_observation(self, key: str, x: torch.Tensor) -> torch.Tensor:
        """`normalize`, clipped to +-obs_clip: what the network sees of an observation."""
        return self.normalize(key, x).clamp(-self.obs_clip, self.obs_clip)

    def unnormalize(self, key: str, x: torch.Tensor) -> torch.Tensor:
        scale, offset = self._scale_offset(key, x)
        return (x - offset) / scale

    def state_dict(self) -> dict[str, dict[str, torch.Tensor]]:
        """Plain tensors only, so a checkpoint holding it loads with torch.load(weights_only=True)."""
        return {k: {"min": lo.clone(), "max": hi.clone(), "min_span": torch.tensor(self.min_span(k)),
                    "obs_clip": torch.tensor(self.obs_clip)} for k, (lo, hi) in self._stats.items()}

    @classmethod
    def from_state_dict(cls, state: Mapping[str, Mapping[str, torch.Tensor]]) -> MinMaxNormalizer:
        """Checkpoints written before min_span / obs_clip were stored get the defaults."""
        try:
            spans = {k: float(v["min_span"]) for k, v in state.items() if "min_span" in v}
            clips = {float(v["obs_clip"]) for v in state.values() if "obs_clip" in v}
            if len(clips) > 1:
                raise ValueError(f"streams disagree on obs_clip: {sorted(clips)}")
            return cls({k: (v["min"], v["max"]) for k, v in state.items()}, spans,
                       clips.pop() if clips else DEFAULT_OBS_CLIP)
        except (KeyError, TypeError) as e:
            raise ValueError(f"malformed normalizer state: {e}") from e
