"""A trained checkpoint as the controller calls it: observation history -> raw chunk, then the chosen refiner."""
from __future__ import annotations

import os
import pathlib

import numpy as np
import torch

from diffog.config import REPO_ROOT
from diffog.deploy.controller import Execution
from diffog.deploy.observation import Observation
from diffog.deploy.refiners import ChunkRefiner
from diffog.policy.checkpoint import read_checkpoint
from diffog.policy.runtime import LoadedPolicy, load_policy
from diffog.refine import continuous_dims_from_names
from diffog.refine.bounds import as_bound_vector


class RuntimePolicy:
    """The base policy (DDIM steps overridable), the refiner chosen by name and how chunks are executed, over one
    LoadedPolicy. Chunks come out in the robot's 14-dim layout: a policy that commands a subset of the joints
    (a one-arm task) leaves the others at the last command sent, so that arm holds its pose."""

    def __init__(self, loaded: LoadedPolicy, refiner: str = "diffog", ddim_steps: int | None = None,
                 n_action_steps: int | None = None, overlap: bool = False):
        self.loaded = loaded
        self.joint_names = loaded.robot_joint_names  # what the chunks and commands are laid out as
        self.policy_joint_names, self.index = loaded.joint_names, loaded.joint_index
        self.cameras, self.dt, self.n_obs_steps = loaded.cameras, loaded.dt, loaded.n_obs_steps
        self.execution = Execution(n_action_steps or loaded.n_action_steps, overlap)
        if self.execution.n_action_steps > loaded.chunk_length - 1:  # action 0 is the present command
            raise ValueError(f"n_action_steps must be in [1, {loaded.chunk_length - 1}], "
                             f"got {self.execution.n_action_steps}")
        if ddim_steps is not None:
            if ddim_steps < 1:
                raise ValueError(f"ddim_steps must be >= 1, got {ddim_steps}")
            loaded.model.base.num_inference_steps = ddim_steps
        # low-dim inputs other than the joints (e.g. object poses in sim) arrive as streams of their own
        self.lowdim_streams = [k for k in loaded.lowdim_keys if k != "qpos"]
        self.set_refiner(refiner)

    def set_refiner(self, name: str) -> None:
        """Switch the refiner (for comparisons on one loaded policy); ValueError leaves the current one."""
        dims = continuous_dims_from_names(self.policy_joint_names)
        hi = as_bound_vector(self.loaded.config["task"]["refine"]["bound"], len(dims), "refine.bound")
        lo = -hi
        self._refine = ChunkRefiner(name, self.loaded.normalizer, dims, lo, hi, self.loaded.model.layer)
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
        return self._to_robot(self.loaded.sample_raw(obs), history[-1].qpos)

    def refine(self, raw: np.ndarray, past: np.ndarray) -> tuple[np.ndarray, dict]:
        """The chosen refiner on the policy's joints, anchored to `past` (the last command, robot layout)."""
        refined, stats = self._refine(torch.from_numpy(raw[:, self.index]), torch.from_numpy(past[self.index]))
        return self._to_robot(refined.numpy(), past), stats

    def _to_robot(self, chunk: np.ndarray, hold: np.ndarray) -> np.ndarray:
        out = np.repeat(np.asarray(hold, dtype=np.float64)[None], len(chunk), axis=0)
        out[:, self.index] = chunk
        return out


def resolve_checkpoint(path: str | os.PathLike) -> pathlib.Path:
    """A relative path that does not exist from the working directory is taken from the repository root, so
    launch YAML can name shipped checkpoints (checkpoints/...) wherever the node is started."""
    p = pathlib.Path(path).expanduser()
    return p if p.is_absolute() or p.exists() else REPO_ROOT / p


def load_runtime_policy(checkpoint: str | os.PathLike, device: str = "cpu", refiner: str = "diffog",
                        ddim_steps: int | None = None, n_action_steps: int | None = None, overlap: bool = False,
                        seed: int | None = None) -> RuntimePolicy:
    return RuntimePolicy(load_policy(resolve_checkpoint(checkpoint), device, seed), refiner, ddim_steps,
                         n_action_steps, overlap)


def sim_camera_params(checkpoint: str | os.PathLike) -> dict[str, str]:
    """The sim node's parameters to render exactly this policy's cameras at its image size (none for a state
    policy): renders are the sim's largest cost on a CPU."""
    policy = read_checkpoint(resolve_checkpoint(checkpoint))["config"]["policy"]
    if not policy["cameras"]:
        return {"render_height": "0", "render_width": "0"}
    h, w = policy["image_size"]
    return {"cameras": f"[{','.join(policy['cameras'])}]", "render_height": str(h), "render_width": str(w)}
