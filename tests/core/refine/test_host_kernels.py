"""The compiled batch-1 kernels agree with the torch code they stand in for (QP build, solve, actions)."""
import numpy as np
import pytest
import torch
from refine_reference import random_spd

from diffog.refine import box_qp, host_kernels
from diffog.refine.difference_coordinates import DifferenceCoordinates

T, D = 7, 5
CMASK = torch.tensor([True, True, False, True, False])  # dims 2 and 4 play grippers: never bounded


def coords_and_box(with_past: bool):
    coords = DifferenceCoordinates(T, D, CMASK)
    lower = torch.tensor([-0.05, -0.02, -0.1], dtype=torch.float64)
    upper = torch.tensor([0.05, 0.03, 0.01], dtype=torch.float64)
    lo, hi = coords.box(lower, upper, 1, (lower, upper) if with_past else None)
    return coords, lo, hi


@pytest.mark.parametrize("with_past", [False, True])
@pytest.mark.parametrize("alpha", [0.0, 4.0])
def test_qp_build_matches_the_torch_build(with_past, alpha):
    coords, _, _ = coords_and_box(with_past)
    g = torch.Generator().manual_seed(0)
    Q = torch.randn(1, T * D, T * D, generator=g, dtype=torch.float64)  # not symmetric: only sym(Q) counts
    a = torch.rand(1, T, D, generator=g, dtype=torch.float64) * 2 - 1
    m0 = coords.offset(torch.rand(1, D, generator=g, dtype=torch.float64), a) if with_past else None
    P, q = coords.host_qp(Q, a, np.zeros(D) if m0 is None else m0[0, 0].numpy(), alpha)
    np.testing.assert_allclose(P, coords.hessian(Q, alpha)[0].numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(q, coords.linear(Q, a, m0)[0].numpy(), rtol=0, atol=1e-12)


def test_actions_and_their_step_check_match_the_torch_mapping():
    coords, lo, hi = coords_and_box(True)
    g = torch.Generator().manual_seed(1)
    z = torch.rand(1, T * D, generator=g, dtype=torch.float64) * 0.1 - 0.05
    m0 = coords.offset(torch.rand(1, D, generator=g, dtype=torch.float64), z)
    y, worst = host_kernels.actions_and_violation(z[0].numpy(), m0[0, 0].numpy(), lo[0].numpy(), hi[0].numpy(), T, D)
    np.testing.assert_allclose(y, coords.actions(z, m0)[0].numpy(), rtol=0, atol=1e-14)
    steps = coords.steps(torch.from_numpy(y)[None], m0)
    expected = torch.maximum(lo - steps, steps - hi).max()
    assert expected > 0.01  # these random steps break bounds; the check must see by how much
    assert worst == pytest.approx(float(expected), abs=1e-14)


@pytest.mark.parametrize("with_past", [False, True])
def test_active_set_kernel_matches_the_batched_torch_solver(with_past):
    # Unbounded entries (grippers, and the first step without a past action) are eliminated before the
    # iteration; the torch path keeps them: same active sets, same solution.
    coords, lo, hi = coords_and_box(with_past)
    n, B = T * D, 16
    Q = random_spd(B, n, cond=1e4, seed=2)
    g = torch.Generator().manual_seed(3)
    a = torch.rand(B, T, D, generator=g, dtype=torch.float64) * 2 - 1
    m0 = coords.offset(a[:, 0] + 0.05, a) if with_past else None
    P, q = coords.hessian(Q, 4.0), coords.linear(Q, a, m0)
    lo, hi = lo.expand(B, -1), hi.expand(B, -1)
    batched, _ = box_qp.solve(P, q, lo, hi, None, box_qp.BoxQPOptions(), keep_factor=False)
    assert bool(batched.converged.all())
    for b in range(B):
        z, st, it, status, kkt = host_kernels.solve(P[b].numpy(), q[b].numpy(), lo[b].numpy(), hi[b].numpy(),
                                                    np.zeros(n, np.int8), 100, 1e-10, -1, 0.0)
        assert status == host_kernels.CONVERGED and kkt < 1e-9
        np.testing.assert_array_equal(st, batched.state[b].numpy())
        np.testing.assert_allclose(z, batched.z[b].numpy(), rtol=0, atol=1e-10)
        assert np.all(z >= lo[b].numpy()) and np.all(z <= hi[b].numpy())


def test_active_set_kernel_reports_a_hessian_that_is_not_positive_definite():
    coords, lo, hi = coords_and_box(True)
    n = T * D
    lo_h, hi_h = lo[0].numpy(), hi[0].numpy()
    bounded = np.flatnonzero(np.isfinite(lo_h))
    P = np.eye(n)
    P[bounded[0], bounded[0]] = -1.0  # the bounded block (its Schur complement) is indefinite
    out = host_kernels.solve(P, np.ones(n), lo_h, hi_h, np.zeros(n, np.int8), 10, 1e-10, -1, 0.0)
    assert out[3] == host_kernels.NOT_SPD
    P = np.eye(n)
    P[np.flatnonzero(np.isinf(lo_h))[0]] *= -1  # the eliminated (unbounded) block is
    assert host_kernels.solve(P, np.ones(n), lo_h, hi_h, np.zeros(n, np.int8), 10, 1e-10, -1, 0.0)[3] == host_kernels.NOT_SPD


def test_active_set_kernel_stops_on_a_cycle_or_its_cap_without_claiming_convergence():
    coords, lo, hi = coords_and_box(True)
    n = T * D
    P, q = random_spd(1, n, cond=1e6, seed=4)[0].numpy(), np.random.default_rng(5).standard_normal(n) * 5
    *_, status, _ = host_kernels.solve(P, q, lo[0].numpy(), hi[0].numpy(), np.zeros(n, np.int8), 1, 1e-10, -1, 0.0)
    assert status == host_kernels.NOT_CONVERGED  # one iteration cannot confirm the active set this q needs


def test_capped_iteration_falls_back_to_the_compiled_interior_point_guess_and_ends_exact():
    coords, lo, hi = coords_and_box(True)
    n, B = T * D, 8
    Q = random_spd(B, n, cond=1e6, seed=6)
    a = torch.rand(B, T, D, generator=torch.Generator().manual_seed(7), dtype=torch.float64) * 2 - 1
    m0 = coords.offset(a[:, 0] + 0.05, a)
    P, q = coords.hessian(Q, 4.0), coords.linear(Q, a, m0)
    exact, _ = box_qp.solve(P, q, lo.expand(B, -1), hi.expand(B, -1), None, box_qp.BoxQPOptions(), keep_factor=False)
    for b in range(B):
        args = (P[b].numpy(), q[b].numpy(), lo[0].numpy(), hi[0].numpy(), np.zeros(n, np.int8), 1, 1e-10)
        assert host_kernels.solve(*args, -1, 0.0)[3] == host_kernels.NOT_CONVERGED  # one iteration is not enough...
        z, st, it, status, kkt = host_kernels.solve(*args, 200, 1e-8)  # ...the interior-point guess, polished, is
        assert status == host_kernels.POLISHED and kkt < 1e-9 and it > 5
        np.testing.assert_array_equal(st, exact.state[b].numpy())
        np.testing.assert_allclose(z, exact.z[b].numpy(), rtol=0, atol=1e-10)
