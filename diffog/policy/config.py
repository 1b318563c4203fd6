"""What a policy is, as typed configs: the task, the Diffusion Policy, the DiffOG layer, the training mode and
the normalizer. Hydra validates the YAML in diffog/training/conf against these (they are registered as its
structured-config schema), and every checkpoint stores them; `PolicyConfig.from_dict` reads one back, checked
the same way. Values are validated once here, where they enter, and passed down as objects.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Optional

import torch
from omegaconf import MISSING

from diffog.refine.bounds import as_bound_vector

from diffog.robot.description import parse_structured
from diffog.robot.validation import require_positive

MODES = ("base", "dataset", "refine")
Q_MODES, Q_HEADS, SOLVERS = ("transformer", "identity", "learned"), ("full", "compact"), ("active_set", "qpth")
PREDICTION_TYPES = ("epsilon", "sample")


@dataclass
class RefineConfig:
    """DiffOG's step bound (normalized units per policy step: a float, one per continuous joint, or "demos" =
    derived from the training demos when training starts) and its smoothing weight alpha."""

    bound: Any = "demos"
    bound_quantile: float = 1.0
    table_vii_bound: Optional[float] = None  # the paper's value, for the record
    alpha: float = 4.0

    def __post_init__(self) -> None:
        if isinstance(self.bound, str):
            if self.bound != "demos":
                raise ValueError(f"task.refine.bound must be a number, a list or 'demos', got {self.bound!r}")
        else:
            require_positive("task.refine", **{f"bound[{i}]": b for i, b in enumerate(self.bound_values)})
        if not 0 < self.bound_quantile <= 1:
            raise ValueError(f"task.refine.bound_quantile must be in (0, 1], got {self.bound_quantile}")
        if not (math.isfinite(self.alpha) and self.alpha >= 0):
            raise ValueError(f"task.refine.alpha must be finite and >= 0, got {self.alpha}")

    def bound_vector(self, n_dims: int) -> torch.Tensor:
        """The bound on each of `n_dims` continuous joints (float64), the one place it is resolved."""
        values = self.bound_values
        return as_bound_vector(values if isinstance(self.bound, (list, tuple)) else values[0], n_dims,
                               "task.refine.bound")

    @property
    def bound_values(self) -> list[float]:
        """The resolved bound as a list (one value, or one per continuous joint)."""
        if isinstance(self.bound, str):
            raise ValueError("task.refine.bound is still 'demos': it is resolved from the data when training starts")
        return [float(b) for b in self.bound] if isinstance(self.bound, (list, tuple)) else [float(self.bound)]


@dataclass
class TaskConfig:
    name: str = MISSING
    cameras: list[str] = field(default_factory=list)
    frame_skip: int = 1              # robot control steps (50 Hz) per policy step
    arms: Optional[list[str]] = None  # the arms the policy commands (None: all)
    refine: RefineConfig = field(default_factory=RefineConfig)

    def __post_init__(self) -> None:
        if self.frame_skip < 1:
            raise ValueError(f"task.frame_skip must be >= 1, got {self.frame_skip}")


@dataclass
class DiffusionConfig:
    """The Diffusion Policy: observation encoder, 1-D U-Net, DDPM training / DDIM sampling schedule."""

    name: str = MISSING
    lowdim_keys: list[str] = field(default_factory=lambda: ["qpos"])
    cameras: list[str] = field(default_factory=list)
    image_size: list[int] = field(default_factory=lambda: [64, 80])
    resnet_width: int = 16
    crop_ratio: float = 0.9
    horizon: int = 16
    n_obs_steps: int = 2
    n_action_steps: int = 8
    down_dims: list[int] = field(default_factory=lambda: [32, 64, 128])
    diffusion_step_embed_dim: int = 32
    kernel_size: int = 5
    n_groups: int = 8
    num_train_timesteps: int = 100
    beta_schedule: str = "squaredcos_cap_v2"
    prediction_type: str = "sample"
    num_inference_steps: int = 10

    def __post_init__(self) -> None:
        if not 1 <= self.n_obs_steps <= self.horizon:
            raise ValueError(f"policy.n_obs_steps must be in [1, horizon], got {self.n_obs_steps}")
        if not 1 <= self.n_action_steps <= self.chunk_length - 1:
            raise ValueError(f"policy.n_action_steps must be in [1, {self.chunk_length - 1}] "
                             f"(horizon - n_obs_steps), got {self.n_action_steps}")
        if self.prediction_type not in PREDICTION_TYPES:
            raise ValueError(f"policy.prediction_type must be one of {PREDICTION_TYPES}, got {self.prediction_type!r}")
        if not 1 <= self.num_inference_steps <= self.num_train_timesteps:
            raise ValueError("policy.num_inference_steps must be in [1, num_train_timesteps]")
        if len(self.image_size) != 2 or min(self.image_size) < 1:
            raise ValueError(f"policy.image_size must be [H, W], got {self.image_size}")

    @property
    def chunk_length(self) -> int:
        """Chunk steps from the current one on: what the DiffOG layer refines and the robot executes."""
        return self.horizon - self.n_obs_steps + 1


@dataclass
class TransformerConfig:
    d_model: int = 256
    n_heads: int = 4
    n_layers: int = 2
    d_ff: int = 256
    dropout: float = 0.1
    rank: int = 32


@dataclass
class LayerConfig:
    """The DiffOG layer (diffog.refine.DiffOGLayer); its bound and alpha are the task's."""

    q_mode: str = "transformer"
    q_head: str = "full"
    solver: str = "active_set"
    transformer: TransformerConfig = field(default_factory=TransformerConfig)

    def __post_init__(self) -> None:
        for name, value, allowed in (("q_mode", self.q_mode, Q_MODES), ("q_head", self.q_head, Q_HEADS),
                                     ("solver", self.solver, SOLVERS)):
            if value not in allowed:
                raise ValueError(f"layer.{name} must be one of {allowed}, got {value!r}")


