"""Layer-level behaviour: constraints at scale, dtypes, warm start, devices, and clear errors on bad input."""
import pytest
import torch
from refine_reference import random_spd

from diffog.refine import DiffOGLayer

T, D, CONT = 8, 4, [0, 1, 3]


def test_constraints_hold_on_ten_thousand_random_cases():
    g = torch.Generator().manual_seed(0)
    B = 10_000
    lower = -0.02 - 0.08 * torch.rand(3, generator=g, dtype=torch.float64)
    upper = 0.01 + 0.08 * torch.rand(3, generator=g, dtype=torch.float64)
    t = 6  # small chunks keep 10^4 problems fast
    layer = DiffOGLayer(t, D, CONT, lower, upper, alpha=2.0, q_mode="identity").double()
    a = torch.rand(B, t, D, generator=g, dtype=torch.float64) * 2 - 1
    a[: B // 2] = a[: B // 2, :1] + (0.06 * torch.randn(B // 2, t, D, generator=g, dtype=torch.float64)).cumsum(1)
    past = a[:, 0] + 0.1 * torch.randn(B, D, generator=g, dtype=torch.float64)
    Q = random_spd(1, t * D, cond=1e3, seed=1) + torch.diag_embed(torch.rand(B, t * D, generator=g, dtype=torch.float64))
    with torch.no_grad():
        y = layer.refine(Q, a, past)
    steps = torch.cat([y[:, :1] - past[:, None], y.diff(dim=1)], 1)[..., CONT]
    assert float((steps - upper).max()) <= 1e-8 and float((lower - steps).max()) <= 1e-8
    assert bool(layer.last_stats.converged.all())
    assert bool(torch.isfinite(y).all())


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_float32_and_float64_agree(dtype):
    torch.manual_seed(0)
    layer = DiffOGLayer(T, D, CONT, q_mode="transformer", d_model=16, n_heads=2, d_ff=16).eval()
    a = (0.05 * torch.randn(4, T, D)).cumsum(1)
    with torch.no_grad():
        y32 = layer.to(dtype)(a.to(dtype))
        y64 = layer.double()(a.double())
    assert y32.dtype == dtype
    torch.testing.assert_close(y32.double(), y64, atol=1e-5, rtol=0)
    # the QP in the input's own precision (solve_dtype=None) also holds the bounds
    layer32 = DiffOGLayer(T, D, CONT, q_mode="identity", solve_dtype=None)
    with torch.no_grad():
        y = layer32.forward_with_past_action(a, a[:, 0] + 0.2)
    assert y.dtype == torch.float32 and bool(layer32.last_stats.converged.all())
    assert float(layer32.last_stats.max_violation.max()) <= 1e-6


def test_warm_start_from_previous_chunk_gives_same_answer_in_fewer_iterations():
    layer = DiffOGLayer(T, D, CONT, -0.03, 0.03, q_mode="identity").double()
    g = torch.Generator().manual_seed(2)
    traj = (0.08 * torch.randn(1, 40, D, generator=g, dtype=torch.float64)).cumsum(1)
    cold_iters, warm_iters = 0, 0
    past = traj[:, 0]
    for start in range(0, 24, 2):  # re-plan every 2 executed steps
        a = traj[:, start : start + T] + 0.01 * torch.randn(1, T, D, generator=g, dtype=torch.float64)
        with torch.no_grad():
            y_cold = layer.forward_with_past_action(a, past)
            cold_iters += int(layer.last_stats.iterations.sum())
            y_warm = layer.forward_with_past_action(a, past, warm_start=True, shift=2)
            warm_iters += int(layer.last_stats.iterations.sum())
        torch.testing.assert_close(y_warm, y_cold, atol=1e-10, rtol=0)
        past = y_warm[:, 1]
    assert warm_iters < cold_iters


def test_bad_input_gets_a_clear_error():
    layer = DiffOGLayer(T, D, CONT, q_mode="identity").double()
    a = torch.zeros(2, T, D, dtype=torch.float64)
    with pytest.raises(ValueError, match="NaN"):
        layer(torch.full_like(a, float("nan")))
    with pytest.raises(ValueError, match="shape"):
        layer(torch.zeros(2, T + 1, D, dtype=torch.float64))
    with pytest.raises(ValueError, match="empty"):
        layer(torch.zeros(0, T, D, dtype=torch.float64))
    with pytest.raises(ValueError, match="NaN"):
        layer.forward_with_past_action(a, torch.tensor([[0.0, float("inf"), 0, 0]] * 2, dtype=torch.float64))
    with pytest.raises(ValueError, match="past must have shape"):
        layer.forward_with_past_action(a, torch.zeros(2, D - 1, dtype=torch.float64))
    with pytest.raises(ValueError, match="lower must be < upper"):
        layer.forward_with_past_action(a, a[:, 0], past_bound=(0.1, -0.1))
    with pytest.raises(ValueError, match="lower must be < upper.*continuous dims \\[1\\]"):
        DiffOGLayer(T, D, CONT, lower=[-0.1, 0.2, -0.1], upper=0.1)
    with pytest.raises(ValueError, match="continuous_dims"):
        DiffOGLayer(T, D, [0, 4])
    with pytest.raises(ValueError, match="alpha"):
        DiffOGLayer(T, D, CONT, alpha=-1.0)
    with pytest.raises(ValueError, match="q_mode"):
        DiffOGLayer(T, D, CONT, q_mode="diagonal")
    with pytest.raises(ValueError, match="positive definite"):
        layer.refine(-torch.eye(T * D, dtype=torch.float64).expand(2, -1, -1), a + torch.randn_like(a))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_same_code_runs_on_cuda():
    torch.manual_seed(0)
    layer = DiffOGLayer(16, 14, [0, 1, 2, 3, 4, 5, 7, 8, 9, 10, 11, 12], q_mode="transformer").eval()
    a = (0.05 * torch.randn(8, 16, 14)).cumsum(1)
    with torch.no_grad():
        y_cpu = layer.forward_with_past_action(a, a[:, 0])
        y_gpu = layer.cuda().forward_with_past_action(a.cuda(), a[:, 0].cuda())
    assert bool(layer.last_stats.converged.all())
    torch.testing.assert_close(y_gpu.cpu(), y_cpu, atol=1e-5, rtol=0)
    with torch.no_grad():  # batch-1 inference solves on the host and returns on the GPU
        y1 = layer.forward_with_past_action(a[:1].cuda(), a[:1, 0].cuda())
    assert y1.is_cuda and bool(layer.last_stats.converged.all()) and layer.last_stats.converged.is_cuda
    torch.testing.assert_close(y1.cpu(), y_cpu[:1], atol=1e-5, rtol=0)
    y = layer.train()(a.cuda().requires_grad_())
    y.square().sum().backward()
