"""The Diffusion Policy networks: U-Net, GroupNorm ResNet-18, observation encoder, DDPM loss / DDIM sampling."""
import pytest
import torch
from torch import nn

from diffog.policy.diffusion import DiffusionPolicy
from diffog.policy.obs_encoder import ObservationEncoder
from diffog.policy.resnet import ResNet18
from diffog.policy.unet1d import ConditionalUnet1D


def test_unet_keeps_chunk_shape_and_uses_the_condition():
    torch.manual_seed(0)
    net = ConditionalUnet1D(14, global_cond_dim=6, diffusion_step_embed_dim=16, down_dims=(16, 32, 64), n_groups=4)
    x, t = torch.randn(3, 16, 14), torch.tensor([0, 50, 99])
    y = net(x, t, torch.zeros(3, 6))
    assert y.shape == x.shape
    assert not torch.allclose(y, net(x, t, torch.ones(3, 6))), "FiLM conditioning changes the output"
    with pytest.raises(ValueError, match="divisible"):
        net(torch.randn(1, 10, 14), torch.tensor([1]), torch.zeros(1, 6))


def test_resnet18_has_torchvision_size_and_no_batchnorm():
    full = ResNet18(64)
    assert sum(p.numel() for p in full.parameters()) == 11_176_512  # torchvision resnet18 without its fc
    assert not any(isinstance(m, nn.BatchNorm2d) for m in full.modules())
    assert any(isinstance(m, nn.GroupNorm) for m in full.modules())
    small = ResNet18(8)
    assert small(torch.rand(2, 3, 32, 40)).shape == (2, 64)


def test_encoder_concatenates_cameras_and_lowdim_over_observation_steps():
    enc = ObservationEncoder({"qpos": 14}, ["cam_high", "cam_low"], image_size=(24, 32), resnet_width=8)
    assert enc.feature_dim == 14 + 2 * 64
    obs = {"qpos": torch.randn(5, 2, 14), "image/cam_high": torch.randint(0, 255, (5, 2, 3, 24, 32), dtype=torch.uint8),
           "image/cam_low": torch.randint(0, 255, (5, 2, 3, 24, 32), dtype=torch.uint8)}
    assert enc(obs).shape == (5, 2 * enc.feature_dim)
    obs["image/cam_low"] = obs["image/cam_low"][..., :20]
    with pytest.raises(ValueError, match="expects"):
        enc(obs)


def test_diffusion_policy_uses_ddpm_training_and_seeded_ddim_sampling():
    enc = ObservationEncoder({"qpos": 14})
    dp = DiffusionPolicy(enc, 14, horizon=16, n_obs_steps=2, down_dims=(16, 32), diffusion_step_embed_dim=16,
                         n_groups=4, num_inference_steps=5).eval()
    assert dp.noise_scheduler.config.num_train_timesteps == 100
    assert dp.noise_scheduler.config.beta_schedule == "squaredcos_cap_v2"
    assert type(dp.inference_scheduler).__name__ == "DDIMScheduler"
    obs = {"qpos": torch.randn(2, 2, 14)}
    loss = dp.loss(obs, torch.rand(2, 16, 14) * 2 - 1)
    assert loss.ndim == 0 and loss > 0
    a = dp.sample(obs, torch.Generator().manual_seed(1))
    assert a.shape == (2, 16, 14) and a.abs().max() <= 1.0 + 1e-6, "clip_sample keeps the chunk in [-1, 1]"
    assert torch.equal(a, dp.sample(obs, torch.Generator().manual_seed(1)))
    assert len(dp.inference_scheduler.timesteps) == 5
