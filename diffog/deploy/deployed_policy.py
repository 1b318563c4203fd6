"""A trained checkpoint as the robot runs it: robot-unit observation history in, raw and refined chunks in the
robot's layout out. The one object between a checkpoint and the PolicyController (which times, checks and
streams the commands); the policy node and the sim evaluation both use it.

`infer(history)` is the base policy's chunk, (chunk_length, 14) robot units from the current step on,
`dt` seconds apart; `refine(raw, past)` applies the chosen refiner anchored to the last command. A policy that
commands a subset of the joints (a one-arm task) leaves the others at the last command, so that arm holds.
Observations hold the last `n_obs_steps` steps, oldest first, in robot units: qpos (n_obs_steps, 14), the
policy's cameras as (H, W, 3) uint8 frames, other low-dim streams (the sim's object poses). A malformed or
non-finite observation raises (KeyError / ValueError) before anything runs.
"""
from __future__ import annotations

import os
import pathlib
from collections.abc import Mapping

import numpy as np
import torch

from diffog import REPO_ROOT
from diffog.data.dataset import JOINT_STREAMS, resize_images
from diffog.data.normalizer import MinMaxNormalizer
from diffog.deploy.aloha_topics import AlohaTopics
from diffog.deploy.config import DeployConfig
from diffog.deploy.controller import Execution, PolicyController
from diffog.deploy.observation import Observation, ObservationMatcher
from diffog.deploy.refiners import ChunkRefiner
from diffog.policy.checkpoint import CheckpointError, read_checkpoint
from diffog.policy.config import PolicyConfig
from diffog.policy.diffog_policy import DiffOGPolicy
from diffog.policy.factory import build_policy
from diffog.policy.obs_encoder import IMAGE_PREFIX
from diffog.refine import continuous_dims_from_names
from diffog.robot import JointLimits, RobotDescription, SafetyFilter, load_robot_description


class DeployedPolicy:
    def __init__(self, model: DiffOGPolicy, config: PolicyConfig, joint_names: list[str],
                 description: RobotDescription, deploy: DeployConfig, seed: int | None = None):
        """deploy: how it runs (device, refiner, execution, ...); the controller is built from the same object."""
        device = torch.device(deploy.device)
        self.model = model.to(device).eval()
        self.config, self.deploy, self.device, self.description = config, deploy, device, description
        p = config.policy
        self.normalizer: MinMaxNormalizer = model.normalizer
        self.joint_names = description.action_joint_names  # how chunks and commands are laid out
        self.policy_joint_names = list(joint_names)          # the joints the policy commands, in that order
        self.index = description.joint_indices(self.policy_joint_names)
        self.n_obs_steps, self.chunk_length = p.n_obs_steps, p.chunk_length
        self.dt = config.task.frame_skip / description.control_rate_hz  # seconds between chunk actions
        self.cameras, self.image_size, self.lowdim_keys = list(p.cameras), tuple(p.image_size), list(p.lowdim_keys)
        # low-dim inputs other than the joints (e.g. object poses in sim) arrive as streams of their own
        self.lowdim_streams = [k for k in self.lowdim_keys if k != "qpos"]
        self.execution = Execution(deploy.n_action_steps or p.n_action_steps, deploy.overlap)
        if self.execution.n_action_steps > self.chunk_length - 1:  # action 0 is the present command
            raise ValueError(f"n_action_steps must be in [1, {self.chunk_length - 1}], "
                             f"got {self.execution.n_action_steps}")
        self._generator = torch.Generator(device).manual_seed(seed) if seed is not None else None
        self.set_refiner(deploy.refiner)

    def reseed(self, seed: int) -> None:
        """Restart the sampling noise from `seed` (an evaluation episode's result then depends on its seed only)."""
        self._generator = torch.Generator(self.device).manual_seed(seed)

    def set_refiner(self, name: str) -> None:
        """Switch the refiner (for comparisons on one loaded policy); ValueError leaves the current one."""
        dims = continuous_dims_from_names(self.policy_joint_names)
        hi = self.config.task.refine.bound_vector(len(dims))
        self._refine = ChunkRefiner(name, self.normalizer, dims, -hi, hi, self.model.layer)
        self.refiner = name

    @property
    def streams(self) -> list[str]:
        """Observation streams besides the joint states: the cameras and other low-dim inputs."""
        return [*self.cameras, *self.lowdim_streams]

    def infer(self, history: list[Observation]) -> np.ndarray:
        """The raw chunk in the robot's layout; joints the policy does not command read as their newest
        measured position here (refine() sets them to the last command)."""
        obs = {"qpos": np.stack([o.qpos for o in history]),
               "images": {c: np.stack([o.streams[c] for o in history]) for c in self.cameras}}
        obs.update({k: np.stack([o.streams[k] for o in history]) for k in self.lowdim_streams})
        return self._to_robot(self.sample_raw(obs), history[-1].qpos)

    def refine(self, raw: np.ndarray, past: np.ndarray) -> tuple[np.ndarray, dict]:
        """The chosen refiner on the policy's joints, anchored to `past` (the last command, robot layout)."""
        refined, stats = self._refine(torch.from_numpy(raw[:, self.index]), torch.from_numpy(past[self.index]))
        return self._to_robot(refined.numpy(), past), stats

    def sample_raw(self, obs: Mapping) -> np.ndarray:
        """The base policy's chunk over the policy's joints, (chunk_length, D) robot units, from an observation
        dict ("qpos" (n_obs_steps, 14), other low-dim keys, "images" {camera: (n_obs_steps, H, W, 3)})."""
        nraw = self.model.sample_normalized(self._obs_tensors(obs), self._generator)
        chunk = self.normalizer.unnormalize("action", nraw)[0].cpu().numpy().astype(np.float64)
        if not np.all(np.isfinite(chunk)):
            raise FloatingPointError("the policy produced a non-finite raw chunk")
        return chunk

    def _obs_tensors(self, obs: Mapping) -> dict[str, torch.Tensor]:
        """Joint streams (qpos, qvel, effort) arrive in the robot's layout and are cut to the policy's joints."""
        out = {}
        for key in self.lowdim_keys:
            if key not in obs:
                raise KeyError(f"observation lacks {key!r}; the policy needs {self.lowdim_keys} and cameras {self.cameras}")
            x = np.asarray(obs[key], dtype=np.float32)
            if key in JOINT_STREAMS:
                if x.ndim != 2 or x.shape[1] != len(self.joint_names):
                    raise ValueError(f"observation {key!r} has shape {x.shape}, expected ({self.n_obs_steps}, "
                                     f"{len(self.joint_names)}) in the robot's joint order")
                x = x[:, self.index]
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

    def _to_robot(self, chunk: np.ndarray, hold: np.ndarray) -> np.ndarray:
        out = np.repeat(np.asarray(hold, dtype=np.float64)[None], len(chunk), axis=0)
        out[:, self.index] = chunk
        return out


