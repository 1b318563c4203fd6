"""Observation features per step: one ResNet-18 (GroupNorm) per camera plus the normalized low-dim streams
(joint state; object poses for the state-only variant), concatenated."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from diffog.policy.resnet import ResNet18

IMAGE_PREFIX = "image/"


def random_crop(x: torch.Tensor, size: tuple[int, int], train: bool) -> torch.Tensor:
    """(N, C, H, W) -> (N, C, h, w): one random offset per batch in training (DP's augmentation), centred otherwise."""
    H, W = x.shape[-2:]
    h, w = size
    if train:
        top = int(torch.randint(0, H - h + 1, ()))
        left = int(torch.randint(0, W - w + 1, ()))
    else:
        top, left = (H - h) // 2, (W - w) // 2
    return x[..., top:top + h, left:left + w]


class ObservationEncoder(nn.Module):
    """Normalized observation dict -> (B, n_obs_steps * feature_dim) global condition.

    Low-dim entries are (B, To, D) floats already normalized; images are `image/<cam>` (B, To, 3, H, W) uint8.
    """

    def __init__(self, lowdim_dims: Mapping[str, int], cameras: Sequence[str] = (),
                 image_size: Sequence[int] = (64, 80), resnet_width: int = 64, crop_ratio: float = 0.9):
        super().__init__()
        self.lowdim_keys = list(lowdim_dims)
        self.cameras = list(cameras)
        self.crop = tuple(max(1, int(round(s * crop_ratio))) for s in image_size)
        self.image_size = tuple(image_size)
        self.backbones = nn.ModuleDict({c: ResNet18(resnet_width) for c in self.cameras})
        self.feature_dim = sum(lowdim_dims.values()) + sum(b.out_dim for b in self.backbones.values())

    def forward(self, nobs: Mapping[str, torch.Tensor]) -> torch.Tensor:
        parts = [nobs[k] for k in self.lowdim_keys]
        B, To = parts[0].shape[:2] if parts else nobs[IMAGE_PREFIX + self.cameras[0]].shape[:2]
        for cam, net in self.backbones.items():
            img = nobs[IMAGE_PREFIX + cam]
            if tuple(img.shape[-2:]) != self.image_size:
                raise ValueError(f"camera {cam}: images are {tuple(img.shape[-2:])}, the policy expects "
                                 f"{self.image_size} (resize with diffog.data.dataset.resize_images)")
            x = img.reshape(B * To, *img.shape[2:]).float() / 255.0
            parts.append(net(random_crop(x, self.crop, self.training)).reshape(B, To, -1))
        return torch.cat(parts, dim=-1).reshape(B, -1)
