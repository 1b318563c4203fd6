"""DiffOG refinement: the differentiable QP layer, its solvers, the paper's baselines and metrics (no ROS).
May import: nothing else from diffog.
"""
from .baselines import PENALTY_PRESETS, clip_chunk, penalty_refine
from .bounds import bounds_from_physical_limits, continuous_dims_from_names
from .box_qp import BoxQPOptions
from .layer import DiffOGLayer, RefinementStats
from .metrics import trajectory_metrics
from .q_networks import count_parameters

__all__ = [
    "PENALTY_PRESETS",
    "BoxQPOptions",
    "DiffOGLayer",
    "RefinementStats",
    "bounds_from_physical_limits",
    "clip_chunk",
    "continuous_dims_from_names",
    "count_parameters",
    "penalty_refine",
    "trajectory_metrics",
]
