"""Bounds helpers, the paper's baselines (Appendix VI) and trajectory metrics (VIII-B)."""
import math

import pytest
import torch

from diffog.robot import load_robot_description
from diffog.refine import (
    PENALTY_PRESETS,
    bounds_from_physical_limits,
    clip_chunk,
    continuous_dims_from_names,
    penalty_refine,
    trajectory_metrics,
)


def test_continuous_dims_exclude_grippers_by_name():
    assert continuous_dims_from_names(load_robot_description().action_joint_names) == [0, 1, 2, 3, 4, 5, 7, 8, 9, 10, 11, 12]
    with pytest.raises(ValueError, match="no continuous"):
        continuous_dims_from_names(["left_gripper"])


def test_bounds_from_physical_limits_use_dt_and_normalizer_scale():
    d = load_robot_description()
    vmax = d.joint_limits["waist"].velocity
    lo, hi = bounds_from_physical_limits([vmax, 1.0], dt=0.02, scale=[2 / (2 * math.pi), 2 / 1.0])
    torch.testing.assert_close(hi, torch.tensor([vmax * 0.02 / math.pi, 0.04], dtype=torch.float64))
    torch.testing.assert_close(lo, -hi)
    lo, hi = bounds_from_physical_limits(1.0, 0.1, [1.0, 2.0], min_velocity=[-0.5, 0.0])
    assert lo.tolist() == pytest.approx([-0.05, 0.0]) and hi.tolist() == pytest.approx([0.1, 0.2])
    with pytest.raises(ValueError, match="lower must be < upper"):
        bounds_from_physical_limits(1.0, 0.1, [1.0], min_velocity=1.0)
    with pytest.raises(ValueError, match="scale"):
        bounds_from_physical_limits(1.0, 0.1, [-1.0])


def test_clip_is_greedy_and_feasible():
    a = torch.tensor([[[0.0, 5.0], [1.0, 5.0], [1.05, 0.0], [0.0, 0.0]]])
    y = clip_chunk(a, [0], -0.1, 0.1, past=torch.tensor([[0.2, 9.0]]))
    torch.testing.assert_close(y[0, :, 0], torch.tensor([0.1, 0.2, 0.3, 0.2]))
    torch.testing.assert_close(y[..., 1], a[..., 1])  # gripper untouched
    y = clip_chunk(a, [0], -0.1, 0.1)
    assert y[0, 0, 0] == 0.0 and float(y[0, :, 0].diff().abs().max()) <= 0.1 + 1e-7


def test_penalty_reduces_violation_below_tolerance_with_table_viii_settings():
    g = torch.Generator().manual_seed(0)
    a = (0.12 * torch.randn(4, 16, 3, generator=g)).cumsum(1)
    eta, tol, iters = PENALTY_PRESETS["aloha"]
    res = penalty_refine(a, [0, 1], -0.05, 0.05, past=a[:, 0])
    assert bool(res.converged.all()) and int(res.iterations.max()) <= iters
    steps = torch.cat([res.actions[:, :1] - a[:, None, 0], res.actions.diff(dim=1)], 1)[..., :2]
    assert float((steps.abs() - 0.05).max()) < tol
    torch.testing.assert_close(res.actions[..., 2], a[..., 2])
    capped = penalty_refine(a, [0, 1], -0.05, 0.05, step_size=eta, tol=1e-9, max_iter=3)
    assert not bool(capped.converged.all()) and int(capped.iterations.max()) == 3


def test_trajectory_metrics_on_known_curves():
    t = torch.arange(10, dtype=torch.float64) * 0.5
    traj = torch.stack([2 * t, t**2], -1)  # velocity 2 and 2t (+dt), acceleration 0 and 2
    m = trajectory_metrics(traj, dt=0.5)
    vel2 = (traj[:, 1].diff() / 0.5)
    assert float(m["velocity_max"]) == pytest.approx((2 + float(vel2.abs().max())) / 2)
    assert float(m["velocity_std"]) == pytest.approx(float(vel2.std(correction=0)) / 2)
    assert float(m["acceleration_max"]) == pytest.approx(1.0)  # (0 + 2) / 2
    assert float(m["acceleration_std"]) == pytest.approx(0.0, abs=1e-12)
    batched = trajectory_metrics(traj.expand(3, -1, -1), dt=0.5, dims=[1])
    assert batched["acceleration_max"].shape == (3,) and float(batched["acceleration_max"][0]) == pytest.approx(2.0)
