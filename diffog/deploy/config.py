"""How a trained policy is deployed, as one typed config: the policy node's parameters and the sim evaluation's
settings are this, validated once where they enter (finite, positive, known names)."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Optional

from diffog.deploy.refiners import REFINERS
from diffog.robot.validation import require_positive


@dataclass(frozen=True)
class DeployConfig:
    checkpoint: str
    device: str = "cpu"
    refiner: str = "diffog"                 # none | clip | penalty | diffog
    ddim_steps: Optional[int] = None        # None: the checkpoint's
    n_action_steps: Optional[int] = None    # chunk actions executed per inference; None: the checkpoint's
    overlap: bool = False                   # infer the next chunk while the current one ends
    command_rate_hz: Optional[float] = None  # None: the robot's control rate
    stamp_tolerance_s: float = 0.05         # joint states and images of one observation lie this close
    observation_timeout_s: float = 0.5      # older inputs: hold
    step_scale: float = 1.0                 # max command step = step_scale x velocity limit / command rate

    def __post_init__(self) -> None:
        if not self.checkpoint:
            raise ValueError("a checkpoint is required")
        if self.refiner not in REFINERS:
            raise ValueError(f"unknown refiner {self.refiner!r}; choose one of {REFINERS}")
        for name in ("ddim_steps", "n_action_steps"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 1):
                raise ValueError(f"{name} must be an integer >= 1 (or unset), got {v!r}")
        require_positive("deploy", stamp_tolerance_s=self.stamp_tolerance_s, step_scale=self.step_scale,
                         observation_timeout_s=self.observation_timeout_s,
                         **({} if self.command_rate_hz is None else {"command_rate_hz": self.command_rate_hz}))

    @classmethod
    def from_parameters(cls, params: Mapping) -> DeployConfig:
        """From ROS parameters, where 0 means "unset" (ROS parameters have no null)."""
        unset_if_zero = ("ddim_steps", "n_action_steps", "command_rate_hz")
        return cls(**{f.name: (None if f.name in unset_if_zero and params[f.name] == 0 else params[f.name])
                      for f in fields(cls) if f.name in params})
