"""Builds a DiffOGPolicy from the resolved config dict that every checkpoint carries."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from diffog.data.normalizer import MinMaxNormalizer
from diffog.policy.diffog_policy import DiffOGPolicy
from diffog.policy.diffusion import DiffusionPolicy
from diffog.policy.obs_encoder import ObservationEncoder
from diffog.refine import DiffOGLayer, continuous_dims_from_names


def build_layer(cfg: Mapping, joint_names: Sequence[str]) -> DiffOGLayer:
    """The DiffOG layer over the chunk from the current step on; bounds and alpha in normalized units."""
    p, refine, layer = cfg["policy"], cfg["task"]["refine"], cfg["layer"]
    bound = torch.as_tensor(refine["bound"], dtype=torch.float64)  # a float, or one per continuous joint
    return DiffOGLayer(horizon=p["horizon"] - p["n_obs_steps"] + 1, action_dim=len(joint_names),
                       continuous_dims=continuous_dims_from_names(joint_names), lower=-bound, upper=bound,
                       alpha=refine["alpha"], q_mode=layer["q_mode"], q_head=layer["q_head"], solver=layer["solver"],
                       **layer["transformer"])


def build_policy(cfg: Mapping, normalizer: MinMaxNormalizer, joint_names: Sequence[str]) -> DiffOGPolicy:
    p, mode = cfg["policy"], cfg["mode"]
    missing = [k for k in ("action", *p["lowdim_keys"]) if k not in normalizer.keys]
    if missing:
        raise ValueError(f"the normalizer has no stats for {missing}")
    encoder = ObservationEncoder({k: normalizer.dim(k) for k in p["lowdim_keys"]}, p["cameras"], p["image_size"],
                                 p["resnet_width"], p["crop_ratio"])
    base = DiffusionPolicy(encoder, len(joint_names), p["horizon"], p["n_obs_steps"], p["down_dims"],
                           p["diffusion_step_embed_dim"], p["kernel_size"], p["n_groups"], p["num_train_timesteps"],
                           p["beta_schedule"], p["prediction_type"], p["num_inference_steps"])
    layer = None if mode["name"] == "base" else build_layer(cfg, joint_names)
    return DiffOGPolicy(base, normalizer, layer, mode["name"], mode.get("layer_loss_weight", 1.0))
