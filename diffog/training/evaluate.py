"""Offline evaluation of a checkpoint on its held-out episodes: losses, action error against the demos and
the paper's trajectory metrics (velocity / acceleration max and std, bound violations) of raw vs refined chunks."""
from __future__ import annotations

from collections.abc import Mapping

import torch
from torch.utils.data import DataLoader

from diffog.robot import load_robot_description
from diffog.data.normalizer import MinMaxNormalizer
from diffog.policy.factory import build_policy
from diffog.refine import continuous_dims_from_names, trajectory_metrics
from diffog.training.config import TrainConfig
from diffog.training.trainer import data_split, make_dataset, mean_losses, to_device


@torch.no_grad()
def evaluate_checkpoint(payload: Mapping, *, batch_size: int = 32, max_batches: int = 4, seed: int = 0,
                        device: str = "cpu") -> dict:
    """Metrics over up to `max_batches` batches of the validation episodes (all episodes when none is held out).

    Errors are mean |action - demo| in robot units over the executed `n_action_steps`; trajectory metrics are
    over whole chunks, continuous dims, in normalized units per second (dt = the policy step).
    """
    cfg: TrainConfig = payload["config"]  # with the command line's overrides
    joint_names = payload["joint_names"]
    policy = build_policy(cfg, MinMaxNormalizer.from_state_dict(payload["normalizer"]), joint_names)
    policy.load_state_dict(payload["weights"])
    policy.to(device).eval()
    train_paths, val_paths = data_split(cfg)
    dataset = make_dataset(cfg, val_paths or train_paths, joint_names)
    report: dict = {"split": "val" if val_paths else "train", "episodes": len(val_paths or train_paths),
                    "windows": len(dataset), **mean_losses(policy, dataset, batch_size, max_batches, device, seed)}
    dt = cfg.task.frame_skip / load_robot_description().control_rate_hz
    dims = continuous_dims_from_names(joint_names)
    bound = cfg.task.refine.bound_vector(len(dims)).to(device)
    n_act, start = cfg.policy.n_action_steps, policy.start
    gen = torch.Generator(device).manual_seed(seed)
    sums: dict[str, float] = {}
    n = 0
    for i, batch in enumerate(DataLoader(dataset, batch_size=batch_size, shuffle=False)):
        if i >= max_batches:
            break
        batch = to_device(batch, device)
        demo = batch["action"][:, start:]
        nraw = policy.sample_normalized(batch["obs"], generator=gen)
        raw = policy.normalizer.unnormalize("action", nraw)  # offline, as refine training sees it: no past action
        refined = None if policy.layer is None else policy.normalizer.unnormalize("action", policy.layer(nraw))
        chunks = {"demo": demo, "raw": raw} | ({"refined": refined} if refined is not None else {})
        for name, chunk in chunks.items():
            nchunk = policy.normalizer.normalize("action", chunk)
            parts = {f"{name}/{k}": v.mean() for k, v in trajectory_metrics(nchunk, dt, dims).items()}
            parts[f"{name}/bound_violation_rate"] = (nchunk[:, 1:, dims] - nchunk[:, :-1, dims]).abs().gt(
                bound + 1e-6).float().mean()
            if name != "demo":
                parts[f"{name}/action_error"] = (chunk[:, :n_act] - demo[:, :n_act]).abs().mean()
            for k, v in parts.items():
                sums[k] = sums.get(k, 0.0) + float(v)
        n += 1
    report.update({k: v / max(n, 1) for k, v in sums.items()})
    return report
