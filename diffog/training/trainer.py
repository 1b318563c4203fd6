"""The training loop: base DP, DiffOG dataset training or DiffOG refine training, single process or DDP."""
from __future__ import annotations

import copy
import json
import pathlib
import time
from collections.abc import Mapping

import numpy as np
import torch
import tqdm
from diffusers.optimization import get_scheduler
from diffusers.training_utils import EMAModel
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, RandomSampler
from torch.utils.tensorboard import SummaryWriter

from diffog.robot import load_robot_description
from diffog.data.dataset import ChunkDataset, episode_files, split_episodes
from diffog.data.normalizer import MinMaxNormalizer
from diffog.policy.checkpoint import read_checkpoint, save_checkpoint
from diffog.policy.diffog_policy import DiffOGPolicy
from diffog.policy.factory import build_policy
from diffog.refine import continuous_dims_from_names
from diffog.policy.config import PolicyConfig
from diffog.training.config import TrainConfig
from diffog.training.distributed import DistInfo, close_distributed, init_distributed

LAST = "last.ckpt"


def make_dataset(cfg: PolicyConfig, paths, joint_names) -> ChunkDataset:
    p = cfg.policy
    return ChunkDataset(paths, horizon=p.horizon, n_obs_steps=p.n_obs_steps, n_action_steps=p.n_action_steps,
                        lowdim_keys=p.lowdim_keys, cameras=p.cameras, image_size=p.image_size,
                        frame_skip=cfg.task.frame_skip, joint_names=joint_names)


def demo_step_bound(dataset: ChunkDataset, normalizer: MinMaxNormalizer, quantile: float) -> list[float]:
    """Per continuous joint, the `quantile` of the demos' own steps between policy steps (normalized units): a
    bound that means what Table VII's does for the paper's slow human demos, the demonstrated speed envelope."""
    dims = continuous_dims_from_names(dataset.joint_names)
    steps = np.concatenate([np.abs(np.diff(normalizer.normalize("action", torch.from_numpy(a)).numpy(), axis=0))
                            for a in dataset.actions if len(a) > 1])[:, dims]
    return [round(float(b), 4) for b in np.quantile(steps, quantile, axis=0)]


def data_split(cfg: TrainConfig):
    d = cfg.data
    return split_episodes(episode_files(d.dir), d.val_ratio, d.split_seed)


def _batches(loader: DataLoader):
    """Endless batches, reshuffled every epoch (per rank under DDP)."""
    epoch = 0
    while True:
        if isinstance(loader.sampler, DistributedSampler):
            loader.sampler.set_epoch(epoch)
        yield from loader
        epoch += 1


def to_device(batch, device):
    if isinstance(batch, Mapping):
        return {k: to_device(v, device) for k, v in batch.items()}
    return batch.to(device, non_blocking=True)


@torch.no_grad()
def mean_losses(policy: DiffOGPolicy, dataset: ChunkDataset, batch_size: int, max_batches: int,
                device: torch.device, seed: int = 0) -> dict[str, float]:
    """Loss parts averaged over the first `max_batches` batches, with fixed noise so values are comparable."""
    was_training = policy.training
    policy.eval()
    rng = torch.get_rng_state()
    torch.manual_seed(seed)
    sums: dict[str, float] = {}
    n = 0
    for i, batch in enumerate(DataLoader(dataset, batch_size=batch_size, shuffle=False)):
        if i >= max_batches:
            break
        for k, v in policy.compute_loss(to_device(batch, device)).items():
            sums[k] = sums.get(k, 0.0) + float(v)
        n += 1
    torch.set_rng_state(rng)
    policy.train(was_training)
    return {k: v / max(n, 1) for k, v in sums.items()}


