"""The training config: the policy's typed config (diffog.policy.config) plus the run, the data and the
optimizer. Registered with Hydra as the schema of diffog/training/conf/train.yaml, so a composed config is
type-checked by Hydra and validated by the dataclasses before training starts."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Optional

from hydra import compose, initialize_config_module
from hydra.core.config_store import ConfigStore
from omegaconf import OmegaConf

from diffog.policy.config import PolicyConfig
from diffog.robot.description import parse_structured
from diffog.robot.validation import require_positive

CONFIG_MODULE = "diffog.training.conf"
LR_SCHEDULERS = ("cosine", "constant", "constant_with_warmup", "linear")


@dataclass
class DataConfig:
    dir: str = "data/sim/sim_move_stack"
    val_ratio: float = 0.1   # share of episodes held out (whole episodes)
    split_seed: int = 0
    num_workers: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.val_ratio < 1:
            raise ValueError(f"data.val_ratio must be in [0, 1), got {self.val_ratio}")


@dataclass
class EMAConfig:
    """Diffusion Policy's EMA schedule; inference uses the EMA weights."""

    enabled: bool = True
    power: float = 0.75
    inv_gamma: float = 1.0
    max_decay: float = 0.9999


@dataclass
class OptimConfig:
    batch_size: int = 64
    num_steps: int = 20000
    lr: float = 1.0e-4
    betas: list[float] = field(default_factory=lambda: [0.95, 0.999])
    weight_decay: float = 1.0e-6
    lr_scheduler: str = "cosine"
    lr_warmup_steps: int = 500
    ema: EMAConfig = field(default_factory=EMAConfig)
    num_threads: Optional[int] = None  # torch CPU threads (None: torch's default)
    log_every: int = 50
    val_every: int = 1000
    val_batches: int = 8
    checkpoint_every: int = 1000
    keep_every: int = 0             # > 0: also keep step_N.ckpt every N steps
    keep_train_state: bool = True   # False: a smaller checkpoint that cannot be resumed

    def __post_init__(self) -> None:
        require_positive("training", batch_size=self.batch_size, num_steps=self.num_steps, lr=self.lr,
                  log_every=self.log_every, val_every=self.val_every, checkpoint_every=self.checkpoint_every)
        if self.lr_scheduler not in LR_SCHEDULERS:
            raise ValueError(f"training.lr_scheduler must be one of {LR_SCHEDULERS}, got {self.lr_scheduler!r}")
        if self.lr_warmup_steps < 0 or self.keep_every < 0:
            raise ValueError("training.lr_warmup_steps and training.keep_every must be >= 0")


@dataclass
class TrainConfig(PolicyConfig):
    run_dir: str = "runs/run"
    seed: int = 0
    device: str = "cpu"   # cuda for a GPU; under torchrun each process takes cuda:LOCAL_RANK
    data: DataConfig = field(default_factory=DataConfig)
    training: OptimConfig = field(default_factory=OptimConfig)

    @classmethod
    def from_dict(cls, data: Mapping, *, ignore_extra: bool = False) -> TrainConfig:
        return super().from_dict(dict(data), ignore_extra=ignore_extra)


ConfigStore.instance().store(name="train_schema", node=TrainConfig)


def compose_config(overrides: Sequence[str] = ()) -> TrainConfig:
    """train.yaml with Hydra overrides (`task=insertion`, `training.num_steps=100`, ...), typed and validated."""
    with initialize_config_module(config_module=CONFIG_MODULE, version_base=None):
        cfg = compose(config_name="train", overrides=list(overrides))
    return OmegaConf.to_object(cfg)


def apply_overrides(cfg: TrainConfig | Mapping, overrides: Sequence[str]) -> TrainConfig:
    """Dot-list overrides (`training.num_steps=5000`) on an existing config, e.g. one read from a checkpoint."""
    base = cfg.to_dict() if isinstance(cfg, TrainConfig) else dict(cfg)
    return parse_structured(TrainConfig, OmegaConf.merge(OmegaConf.create(base),
                                                         OmegaConf.from_dotlist(list(overrides))))
