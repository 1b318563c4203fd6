"""Diffusion Policy (Chi et al., RSS 2023): DDPM training and DDIM sampling of a normalized action chunk,
conditioned on the observation features of the last `n_obs_steps` steps (through diffusers' schedulers)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from diffusers import DDIMScheduler, DDPMScheduler
from torch import nn

from diffog.policy.obs_encoder import ObservationEncoder
from diffog.policy.unet1d import ConditionalUnet1D


class DiffusionPolicy(nn.Module):
    def __init__(self, obs_encoder: ObservationEncoder, action_dim: int, horizon: int, n_obs_steps: int,
                 down_dims: Sequence[int] = (256, 512, 1024), diffusion_step_embed_dim: int = 128,
                 kernel_size: int = 5, n_groups: int = 8, num_train_timesteps: int = 100,
                 beta_schedule: str = "squaredcos_cap_v2", prediction_type: str = "epsilon",
                 num_inference_steps: int = 10):
        super().__init__()
        self.obs_encoder = obs_encoder
        self.action_dim, self.horizon, self.n_obs_steps = action_dim, horizon, n_obs_steps
        self.unet = ConditionalUnet1D(action_dim, obs_encoder.feature_dim * n_obs_steps, diffusion_step_embed_dim,
                                      down_dims, kernel_size, n_groups)
        self.noise_scheduler = DDPMScheduler(num_train_timesteps=num_train_timesteps, beta_schedule=beta_schedule,
                                             clip_sample=True, prediction_type=prediction_type)
        self.inference_scheduler = DDIMScheduler.from_config(self.noise_scheduler.config)
        self.num_inference_steps = num_inference_steps

    def loss(self, nobs: Mapping[str, torch.Tensor], naction: torch.Tensor) -> torch.Tensor:
        """Denoising loss on a normalized (B, horizon, D) chunk."""
        cond = self.obs_encoder(nobs)
        noise = torch.randn_like(naction)
        t = torch.randint(0, self.noise_scheduler.config.num_train_timesteps, (len(naction),), device=naction.device)
        pred = self.unet(self.noise_scheduler.add_noise(naction, noise, t), t, cond)
        target = noise if self.noise_scheduler.config.prediction_type == "epsilon" else naction
        return F.mse_loss(pred, target)

    @torch.no_grad()
    def sample(self, nobs: Mapping[str, torch.Tensor], generator: torch.Generator | None = None) -> torch.Tensor:
        """DDIM sampling with `num_inference_steps` steps: a normalized (B, horizon, D) chunk."""
        cond = self.obs_encoder(nobs)
        x = torch.randn((len(cond), self.horizon, self.action_dim), generator=generator, device=cond.device)
        scheduler = self.inference_scheduler
        scheduler.set_timesteps(self.num_inference_steps, device=cond.device)
        for t in scheduler.timesteps:
            x = scheduler.step(self.unet(x, t, cond), t, x, generator=generator).prev_sample
        return x
