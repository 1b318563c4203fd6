"""Diffusion Policy (conditional 1-D U-Net, ResNet-18/GroupNorm encoders, DDPM/DDIM via diffusers) with the
DiffOG layer on its action chunk.

The interface deployment (issue 8) calls:

    policy = load_policy(checkpoint_path, device="cpu", seed=None)
    raw_chunk, refined_chunk, stats = policy.predict_chunk(obs, past_action=None)

`obs` holds the last `policy.n_obs_steps` steps, oldest first, in robot units:
    "qpos":          (n_obs_steps, 14) float, ALOHA order (policy.joint_names)
    "object_poses":  (n_obs_steps, K) float, state-only policies (policy.lowdim_keys says which keys)
    "images":        {camera: (n_obs_steps, H, W, 3) uint8} for policy.cameras (resized to policy.image_size)
`past_action` (14,): the last action sent; the DiffOG layer keeps the chunk's first step within the bound of it.
Returns `raw_chunk` (the DP sample) and `refined_chunk` (after DiffOG; None without a layer), each
(policy.chunk_length, 14) robot-unit actions from the current step on, `policy.dt` seconds apart; execute the
first `policy.n_action_steps`. `stats`: inference time and the layer's solver report. A malformed or
non-finite observation raises (KeyError / ValueError) before anything runs: the caller holds position.
Also: `policy.normalizer`, `policy.joint_names`, `policy.horizon`, `policy.n_action_steps`, `policy.dt`.
"""
from diffog.policy.checkpoint import CheckpointError, read_checkpoint, save_checkpoint
from diffog.policy.runtime import LoadedPolicy, load_policy

__all__ = ["CheckpointError", "LoadedPolicy", "load_policy", "read_checkpoint", "save_checkpoint"]
