"""The policy checkpoint: weights, normalizer, config, joint names and a format version in one torch file of
plain tensors and Python primitives, so it loads with torch.load(weights_only=True) and never unpickles code.

Lives next to the policy (not in diffog.training) so deployment loads checkpoints without the training stack.
"""
from __future__ import annotations

import os
import pathlib
import pickle
import zipfile
from collections.abc import Mapping, Sequence

import torch
from omegaconf.errors import OmegaConfBaseException

from diffog.policy.config import PolicyConfig

FORMAT = "diffog-policy"
FORMAT_VERSION = 1
REQUIRED = ("format", "format_version", "robot", "joint_names", "config", "normalizer", "weights")


class CheckpointError(ValueError):
    """A checkpoint that is not ours, is corrupt, has another format version, or is for another robot."""


def save_checkpoint(path: str | os.PathLike, *, weights: Mapping[str, torch.Tensor], normalizer_state: Mapping,
                    config: Mapping, joint_names: Sequence[str], robot: str, train_state: Mapping | None = None,
                    info: Mapping | None = None) -> pathlib.Path:
    """Write atomically (temp file + rename) so a crash never leaves a half-written checkpoint.

    `weights`: the inference weights (EMA when training uses it); `train_state`: what `resume` needs
    (live weights, optimizer, LR scheduler, EMA, step), left out of shipped checkpoints.
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": FORMAT, "format_version": FORMAT_VERSION, "robot": robot, "joint_names": list(joint_names),
               "config": dict(config), "normalizer": dict(normalizer_state),
               "weights": {k: v.detach().cpu() for k, v in weights.items()}, "info": dict(info or {})}
    if train_state is not None:
        payload["train_state"] = dict(train_state)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)
    return path


def read_checkpoint(path: str | os.PathLike, *, joint_names: Sequence[str] | None = None,
                    robot: str | None = None) -> dict:
    """Load and validate a checkpoint (CPU tensors); `policy_config` is its config as a typed PolicyConfig
    (`config` the stored dict, which a training checkpoint extends with the run's settings). With `joint_names` (the robot's) / `robot`, a checkpoint
    trained for a different robot, or for joints this robot does not have, raises CheckpointError naming both.
    A policy may command a subset of the robot's joints (a one-arm task), in the robot's order."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    if not zipfile.is_zipfile(path):
        raise CheckpointError(f"{path}: not a readable torch checkpoint (corrupt, truncated or another format)")
    try:  # torch.load does not check the archive's CRCs: flipped bytes in a tensor would load silently
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise CheckpointError(f"{path}: corrupt checkpoint archive: {e}") from e
    if bad is not None:
        raise CheckpointError(f"{path}: corrupt checkpoint: CRC mismatch in {bad}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        why = next((ln.strip() for ln in str(e).splitlines() if "Unsupported global" in ln), "")
        raise CheckpointError(f"{path}: refused to load, it holds more than tensors and primitives "
                              f"(not a diffog checkpoint, or unsafe). {why}") from e
    except (RuntimeError, EOFError, OSError, ValueError) as e:
        raise CheckpointError(f"{path}: not a readable torch checkpoint (corrupt or truncated): {e}") from e
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a {FORMAT} checkpoint")
    if payload["format_version"] != FORMAT_VERSION:
        raise CheckpointError(f"{path}: format version {payload['format_version']}, this code reads "
                              f"version {FORMAT_VERSION}")
    missing = [k for k in REQUIRED if k not in payload]
    if missing:
        raise CheckpointError(f"{path}: incomplete checkpoint, missing {missing}")
    try:  # the policy's typed config, checked as when it was trained
        payload["policy_config"] = PolicyConfig.from_dict(payload["config"])
    except (OmegaConfBaseException, ValueError, TypeError) as e:
        raise CheckpointError(f"{path}: invalid policy config: {e}".replace("\n", "; ")) from e
    if bad := [k for k, v in payload["weights"].items()
               if not isinstance(v, torch.Tensor) or (v.is_floating_point() and not bool(torch.isfinite(v).all()))]:
        raise CheckpointError(f"{path}: non-finite or non-tensor weights in {bad[:5]}")
    if robot is not None and payload["robot"] != robot:
        raise CheckpointError(f"{path}: trained for robot {payload['robot']!r}, not {robot!r}")
    if joint_names is not None:
        theirs, ours = list(payload["joint_names"]), list(joint_names)
        if not theirs or [n for n in ours if n in theirs] != theirs:
            raise CheckpointError(
                f"{path}: trained for a {len(theirs)}-dim action {theirs}, this robot has {len(ours)}: {ours}")
    return payload