class _EMAWeights:
    """Swaps the EMA weights in for evaluation and saving (a no-op without EMA)."""

    def __init__(self, ema: EMAModel | None, policy: DiffOGPolicy):
        self.ema, self.params = ema, list(policy.parameters())

    def __enter__(self):
        if self.ema is not None:
            self.ema.store(self.params)
            self.ema.copy_to(self.params)

    def __exit__(self, *exc):
        if self.ema is not None:
            self.ema.restore(self.params)


def _refine_base(cfg: TrainConfig, joint_names, robot) -> tuple[MinMaxNormalizer, dict]:
    """Refine mode: the policy config, normalizer and base weights all come from the frozen base checkpoint."""
    base = read_checkpoint(cfg.mode.base_checkpoint, joint_names=joint_names, robot=robot)
    weights = {k.removeprefix("base."): v for k, v in base["weights"].items() if k.startswith("base.")}
    cfg.policy = base["policy_config"].policy
    cfg.task.arms = base["policy_config"].task.arms  # the base's action layout
    return MinMaxNormalizer.from_state_dict(base["normalizer"]), weights


def train(cfg: TrainConfig, resume: Mapping | None = None) -> dict:
    """Train as `cfg` says (or go on from a checkpoint payload `resume`); returns a summary (rank 0 writes
    `run_dir/last.ckpt`, tensorboard logs in `run_dir/tb` and `run_dir/summary.json`)."""
    info = init_distributed(cfg.device)
    try:
        return _train(copy.deepcopy(cfg), resume, info)
    finally:
        close_distributed(info)