def resolve_checkpoint(path: str | os.PathLike) -> pathlib.Path:
    """A relative path that does not exist from the working directory is taken from the repository root, so
    launch YAML can name shipped checkpoints (checkpoints/...) wherever the node is started."""
    p = pathlib.Path(path).expanduser()
    return p if p.is_absolute() or p.exists() else REPO_ROOT / p


def load_deployed_policy(cfg: DeployConfig | str | os.PathLike, description: RobotDescription | None = None,
                         seed: int | None = None) -> DeployedPolicy:
    """Load `cfg.checkpoint` (or a checkpoint path with the default settings) for this robot: a checkpoint for
    another robot or action layout, or weights that do not fit their own config, raise CheckpointError."""
    cfg = cfg if isinstance(cfg, DeployConfig) else DeployConfig(checkpoint=str(cfg))
    desc = description or load_robot_description()
    path = resolve_checkpoint(cfg.checkpoint)
    payload = read_checkpoint(path, joint_names=desc.action_joint_names, robot=desc.robot)
    config: PolicyConfig = payload["policy_config"]
    if cfg.ddim_steps is not None:
        config.policy.num_inference_steps = cfg.ddim_steps
    model = build_policy(config, MinMaxNormalizer.from_state_dict(payload["normalizer"]), payload["joint_names"])
    try:
        model.load_state_dict(payload["weights"])
    except RuntimeError as e:  # weights that do not fit the architecture their own config describes
        raise CheckpointError(f"{path}: weights do not match the checkpoint's config: {e}") from e
    return DeployedPolicy(model, config, payload["joint_names"], desc, cfg, seed)


def build_controller(policy: DeployedPolicy) -> PolicyController:
    """The controller around `policy` as its DeployConfig deploys it: observation matching over the robot's
    joint-state streams and the policy's other inputs, and the safety filter at the command rate."""
    cfg, description = policy.deploy, policy.description
    command_rate = cfg.command_rate_hz or description.control_rate_hz
    history_s = (policy.n_obs_steps - 1) * policy.dt + cfg.observation_timeout_s + cfg.stamp_tolerance_s
    matcher = ObservationMatcher(AlohaTopics.load(description).qpos_slices(), policy.streams, cfg.stamp_tolerance_s,
                                 cfg.observation_timeout_s, history_s)
    safety = SafetyFilter(JointLimits.from_description(description), 1.0 / command_rate, cfg.step_scale)
    return PolicyController(policy.infer, policy.refine, matcher, safety, policy.dt, policy.execution,
                            policy.n_obs_steps)


def sim_camera_params(checkpoint: str | os.PathLike) -> dict[str, str]:
    """The sim node's parameters to render exactly this policy's cameras at its image size (none for a state
    policy): renders are the sim's largest cost on a CPU."""
    policy = read_checkpoint(resolve_checkpoint(checkpoint))["policy_config"].policy
    if not policy.cameras:
        return {"render_height": "0", "render_width": "0"}
    h, w = policy.image_size
    return {"cameras": f"[{','.join(policy.cameras)}]", "render_height": str(h), "render_width": str(w)}
