"""The fast solver returns the exact QP solution: against quadprog and qpth, on random and adversarial chunks."""
import numpy as np
import pytest
import torch
from refine_reference import random_spd, solve_reference

from diffog.refine import BoxQPOptions, DiffOGLayer

T, D = 6, 4
CONT = [0, 1, 3]  # dim 2 plays the gripper


def make_layer(q_mode="identity", lower=-0.05, upper=0.05, alpha=4.0, **kw):
    return DiffOGLayer(T, D, CONT, lower, upper, alpha=alpha, q_mode=q_mode, **kw).double().eval()


def rough(B, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(B, T, D, generator=g, dtype=torch.float64) * 2 - 1


def smooth(B, seed, sigma=0.04):
    g = torch.Generator().manual_seed(seed)
    start = torch.rand(B, 1, D, generator=g, dtype=torch.float64) * 2 - 1
    return start + (torch.randn(B, T, D, generator=g, dtype=torch.float64) * sigma).cumsum(1)


def check(layer, Q, a, past=None, past_bound=None, atol=1e-6):
    with torch.no_grad():
        y = layer.refine(Q, a, past, past_bound)
    ref = solve_reference(Q, a, CONT, layer.lower.numpy(), layer.upper.numpy(), layer.alpha, past, past_bound)
    np.testing.assert_allclose(y.numpy(), ref, atol=atol, rtol=0)
    assert bool(layer.last_stats.converged.all())
    assert float(layer.last_stats.max_violation.max()) <= 1e-10
    return y


@pytest.mark.parametrize("kind", ["rough", "smooth"])
@pytest.mark.parametrize("with_past", [False, True])
def test_matches_quadprog_on_random_spd_q(kind, with_past):
    B = 24
    a = rough(B, 1) if kind == "rough" else smooth(B, 2)
    past = a[:, 0] + 0.03 * torch.randn(B, D, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    check(make_layer(), random_spd(B, T * D, cond=1e4, seed=4), a, past if with_past else None)


def test_matches_quadprog_with_untrained_transformer_q():
    # The paper's head at init gives an ill-conditioned Q: hard for active-set methods.
    torch.manual_seed(0)
    layer = make_layer("transformer", d_model=16, n_heads=2, d_ff=16)
    a = smooth(16, 5)
    with torch.no_grad():
        Q = layer.q_net(a)
    check(layer, Q, a, a[:, 0])


@pytest.mark.parametrize("B", [16, 1])  # batch 1 takes the compiled host path
def test_tight_asymmetric_bounds_and_custom_past_bound(B):
    layer = make_layer(lower=[-1e-3, 0.0, -0.2], upper=[1e-3, 0.01, -0.1])
    a = rough(B, 6)
    check(layer, random_spd(B, T * D, seed=7), a, a[:, 0], past_bound=([-0.5, -1e-4, 0.0], [0.5, 1e-4, 0.3]))


def test_ties_and_past_action_exactly_at_its_bound():
    # Steps exactly at the bounds and the first action exactly one bound away from the past action:
    # with Q = I and no smoothing the unconstrained optimum sits on the boundary (degenerate multipliers).
    layer = make_layer(alpha=0.0)
    steps = torch.full((8, T, D), 0.05, dtype=torch.float64)
    steps[1::2, :, :] = -0.05
    a = steps.cumsum(1)
    past = a[:, 0].clone()
    past[:, CONT] -= steps[:, 0, CONT]  # y[0] - past exactly at +-0.05
    Q = torch.eye(T * D, dtype=torch.float64).expand(8, -1, -1)
    y = check(layer, Q, a, past, atol=1e-12)
    torch.testing.assert_close(y, a, atol=1e-12, rtol=0)


def test_zero_width_is_rejected_but_tiny_width_is_exact():
    with pytest.raises(ValueError, match="lower must be < upper"):
        make_layer(lower=0.01, upper=0.01)
    layer = make_layer(lower=0.01, upper=0.01 + 1e-9)
    a = rough(8, 8)
    check(layer, random_spd(8, T * D, seed=9), a, a[:, 0])


def test_static_identity_q_with_nothing_active_returns_a():
    layer = make_layer("identity", lower=-10.0, upper=10.0, alpha=0.0)
    a = rough(5, 10)
    torch.testing.assert_close(layer(a), a, atol=1e-12, rtol=0)
    torch.testing.assert_close(layer.forward_with_past_action(a, a[:, 0]), a, atol=1e-12, rtol=0)
    summary = layer.last_stats.summary()
    assert summary["active_constraints"] == 0 and summary["converged"] and summary["iterations"] == 1


def test_fallback_after_iteration_cap_is_still_exact():
    layer = make_layer(solver_options=BoxQPOptions(max_active_set_iter=1))
    a = rough(16, 11)
    check(layer, random_spd(16, T * D, seed=12), a, a[:, 0])
    assert bool(layer.last_stats.fallback.any())


def test_unconverged_samples_are_flagged_never_silent():
    layer = make_layer(solver_options=BoxQPOptions(max_active_set_iter=1, max_newton_iter=0))
    a = rough(8, 13)
    with pytest.warns(RuntimeWarning, match="did not converge"):
        with torch.no_grad():
            layer.refine(random_spd(8, T * D, seed=14), a, a[:, 0])
    stats = layer.last_stats
    assert not bool(stats.converged.all())
    assert float(stats.max_violation.max()) <= 1e-10  # still feasible


def test_reference_qpth_backend_agrees_with_quadprog_and_active_set():
    a = smooth(4, 15)
    Q = random_spd(4, T * D, cond=1e2, seed=16)
    fast = check(make_layer(), Q, a, a[:, 0])
    ref = check(make_layer(solver="qpth"), Q, a, a[:, 0])
    torch.testing.assert_close(fast, ref, atol=1e-6, rtol=0)


def test_aloha_size_matches_quadprog():
    from diffog.robot import load_robot_description
    from diffog.refine import continuous_dims_from_names

    names = load_robot_description().action_joint_names
    dims = continuous_dims_from_names(names)
    layer = DiffOGLayer(16, 14, dims, -0.05, 0.05, q_mode="identity").double()
    g = torch.Generator().manual_seed(17)
    a = (torch.rand(2, 1, 14, generator=g, dtype=torch.float64) * 2 - 1) + (0.05 * torch.randn(2, 16, 14, generator=g, dtype=torch.float64)).cumsum(1)
    Q = random_spd(2, 224, cond=1e3, seed=18)
    with torch.no_grad():
        y = layer.refine(Q, a, a[:, 0] + 0.06)
    ref = solve_reference(Q, a, dims, -0.05, 0.05, 4.0, a[:, 0] + 0.06)
    np.testing.assert_allclose(y.numpy(), ref, atol=1e-6, rtol=0)


def test_warm_start_batch_mixing_free_and_constrained_samples():
    # One sample with nothing active next to constrained ones: each must get its own reduced system.
    layer = make_layer()
    a = torch.cat([smooth(1, 19, sigma=0.001), rough(5, 20)])
    Q = random_spd(6, T * D, cond=1e2, seed=21)
    Q[0] = torch.eye(T * D, dtype=torch.float64)
    with torch.no_grad():
        layer.refine(Q, a, a[:, 0])
    exact_state = layer._last_state
    assert int((exact_state[0] != 0).sum()) == 0 and bool((exact_state[1:] != 0).any())
    for init in (exact_state, -exact_state, torch.ones_like(exact_state)):
        with torch.no_grad():
            y = layer.refine(Q, a, a[:, 0], init_state=init)
        ref = solve_reference(Q, a, CONT, -0.05, 0.05, layer.alpha, a[:, 0])
        np.testing.assert_allclose(y.numpy(), ref, atol=1e-6, rtol=0)
        assert bool(layer.last_stats.converged.all())


def test_reduced_solve_gives_each_sample_its_own_free_set():
    from diffog.refine.box_qp import _free_solve

    n = 10
    P = random_spd(3, n, cond=50, seed=22)
    g = torch.Generator().manual_seed(23)
    q, v = torch.randn(3, n, generator=g, dtype=torch.float64), torch.randn(3, n, generator=g, dtype=torch.float64)
    fixed = torch.zeros(3, n, dtype=torch.bool)
    fixed[1, [2, 5]] = True
    fixed[2, 1:] = True
    v = torch.where(fixed, v, 0)
    z, _, failed = _free_solve(P, q, fixed, v)
    assert not bool(failed.any())
    for b in range(3):
        F, A = ~fixed[b], fixed[b]
        expect = v[b].clone()
        expect[F] = torch.linalg.solve(P[b][F][:, F], q[b][F] - P[b][F][:, A] @ v[b][A])
        torch.testing.assert_close(z[b], expect, atol=1e-12, rtol=0)


def test_batch_one_path_matches_the_batched_solve_and_its_gradients():
    # Batch 1 indexes its free block directly; it must give what the padded batched solve gives.
    torch.manual_seed(0)
    layer = make_layer("transformer", d_model=16, n_heads=2, d_ff=16)
    a = smooth(4, 24)
    past = a[:, 0] + 0.06
    with torch.no_grad():
        Q = layer.q_net(a)
    Qb, ab = Q.clone().requires_grad_(), a.clone().requires_grad_()
    yb = layer.refine(Qb, ab, past)
    (yb * a).sum().backward()
    assert bool((layer._last_state != 0).any()) and bool((layer._last_state == 0).any())
    ref = solve_reference(Q, a, CONT, -0.05, 0.05, layer.alpha, past)
    for b in range(4):
        Q1, a1 = Q[b : b + 1].clone().requires_grad_(), a[b : b + 1].clone().requires_grad_()
        y1 = layer.refine(Q1, a1, past[b : b + 1])
        (y1 * a[b : b + 1]).sum().backward()
        np.testing.assert_allclose(y1.detach().numpy()[0], ref[b], atol=1e-6, rtol=0)
        torch.testing.assert_close(y1.detach()[0], yb.detach()[b], atol=1e-12, rtol=0)
        torch.testing.assert_close(Q1.grad[0], Qb.grad[b], atol=1e-10, rtol=1e-10)
        torch.testing.assert_close(a1.grad[0], ab.grad[b], atol=1e-10, rtol=1e-10)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_batch_one_inference_on_the_host_matches_the_batched_torch_solve(dtype):
    # Batch-1 inference (no gradient) runs the NumPy/LAPACK kernel; inside a batch the torch path runs.
    layer = make_layer(solve_dtype=dtype)
    a = torch.cat([rough(6, 30), smooth(6, 31)])
    past = a[:, 0] + 0.04 * torch.randn(12, D, generator=torch.Generator().manual_seed(32), dtype=torch.float64)
    Q = random_spd(12, T * D, cond=1e4, seed=33)
    with torch.no_grad():
        batched = layer.refine(Q, a, past)
        batched_state = layer._last_state
        for b in range(12):
            y = layer.refine(Q[b : b + 1], a[b : b + 1], past[b : b + 1])
            stats = layer.last_stats
            assert bool(stats.converged.all()) and not bool(stats.fallback.any())
            assert float(stats.max_violation.max()) <= (1e-10 if dtype == torch.float64 else 1e-6)
            assert torch.equal(layer._last_state, batched_state[b : b + 1])
            torch.testing.assert_close(y, batched[b : b + 1], atol=1e-12 if dtype == torch.float64 else 1e-4, rtol=0)
    if dtype == torch.float64:
        check(layer, Q[:1], a[:1], past[:1])  # and against quadprog


def test_batch_one_inference_warm_started_or_capped_stays_exact():
    layer = make_layer()
    a, Q = rough(1, 34), random_spd(1, T * D, cond=1e4, seed=35)
    check(layer, Q, a, a[:, 0])
    exact = layer._last_state
    for init in (exact, -exact, torch.ones_like(exact)):
        with torch.no_grad():
            y = layer.refine(Q, a, a[:, 0], init_state=init)
        np.testing.assert_allclose(y.numpy(), solve_reference(Q, a, CONT, -0.05, 0.05, layer.alpha, a[:, 0]), atol=1e-6, rtol=0)
    with torch.no_grad():
        layer.refine(Q, a, a[:, 0], init_state=exact)
    assert int(layer.last_stats.iterations) == 1  # the right active set is confirmed in one solve
    capped = make_layer(solver_options=BoxQPOptions(max_active_set_iter=1))
    check(capped, Q, a, a[:, 0])  # the host kernel gives up after one iteration: the fallbacks finish exactly
    assert bool(capped.last_stats.fallback.all())
    with pytest.raises(ValueError, match="max_active_set_iter"):
        BoxQPOptions(max_active_set_iter=0)


def test_batch_one_inference_rejects_a_q_that_is_not_positive_definite():
    layer = make_layer(alpha=0.0)
    a = rough(1, 36)
    Q = -torch.eye(T * D, dtype=torch.float64).unsqueeze(0)
    with pytest.raises(ValueError, match="not symmetric positive definite"), torch.no_grad():
        layer.refine(Q, a, a[:, 0])


@pytest.mark.parametrize("method", ["projected_newton", "interior_point"])
def test_fallback_solvers_reach_the_exact_solution_on_their_own(method):
    from diffog.refine import box_qp
    from diffog.refine.difference_coordinates import DifferenceCoordinates

    layer = make_layer()
    a = rough(12, 24)
    Q = random_spd(12, T * D, cond=1e4, seed=25)
    with torch.no_grad():
        y_exact = layer.refine(Q, a, a[:, 0])
    coords = DifferenceCoordinates(T, D, layer.cmask)
    P, q = coords.hessian(Q, layer.alpha), coords.linear(Q, a, coords.offset(a[:, 0], a))
    lo, hi = coords.box(layer.lower, layer.upper, 12, (layer.lower, layer.upper))
    if method == "projected_newton":
        z, iters = box_qp._projected_newton(P, q, lo, hi, torch.zeros_like(q), 500, 1e-12)
    else:
        z, _, iters = box_qp._interior_point(P, q, lo, hi, 100, 1e-12)
    assert int(iters.max()) < (500 if method == "projected_newton" else 100)
    torch.testing.assert_close(coords.actions(z, coords.offset(a[:, 0], a)), y_exact, atol=1e-6, rtol=0)
