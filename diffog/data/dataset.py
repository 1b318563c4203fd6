"""Training windows from ALOHA HDF5 episodes: low-dim streams, resized camera images and action chunks.

Episodes come through `read_episode`, which refuses (EpisodeFormatError, a ValueError) files with wrong dtypes or
shapes, non-finite or absurd values, undecodable images or failed checksums, so no such file reaches training."""
from __future__ import annotations

import os
import pathlib
from collections.abc import Mapping, Sequence

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from diffog.robot import load_robot_description
from diffog.data.aloha_hdf5 import Episode, list_episodes, read_episode
from diffog.data.normalizer import DEFAULT_OBS_CLIP, MinMaxNormalizer
from diffog.data.sampler import SequenceSampler


def split_episodes(paths: Sequence[pathlib.Path], val_ratio: float, seed: int = 0
                   ) -> tuple[list[pathlib.Path], list[pathlib.Path]]:
    """Train / validation split by whole episodes (windows of one episode never straddle both)."""
    paths = list(paths)
    if not paths:
        raise ValueError("no episodes to split")
    n_val = min(int(round(val_ratio * len(paths))), len(paths) - 1)
    if val_ratio > 0 and len(paths) > 1:
        n_val = max(n_val, 1)
    order = np.random.default_rng(seed).permutation(len(paths))
    val = sorted(paths[i] for i in order[:n_val])
    return [p for p in paths if p not in val], val


def episode_files(data_dir: str | os.PathLike) -> list[pathlib.Path]:
    found = list_episodes(data_dir) if pathlib.Path(data_dir).is_dir() else []
    if not found:
        raise FileNotFoundError(f"no episode_N.hdf5 files in {data_dir}")
    return found


def resize_images(frames: np.ndarray, size: Sequence[int]) -> np.ndarray:
    """(T, H, W, 3) uint8 -> (T, h, w, 3) uint8; INTER_AREA is the alias-free choice for downscaling."""
    h, w = size
    if frames.shape[1:3] == (h, w):
        return frames
    return np.stack([cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) for f in frames])


JOINT_STREAMS = ("qpos", "qvel", "effort")  # per joint, in the action's layout


def lowdim_stream(episode: Episode, key: str) -> np.ndarray:
    """A (T, D) low-dim stream of an episode: qpos, qvel, effort, or a recorded extra (e.g. object_poses)."""
    value = getattr(episode, key, None) if key in JOINT_STREAMS else episode.extras.get(key)
    if value is None:
        raise KeyError(f"{episode.path}: no low-dim stream {key!r}; it has qpos, qvel"
                       f"{', effort' if episode.effort is not None else ''} and {sorted(episode.extras) or 'no extras'}"
                       + ("; re-record sim data with diffog.sim.make_dataset, which stores object_poses"
                          if key == "object_poses" else ""))
    if np.ndim(value) != 2 or len(value) != len(episode):
        raise ValueError(f"{episode.path}: low-dim stream {key!r} has shape {np.shape(value)}; expected "
                         f"({len(episode)}, D)")
    return np.asarray(value, dtype=np.float32)


class ChunkDataset(Dataset):
    """Windows of `horizon` steps: `obs` holds the first `n_obs_steps` frames (raw low-dim values, images as
    uint8 (n_obs, 3, h, w)), `action` all `horizon` actions in robot units. Normalization happens in the
    policy, the one code path shared by training and deployment.

    `frame_skip` k > 1 trains on every k-th frame (policy steps k control periods apart); each episode
    yields k subsampled copies, one per phase, so no frame goes unused.
    """

    def __init__(self, paths: Sequence[str | os.PathLike], *, horizon: int, n_obs_steps: int, n_action_steps: int,
                 lowdim_keys: Sequence[str] = ("qpos",), cameras: Sequence[str] = (),
                 image_size: Sequence[int] = (64, 80), frame_skip: int = 1,
                 joint_names: Sequence[str] | None = None):
        if not paths:
            raise ValueError("ChunkDataset needs at least one episode")
        self.n_obs_steps = n_obs_steps
        self.lowdim_keys, self.cameras = list(lowdim_keys), list(cameras)
        self.joint_names: list[str] | None = None if joint_names is None else list(joint_names)
        self.actions, self.lowdim, self.images = [], [], []
        for path in paths:
            ep = read_episode(path, cameras=self.cameras)
            action = np.asarray(ep.action, dtype=np.float32)
            # ALOHA's own files name no joints: they are in ALOHA's order
            names = list(ep.metadata.get("joint_names") or load_robot_description().action_joint_names)
            if action.ndim != 2 or action.shape[1] != len(names):
                raise ValueError(f"{path}: actions have shape {action.shape}, expected (T, {len(names)}) for {names}")
            index = slice(None)
            if joint_names is not None:
                if missing := [n for n in joint_names if n not in names]:
                    raise ValueError(f"{path}: the policy's joints {missing} are not among the recorded {names}")
                index = [names.index(n) for n in joint_names]
            action = action[:, index]
            self.joint_names = self.joint_names or list(names)
            streams = {k: lowdim_stream(ep, k) for k in self.lowdim_keys}
            # the robot's own state streams follow the policy's joints (a one-arm policy sees its arm)
            streams.update({k: v[:, index] for k, v in streams.items() if k in JOINT_STREAMS})
            if not np.all(np.isfinite(action)) or not all(np.all(np.isfinite(v)) for v in streams.values()):
                raise ValueError(f"{path}: NaN or inf in actions or observations")
            images = {c: resize_images(ep.images[c], image_size).transpose(0, 3, 1, 2) for c in self.cameras}
            for phase in range(min(frame_skip, len(action))):
                self.actions.append(action[phase::frame_skip])
                self.lowdim.append({k: v[phase::frame_skip] for k, v in streams.items()})
                self.images.append({c: v[phase::frame_skip] for c, v in images.items()})
        self.sampler = SequenceSampler([len(a) for a in self.actions], horizon, n_obs_steps, n_action_steps)

    def __len__(self) -> int:
        return len(self.sampler)

    def __getitem__(self, i: int) -> dict:
        ep, idx = self.sampler.frame_indices(i)
        obs_idx = idx[:self.n_obs_steps]
        obs = {k: torch.from_numpy(v[obs_idx]) for k, v in self.lowdim[ep].items()}
        obs.update({f"image/{c}": torch.from_numpy(v[obs_idx]) for c, v in self.images[ep].items()})
        return {"obs": obs, "action": torch.from_numpy(self.actions[ep][idx])}

    def fit_normalizer(self, min_span: Mapping[str, float] | None = None,
                       obs_clip: float = DEFAULT_OBS_CLIP) -> MinMaxNormalizer:
        """Min-max stats of actions and low-dim streams over every frame of these episodes."""
        data = {"action": np.concatenate(self.actions)}
        data.update({k: np.concatenate([s[k] for s in self.lowdim]) for k in self.lowdim_keys})  # phases cover each frame once
        return MinMaxNormalizer.fit(data, min_span, obs_clip)
