"""Where the time of one policy tick goes, published on the diagnostics topic."""
from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass


@dataclass
class LatencyBreakdown:
    observation_age_s: float = 0.0  # tick start minus the oldest stamp of the observation used
    inference_s: float = 0.0        # base policy (DDIM sampling)
    refinement_s: float = 0.0       # clip / penalty / DiffOG on the raw chunk
    publish_s: float = 0.0          # serializing and publishing the chunk and stats messages

    @property
    def total_s(self) -> float:
        return self.observation_age_s + self.inference_s + self.refinement_s + self.publish_s

    def as_dict(self) -> dict[str, float]:
        return {**asdict(self), "total_s": self.total_s}

    @contextmanager
    def timing(self, field: str):
        """Adds the wall time of the `with` body to `field`."""
        t0 = time.perf_counter()
        try:
            yield
        finally:
            setattr(self, field, getattr(self, field) + time.perf_counter() - t0)
