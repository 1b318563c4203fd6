"""The trained policy as deployment uses it: robot-unit observations in, robot-unit action chunks out."""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np
import torch

from diffog.config import action_joint_names, joint_indices, load_robot_description
from diffog.data.dataset import JOINT_STREAMS, resize_images
from diffog.data.normalizer import MinMaxNormalizer
from diffog.policy.checkpoint import CheckpointError, read_checkpoint
from diffog.policy.diffog_policy import DiffOGPolicy
from diffog.policy.factory import build_policy
from diffog.policy.obs_encoder import IMAGE_PREFIX


class LoadedPolicy:
    """Holds a DiffOGPolicy in eval mode with its EMA weights; see diffog.policy for the interface."""

    def __init__(self, policy: DiffOGPolicy, config: Mapping, joint_names: Sequence[str], description: Mapping,
                 device: torch.device, seed: int | None = None):
        self.model = policy.to(device).eval()
        self.config = dict(config)
        p = self.config["policy"]
        self.normalizer: MinMaxNormalizer = policy.normalizer
        self.joint_names = list(joint_names)  # the joints the policy commands (a subset of the robot's)
        self.robot_joint_names = action_joint_names(description)
        self.joint_index = joint_indices(self.joint_names, description)  # where they sit in the robot's qpos / action
        self.horizon, self.n_obs_steps, self.n_action_steps = p["horizon"], p["n_obs_steps"], p["n_action_steps"]
        self.chunk_length = self.horizon - self.n_obs_steps + 1  # steps from the current one on
        self.frame_skip = self.config["task"]["frame_skip"]
        self.dt = self.frame_skip / description["control_rate_hz"]  # seconds between consecutive chunk actions
        self.cameras, self.image_size, self.lowdim_keys = list(p["cameras"]), tuple(p["image_size"]), list(p["lowdim_keys"])
        self.has_layer = policy.layer is not None
        self.device = device
        self._generator = torch.Generator(device).manual_seed(seed) if seed is not None else None

    def reseed(self, seed: int) -> None:
        """Restart the sampling noise from `seed` (an evaluation episode's result then depends on its seed only)."""
        self._generator = torch.Generator(self.device).manual_seed(seed)

    def _obs_tensors(self, obs: Mapping) -> dict[str, torch.Tensor]:
        """Joint streams (qpos, qvel, effort) arrive in the robot's layout and are cut to the policy's joints."""
        out = {}
        for key in self.lowdim_keys:
            if key not in obs:
                raise KeyError(f"observation lacks {key!r}; the policy needs {self.lowdim_keys} and cameras {self.cameras}")
            x = np.asarray(obs[key], dtype=np.float32)
            if key in JOINT_STREAMS:
                if x.ndim != 2 or x.shape[1] != len(self.robot_joint_names):
                    raise ValueError(f"observation {key!r} has shape {x.shape}, expected ({self.n_obs_steps}, "
                                     f"{len(self.robot_joint_names)}) in the robot's joint order")
                x = x[:, self.joint_index]
            want = (self.n_obs_steps, self.normalizer.dim(key))
            if x.shape != want:
                raise ValueError(f"observation {key!r} has shape {x.shape}, expected {want} (n_obs_steps x dim)")
            if not np.all(np.isfinite(x)):
                raise ValueError(f"observation {key!r} contains NaN or inf")
            out[key] = torch.from_numpy(x)[None].to(self.device)
        images = obs.get("images", {})
        for cam in self.cameras:
            if cam not in images:
                raise KeyError(f"observation lacks camera {cam!r}; the policy needs {self.cameras}")
            img = np.asarray(images[cam])
            if img.dtype != np.uint8 or img.ndim != 4 or img.shape[0] != self.n_obs_steps or img.shape[-1] != 3:
                raise ValueError(f"camera {cam!r}: expected ({self.n_obs_steps}, H, W, 3) uint8, got {img.dtype} {img.shape}")
            img = resize_images(img, self.image_size).transpose(0, 3, 1, 2)
            out[IMAGE_PREFIX + cam] = torch.from_numpy(np.ascontiguousarray(img))[None].to(self.device)
        return out

    def sample_raw(self, obs: Mapping) -> np.ndarray:
        """The base policy's chunk, (chunk_length, D) robot units over the policy's joints; refinement is the
        deployment's (diffog.deploy.refiners), which times and compares the refiners on the same raw chunk."""
        tensors = self._obs_tensors(obs)
        nraw = self.model.sample_normalized(tensors, self._generator)
        return self._to_robot_units("raw", nraw)

    def _to_robot_units(self, name: str, nchunk: torch.Tensor) -> np.ndarray:
        chunk = self.normalizer.unnormalize("action", nchunk)[0].cpu().numpy().astype(np.float64)
        if not np.all(np.isfinite(chunk)):
            raise FloatingPointError(f"the policy produced a non-finite {name} chunk")
        return chunk


def load_policy(checkpoint_path: str | os.PathLike, device: str | torch.device = "cpu",
                seed: int | None = None) -> LoadedPolicy:
    """Load a checkpoint for this robot (aloha.yaml): another robot or action layout raises CheckpointError."""
    desc = load_robot_description()
    payload = read_checkpoint(checkpoint_path, joint_names=action_joint_names(desc), robot=desc["robot"])
    normalizer = MinMaxNormalizer.from_state_dict(payload["normalizer"])
    policy = build_policy(payload["config"], normalizer, payload["joint_names"])
    try:
        policy.load_state_dict(payload["weights"])
    except RuntimeError as e:  # weights that do not fit the architecture their own config describes
        raise CheckpointError(f"{checkpoint_path}: weights do not match the checkpoint's config: {e}") from e
    return LoadedPolicy(policy, payload["config"], payload["joint_names"], desc,
                        torch.device(device), seed)