@dataclass
class ModeConfig:
    """base: the DP alone; dataset: DP and layer trained together; refine: the layer on a frozen base DP."""

    name: str = MISSING
    layer_loss_weight: float = 1.0
    base_checkpoint: Optional[str] = None

    def __post_init__(self) -> None:
        if self.name not in MODES:
            raise ValueError(f"mode.name must be one of {MODES}, got {self.name!r}")
        if self.name == "refine" and not self.base_checkpoint:
            raise ValueError("mode=refine needs mode.base_checkpoint (a base DP checkpoint)")


@dataclass
class NormalizerConfig:
    """Every dimension spans at least min_span (robot units); normalized observations are clipped to
    +-obs_clip."""

    min_span: dict[str, float] = field(default_factory=lambda: {"action": 0.2, "qpos": 0.2, "object_poses": 0.1})
    obs_clip: float = 1.5

    def __post_init__(self) -> None:
        require_positive("normalizer", obs_clip=self.obs_clip, **{f"min_span.{k}": v for k, v in self.min_span.items()})


@dataclass
class PolicyConfig:
    """Everything needed to rebuild a trained policy from its weights (what deployment reads from a
    checkpoint); the training config extends it."""

    task: TaskConfig = MISSING
    policy: DiffusionConfig = MISSING
    mode: ModeConfig = MISSING
    layer: LayerConfig = field(default_factory=LayerConfig)
    normalizer: NormalizerConfig = field(default_factory=NormalizerConfig)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict, *, ignore_extra: bool = True):
        """A config as a checkpoint stores it, checked against this schema; keys of a larger config (the
        training run's) are dropped with `ignore_extra`."""
        names = {f.name for f in fields(cls)}
        if ignore_extra:
            data = {k: v for k, v in data.items() if k in names}
        return parse_structured(cls, data)
