"""A trained checkpoint as the controller calls it: observation history -> raw chunk, then the chosen refiner."""
from __future__ import annotations

import os
import pathlib

import numpy as np
import torch

from diffog.config import REPO_ROOT
from diffog.deploy.observation import Observation
from diffog.deploy.refiners import ChunkRefiner
from diffog.policy.checkpoint import read_checkpoint
from diffog.policy.runtime import LoadedPolicy, load_policy
from diffog.refine import continuous_dims_from_names


class RuntimePolicy:
    """The base policy (DDIM steps overridable) and the refiner chosen by name, over one LoadedPolicy."""

    def __init__(self, loaded: LoadedPolicy, refiner: str = "diffog", ddim_steps: int | None = None,
                 n_action_steps: int | None = None):
        self.loaded = loaded
        self.joint_names, self.cameras, self.dt = loaded.joint_names, loaded.cameras, loaded.dt
        self.n_obs_steps = loaded.n_obs_steps
        self.n_action_steps = n_action_steps or loaded.n_action_steps
        if not 1 <= self.n_action_steps <= loaded.chunk_length:
            raise ValueError(f"n_action_steps must be in [1, {loaded.chunk_length}], got {self.n_action_steps}")
        if ddim_steps is not None:
            if ddim_steps < 1:
                raise ValueError(f"ddim_steps must be >= 1, got {ddim_steps}")
            loaded.model.base.num_inference_steps = ddim_steps
        # low-dim inputs other than the joints (e.g. object poses in sim) arrive as streams of their own
        self.lowdim_streams = [k for k in loaded.lowdim_keys if k != "qpos"]
        self.set_refiner(refiner)

    def set_refiner(self, name: str) -> None:
        """Switch the refiner (for comparisons on one loaded policy); ValueError leaves the current one."""
        bound = float(self.loaded.config["task"]["refine"]["bound"])
        dims = continuous_dims_from_names(self.joint_names)
        lo, hi = torch.full((len(dims),), -bound), torch.full((len(dims),), bound)
        self._refine = ChunkRefiner(name, self.loaded.normalizer, dims, lo, hi, self.loaded.model.layer)
        self.refiner = name

    @property
    def streams(self) -> list[str]:
        """Observation streams besides the joint states: the cameras and other low-dim inputs."""
        return [*self.cameras, *self.lowdim_streams]

    def infer(self, history: list[Observation]) -> np.ndarray:
        obs = {"qpos": np.stack([o.qpos for o in history]),
               "images": {c: np.stack([o.streams[c] for o in history]) for c in self.cameras}}
        obs.update({k: np.stack([o.streams[k] for o in history]) for k in self.lowdim_streams})
        return self.loaded.sample_raw(obs)

    def refine(self, raw: np.ndarray, past: np.ndarray) -> tuple[np.ndarray, dict]:
        refined, stats = self._refine(torch.from_numpy(raw), torch.from_numpy(past))
        return refined.numpy(), stats


def resolve_checkpoint(path: str | os.PathLike) -> pathlib.Path:
    """A relative path that does not exist from the working directory is taken from the repository root, so
    launch YAML can name shipped checkpoints (checkpoints/...) wherever the node is started."""
    p = pathlib.Path(path).expanduser()
    return p if p.is_absolute() or p.exists() else REPO_ROOT / p


def load_runtime_policy(checkpoint: str | os.PathLike, device: str = "cpu", refiner: str = "diffog",
                        ddim_steps: int | None = None, n_action_steps: int | None = None,
                        seed: int | None = None) -> RuntimePolicy:
    return RuntimePolicy(load_policy(resolve_checkpoint(checkpoint), device, seed), refiner, ddim_steps,
                         n_action_steps)


def sim_camera_params(checkpoint: str | os.PathLike) -> dict[str, str]:
    """The sim node's parameters to render exactly this policy's cameras at its image size (none for a state
    policy): renders are the sim's largest cost on a CPU."""
    policy = read_checkpoint(resolve_checkpoint(checkpoint))["config"]["policy"]
    if not policy["cameras"]:
        return {"render_height": "0", "render_width": "0"}
    h, w = policy["image_size"]
    return {"cameras": f"[{','.join(policy['cameras'])}]", "render_height": str(h), "render_width": str(w)}