def _train(cfg: TrainConfig, resume: Mapping | None, info: DistInfo) -> dict:
    t_cfg = cfg.training
    if t_cfg.num_threads:
        torch.set_num_threads(t_cfg.num_threads)
    torch.manual_seed(cfg.seed + info.rank)
    np.random.seed(cfg.seed + info.rank)
    description = load_robot_description()
    robot = description.robot
    normalizer, base_weights = None, None
    if cfg.mode.name == "refine":  # the base's policy config and arms
        normalizer, base_weights = _refine_base(cfg, description.action_joint_names, robot)
    joint_names = description.policy_joint_names(cfg.task.arms)
    if resume is not None:
        normalizer = MinMaxNormalizer.from_state_dict(resume["normalizer"])

    train_paths, val_paths = data_split(cfg)
    dataset = make_dataset(cfg, train_paths, joint_names)
    val_set = make_dataset(cfg, val_paths, joint_names) if val_paths else None
    normalizer = normalizer or dataset.fit_normalizer(cfg.normalizer.min_span, cfg.normalizer.obs_clip)
    if cfg.task.refine.bound == "demos":
        cfg.task.refine.bound = demo_step_bound(dataset, normalizer, cfg.task.refine.bound_quantile)
    policy = build_policy(cfg, normalizer, joint_names).to(info.device)
    if base_weights is not None:
        policy.base.load_state_dict(base_weights)

    trainable = list(policy.trainable_parameters())
    optimizer = torch.optim.AdamW(trainable, lr=t_cfg.lr, betas=tuple(t_cfg.betas), weight_decay=t_cfg.weight_decay)
    lr_scheduler = get_scheduler(t_cfg.lr_scheduler, optimizer, num_warmup_steps=t_cfg.lr_warmup_steps,
                                 num_training_steps=t_cfg.num_steps)
    e = t_cfg.ema
    ema = (EMAModel(policy.parameters(), decay=e.max_decay, use_ema_warmup=True, inv_gamma=e.inv_gamma,
                    power=e.power) if e.enabled else None)
    step = 0
    if resume is not None:
        state = resume.get("train_state")
        if state is None:
            raise ValueError("this checkpoint was saved without its training state (keep_train_state=false); "
                             "it can be evaluated or deployed but not resumed")
        policy.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        lr_scheduler.load_state_dict(state["lr_scheduler"])
        if ema is not None:
            ema.load_state_dict(state["ema"])
        step = state["step"]
        torch.set_rng_state(state["rng"])

    model = DistributedDataParallel(policy) if info.world_size > 1 else policy
    sampler = (DistributedSampler(dataset, shuffle=True, seed=cfg.seed) if info.world_size > 1
               else RandomSampler(dataset))
    batch_size = min(t_cfg.batch_size, len(dataset))
    loader = DataLoader(dataset, batch_size=batch_size, sampler=sampler, drop_last=True,
                        num_workers=cfg.data.num_workers)
    run_dir = pathlib.Path(cfg.run_dir)
    writer = SummaryWriter(run_dir / "tb") if info.is_main else None

    def save(path: pathlib.Path | None = None) -> pathlib.Path:
        with _EMAWeights(ema, policy):
            weights = policy.state_dict()
            weights = {k: v.clone() for k, v in weights.items()}
        train_state = ({"model": policy.state_dict(), "optimizer": optimizer.state_dict(),
                        "lr_scheduler": lr_scheduler.state_dict(), "ema": ema.state_dict() if ema else None,
                        "step": step, "rng": torch.get_rng_state()} if t_cfg.keep_train_state else None)
        return save_checkpoint(path or run_dir / LAST, weights=weights, normalizer_state=normalizer.state_dict(),
                               config=cfg.to_dict(), joint_names=joint_names, robot=robot, train_state=train_state,
                               info={"step": step, "train_episodes": [p.name for p in train_paths],
                                     "val_episodes": [p.name for p in val_paths],
                                     "wall_s": wall_before + time.perf_counter() - t0})

    losses: list[float] = []
    val_log: dict[str, float] = {}
    policy.train()
    batches = _batches(loader)
    t0, first_step = time.perf_counter(), step
    wall_before = float(resume.get("info", {}).get("wall_s", 0.0)) if resume is not None else 0.0
    bar = tqdm.tqdm(total=t_cfg.num_steps, initial=step, disable=not info.is_main, mininterval=1.0,
                    desc=f"{cfg.task.name} {cfg.policy.name} {cfg.mode.name}")
    while step < t_cfg.num_steps:
        parts = model(to_device(next(batches), info.device))
        optimizer.zero_grad(set_to_none=True)
        parts["loss"].backward()
        optimizer.step()
        lr_scheduler.step()
        if ema is not None:
            ema.step(policy.parameters())
        step += 1
        losses.append(parts["loss"].item())
        bar.update(1)
        if writer is not None and (step % t_cfg.log_every == 0 or step == t_cfg.num_steps):
            for k, v in parts.items():
                writer.add_scalar(f"train/{k}", v.item(), step)
            writer.add_scalar("train/lr", lr_scheduler.get_last_lr()[0], step)
            bar.set_postfix(loss=f"{np.mean(losses[-t_cfg.log_every:]):.4f}", refresh=False)
        done = step == t_cfg.num_steps
        if info.is_main and val_set is not None and (step % t_cfg.val_every == 0 or done):
            with _EMAWeights(ema, policy):
                val_log = mean_losses(policy, val_set, batch_size, t_cfg.val_batches, info.device)
            for k, v in val_log.items():
                writer.add_scalar(f"val/{k}", v, step)
        if info.is_main and (step % t_cfg.checkpoint_every == 0 or done):
            save()
        if info.is_main and t_cfg.keep_every and step % t_cfg.keep_every == 0:
            save(run_dir / f"step_{step}.ckpt")  # e.g. for the time-to-score benchmark
    bar.close()
    elapsed = time.perf_counter() - t0
    summary = {"steps": step, "train_loss_first": losses[:10], "train_loss_last": losses[-10:],
               "val": val_log, "samples_per_s": (step - first_step) * batch_size * info.world_size / max(elapsed, 1e-9),
               "world_size": info.world_size, "checkpoint": str(run_dir / LAST)}
    if writer is not None:
        writer.add_scalar("train/samples_per_s", summary["samples_per_s"], step)
        writer.close()
        (run_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    summary["losses"] = losses
    return summary
