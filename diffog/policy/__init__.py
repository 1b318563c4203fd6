"""Diffusion Policy (conditional 1-D U-Net, ResNet-18/GroupNorm encoders, DDPM/DDIM via diffusers) with the
DiffOG layer on its action chunk.

`load_policy(checkpoint_path, device="cpu", seed=None)` gives a LoadedPolicy: `sample_raw(obs)` is the base
policy's chunk, (policy.chunk_length, len(policy.joint_names)) robot-unit actions from the current step on,
`policy.dt` seconds apart, over the joints the policy commands (`policy.joint_index` in the robot's 14).
`obs` holds the last `policy.n_obs_steps` steps, oldest first, in robot units:
    "qpos":          (n_obs_steps, 14) float, the robot's ALOHA order (cut to the policy's joints inside)
    "object_poses":  (n_obs_steps, K) float, state-only policies (policy.lowdim_keys says which keys)
    "images":        {camera: (n_obs_steps, H, W, 3) uint8} for policy.cameras (resized to policy.image_size)
A malformed or non-finite observation raises (KeyError / ValueError) before anything runs. Refinement (the
DiffOG layer or a baseline, anchored to the last executed action) and execution are diffog.deploy's.
"""
from diffog.policy.checkpoint import CheckpointError, read_checkpoint, save_checkpoint
from diffog.policy.runtime import LoadedPolicy, load_policy

__all__ = ["CheckpointError", "LoadedPolicy", "load_policy", "read_checkpoint", "save_checkpoint"]
