"""Builds a DiffOGPolicy from the typed PolicyConfig that every checkpoint carries."""
from __future__ import annotations

from collections.abc import Sequence

from diffog.data.normalizer import MinMaxNormalizer
from diffog.policy.config import PolicyConfig
from diffog.policy.diffog_policy import DiffOGPolicy
from diffog.policy.diffusion import DiffusionPolicy
from diffog.policy.obs_encoder import ObservationEncoder
from diffog.refine import DiffOGLayer, continuous_dims_from_names


DIFFUSION_FIELDS = ("horizon", "n_obs_steps", "down_dims", "diffusion_step_embed_dim", "kernel_size", "n_groups",
                    "num_train_timesteps", "beta_schedule", "prediction_type", "num_inference_steps")


def build_layer(cfg: PolicyConfig, joint_names: Sequence[str]) -> DiffOGLayer:
    """The DiffOG layer over the chunk from the current step on; bounds and alpha in normalized units."""
    dims = continuous_dims_from_names(joint_names)
    bound = cfg.task.refine.bound_vector(len(dims))
    layer = cfg.layer
    return DiffOGLayer(horizon=cfg.policy.chunk_length, action_dim=len(joint_names),
                       continuous_dims=dims, lower=-bound, upper=bound,
                       alpha=cfg.task.refine.alpha, q_mode=layer.q_mode, q_head=layer.q_head, solver=layer.solver,
                       **vars(layer.transformer))


def build_policy(cfg: PolicyConfig, normalizer: MinMaxNormalizer, joint_names: Sequence[str]) -> DiffOGPolicy:
    p = cfg.policy
    missing = [k for k in ("action", *p.lowdim_keys) if k not in normalizer.keys]
    if missing:
        raise ValueError(f"the normalizer has no stats for {missing}")
    encoder = ObservationEncoder({k: normalizer.dim(k) for k in p.lowdim_keys}, cameras=p.cameras,
                                 image_size=p.image_size, resnet_width=p.resnet_width, crop_ratio=p.crop_ratio)
    base = DiffusionPolicy(encoder, len(joint_names), **{k: getattr(p, k) for k in DIFFUSION_FIELDS})
    layer = None if cfg.mode.name == "base" else build_layer(cfg, joint_names)
    return DiffOGPolicy(base, normalizer, layer, cfg.mode.name, cfg.mode.layer_loss_weight)
