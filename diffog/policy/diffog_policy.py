"""Diffusion Policy with the DiffOG refinement layer on its action chunk (paper section V).

Modes:
  base     Diffusion Policy alone, no layer (the base checkpoint refine training starts from).
  dataset  DiffOG dataset training: DP denoising loss + layer loss ||layer(a) - a||^2 on demo chunks a, together.
  refine   DiffOG refine training: the base DP is frozen; the layer maps the DP's samples to the demo chunk.
The layer sees the chunk from the current step on (horizon - n_obs_steps + 1 steps), as in the DiffOG code.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from diffog.data.normalizer import MinMaxNormalizer
from diffog.policy.diffusion import DiffusionPolicy
from diffog.policy.obs_encoder import IMAGE_PREFIX

MODES = ("base", "dataset", "refine")


class DiffOGPolicy(nn.Module):
    def __init__(self, base: DiffusionPolicy, normalizer: MinMaxNormalizer, layer: nn.Module | None = None,
                 mode: str = "dataset", layer_loss_weight: float = 1.0):
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; expected one of {MODES}")
        if (mode == "base") != (layer is None):
            raise ValueError(f"mode {mode!r} needs {'no' if mode == 'base' else 'a'} DiffOG layer")
        self.base, self.layer, self.mode = base, layer, mode
        self.normalizer = normalizer
        self.layer_loss_weight = layer_loss_weight
        self.start = base.n_obs_steps - 1  # chunk index of the current step
        if mode == "refine":
            self.base.requires_grad_(False)

    def train(self, mode: bool = True) -> DiffOGPolicy:
        super().train(mode)
        if self.mode == "refine":
            self.base.eval()  # the frozen base samples exactly as it will at deployment (no augmentation)
        return self

    def trainable_parameters(self) -> Iterator[nn.Parameter]:
        return (p for p in self.parameters() if p.requires_grad)

    def normalize_obs(self, obs: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {k: v if k.startswith(IMAGE_PREFIX) else self.normalizer.normalize_observation(k, v)
                for k, v in obs.items()}

    def forward(self, batch: Mapping) -> dict[str, torch.Tensor]:
        """The training loss (forward, so DistributedDataParallel sees it)."""
        return self.compute_loss(batch)

    def compute_loss(self, batch: Mapping) -> dict[str, torch.Tensor]:
        """`loss` (what is optimized) and its parts, from a batch of raw `obs` and `action` (B, horizon, D)."""
        nobs = self.normalize_obs(batch["obs"])
        naction = self.normalizer.normalize("action", batch["action"])
        target = naction[:, self.start:]
        if self.mode == "refine":
            layer_loss = F.mse_loss(self.layer(self.base.sample(nobs)[:, self.start:]), target)
            return {"loss": layer_loss, "layer_loss": layer_loss}
        dp_loss = self.base.loss(nobs, naction)
        if self.mode == "base":
            return {"loss": dp_loss, "dp_loss": dp_loss}
        layer_loss = F.mse_loss(self.layer(target), target)
        return {"loss": dp_loss + self.layer_loss_weight * layer_loss, "dp_loss": dp_loss, "layer_loss": layer_loss}

    @torch.no_grad()
    def sample_normalized(self, obs: Mapping[str, torch.Tensor], generator: torch.Generator | None = None
                          ) -> torch.Tensor:
        """The DP's normalized chunk from the current step on, (B, horizon - n_obs_steps + 1, D), from raw obs."""
        return self.base.sample(self.normalize_obs(obs), generator)[:, self.start:]
