"""The two implementations of the box-QP solver agree branch by branch.

box_qp (torch: batches, CUDA, the backward pass) and host_kernels (numba: batch-1 inference, where torch's
per-op cost exceeds the arithmetic; see benchmarks/README.md) write one algorithm twice. Each case below
is built to take one branch; the test checks that both took it (host status, fallback flags, calls of the
torch fallbacks, iteration counts) and that the torch batch, torch one sample at a time and the host kernel
(through box_qp.solve_one_on_host, as inference calls it) return the same solution, active set and stats.
The default iteration caps differ on purpose (BoxQPOptions.active_set_iter), so every case names one.
"""
import collections
import dataclasses
import warnings
from typing import Callable

import numpy as np
import pytest
import torch
from refine_reference import random_spd

from diffog.refine import box_qp, host_kernels
from diffog.refine.box_qp import BoxQPOptions
from diffog.refine.difference_coordinates import DifferenceCoordinates

T, D = 7, 5
GRIPPERS = torch.tensor([True, True, False, True, False])  # dims 2 and 4 never bounded
ALL_CONTINUOUS = torch.ones(D, dtype=torch.bool)
CONVERGED, POLISHED, NOT_CONVERGED = host_kernels.CONVERGED, host_kernels.POLISHED, host_kernels.NOT_CONVERGED


@dataclasses.dataclass
class Case:
    P: torch.Tensor  # (B, n, n) float64
    q: torch.Tensor
    lo: torch.Tensor
    hi: torch.Tensor
    status: list[int]  # expected host status per sample (NOT_CONVERGED: the torch projected Newton finishes)
    options: BoxQPOptions = BoxQPOptions(max_active_set_iter=30)
    init: torch.Tensor | None = None
    converged: bool = True
    check: Callable | None = None  # extra branch checks: check(case, torch batched result, host kernel outputs)


def layer_problem(B, seed, cond=1e4, with_past=True, cmask=GRIPPERS, bound=0.05, scale=1.0):
    """A DiffOG QP in solver coordinates (difference_coordinates), as the layer builds it."""
    coords = DifferenceCoordinates(T, D, cmask)
    lower = torch.full((int(cmask.sum()),), -bound, dtype=torch.float64)
    lo, hi = coords.box(lower, -lower, B, (lower, -lower) if with_past else None)
    Q = random_spd(B, T * D, cond=cond, seed=seed)
    a = scale * (torch.rand(B, T, D, generator=torch.Generator().manual_seed(seed + 1), dtype=torch.float64) * 2 - 1)
    m0 = coords.offset(a[:, 0] + 0.05, a) if with_past else None
    return coords.hessian(Q, 4.0), coords.linear(Q, a, m0), lo.clone(), hi.clone()


def cycling_problem(seed):
    """A small dense QP on which the primal-dual active-set iteration cycles from a cold start (P is not an
    M-matrix); the seeds were found by searching for host status NOT_CONVERGED below the iteration cap."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 7))
    A = rng.standard_normal((n, n))
    P, q = A @ A.T + 0.05 * np.eye(n), rng.standard_normal(n) * 5
    return [torch.from_numpy(x) for x in (P, q, -np.ones(n), np.ones(n))]


def stack(problems):
    return [torch.stack(x) for x in zip(*problems)]


def unbounded(case):
    return torch.isinf(case.lo) & torch.isinf(case.hi)


def host_only_active_set(case, b):
    """The host kernel's active-set stage alone (no interior-point guess): its status and iterations."""
    c = _host_args(case, b, torch.float64)
    _, _, it, status, _ = host_kernels.solve(*c[:4], c[4], case.options.active_set_iter(host=True), 1e-10, -1, 0.0)
    return status, it


def _host_args(case, b, dtype):
    P, q, lo, hi = (x[b].to(dtype).double().numpy() for x in (case.P, case.q, case.lo, case.hi))
    init = case.init
    state = np.zeros(len(q), np.int8) if init is None else box_qp._initial_state(init[b : b + 1], case.lo[b : b + 1], case.hi[b : b + 1], 1, len(q), "cpu")[0].numpy()
    return P, q, lo, hi, state


# -- the cases -------------------------------------------------------------------------------------------


def cold_with_eliminated_entries():
    # Grippers and (without a past action) the first step have no bounds: the host eliminates them.
    def check(case, res, host):
        assert bool(unbounded(case).any())
        assert bool((res.state != 0).any()) and bool((res.state == 0).any()) and int(res.iterations.max()) > 2

    return Case(*layer_problem(6, 10, with_past=False), status=[CONVERGED] * 6, check=check)


def cold_everything_bounded():
    def check(case, res, host):
        assert not bool(unbounded(case).any()) and bool((res.state != 0).any())

    return Case(*layer_problem(5, 20, cmask=ALL_CONTINUOUS), status=[CONVERGED] * 5, check=check)


def nothing_active():
    # One solve of the whole system (no bound fixed) confirms the empty active set.
    def check(case, res, host):
        assert bool((res.state == 0).all()) and bool((res.iterations == 1).all())

    return Case(*layer_problem(4, 30, bound=10.0, scale=0.1), status=[CONVERGED] * 4, check=check)


def warm_start_from_the_solution():
    P, q, lo, hi = layer_problem(5, 40, cond=1e5)
    exact, _ = box_qp.solve(P, q, lo, hi, None, BoxQPOptions(), keep_factor=False)

    def check(case, res, host):
        assert bool((res.iterations == 1).all()) and torch.equal(res.state, case.init) and bool((case.init != 0).any())

    return Case(P, q, lo, hi, status=[CONVERGED] * 5, init=exact.state, check=check)


def warm_start_naming_missing_bounds():
    # Every entry starts at its upper bound: those without one must start free (box_qp._initial_state).
    P, q, lo, hi = layer_problem(5, 50)
    lo[:, :3] = -torch.inf  # and some entries with an upper bound only

    def check(case, res, host):
        assert bool(torch.isinf(case.hi).any()) and bool((torch.isinf(case.lo) & torch.isfinite(case.hi)).any())
        assert int(res.iterations.min()) > 1

    return Case(P, q, lo, hi, status=[CONVERGED] * 5, init=torch.ones_like(q, dtype=torch.int8), check=check)


def warm_start_with_every_entry_fixed():
    # Everything bounded and pushed past its upper bound: the first solve has no free entry at all.
    n = T * D
    P = torch.eye(n, dtype=torch.float64) + 0.01 * random_spd(3, n, cond=10, seed=60)
    q = 5.0 + torch.rand(3, n, generator=torch.Generator().manual_seed(61), dtype=torch.float64)
    lo, hi = torch.full_like(q, -0.05), torch.full_like(q, 0.05)

    def check(case, res, host):
        assert bool((res.state == 1).all()) and bool((res.iterations == 1).all())

    return Case(P, q, lo, hi, status=[CONVERGED] * 3, init=torch.ones_like(q, dtype=torch.int8), check=check)


def one_sided_and_equal_bounds():
    P, q, lo, hi = layer_problem(4, 70, scale=3.0)
    bounded = torch.isfinite(lo[0]).nonzero().squeeze(-1)
    lo[:, bounded[:4]] = -torch.inf  # upper bound only
    hi[:, bounded[4:8]] = torch.inf  # lower bound only
    tight = bounded[8:14]
    lo[:, tight] = hi[:, tight] = 0.01  # lo == hi: the entry is fixed either way

    def check(case, res, host):
        assert bool((res.state[:, tight] != 0).all())
        torch.testing.assert_close(res.z[:, tight], case.lo[:, tight], rtol=0, atol=0)

    return Case(P, q, lo, hi, status=[CONVERGED] * 4, check=check)


def capped_then_polished(cond=1e6):
    # One iteration cannot confirm these active sets: the interior-point guess, polished, finishes.
    def check(case, res, host):
        for b in range(len(case.q)):
            assert host_only_active_set(case, b) == (NOT_CONVERGED, 1)
        assert int(res.iterations.min()) > 5

    return Case(*layer_problem(6, 80, cond=cond), status=[POLISHED] * 6, options=BoxQPOptions(max_active_set_iter=1), check=check)


CYCLING_SEEDS = [560, 866, 1781, 2382]  # n = 6 each; they cycle after 5-6 iterations


def cycled_then_polished_next_to_converging_samples():
    # The cycling samples leave the batch early and take the fallback; the others converge around them.
    problems = [cycling_problem(s) for s in CYCLING_SEEDS]
    for seed in (1, 2):
        rng = np.random.default_rng(seed)
        A = rng.standard_normal((6, 6))
        problems.append([torch.from_numpy(x) for x in (A @ A.T + 6 * np.eye(6), rng.standard_normal(6) * 20, -np.ones(6), np.ones(6))])

    def check(case, res, host):
        for b in range(4):
            status, it = host_only_active_set(case, b)
            assert status == NOT_CONVERGED and it < case.options.max_active_set_iter  # a cycle, not the cap

    return Case(*stack(problems), status=[POLISHED] * 4 + [CONVERGED] * 2, options=BoxQPOptions(max_active_set_iter=50), check=check)


def polish_fails_then_projected_newton():
    # Three interior-point iterations: a guess good enough for five samples' polish but not for sample 2,
    # which projected Newton (three iterations) and its polish finish exactly, inside the batch.
    status = [POLISHED] * 6
    status[2] = NOT_CONVERGED
    return Case(*layer_problem(6, 90, cond=1e6), status=status, options=BoxQPOptions(max_active_set_iter=1, max_newton_iter=3))


def unconverged_is_flagged():
    # No fallback iterations at all: the samples stay unconverged, flagged, their iterate feasible.
    def check(case, res, host):
        assert bool((res.z >= case.lo).all() and (res.z <= case.hi).all())

    return Case(*layer_problem(4, 102, cond=1e6, scale=3.0), status=[NOT_CONVERGED] * 4,
                options=BoxQPOptions(max_active_set_iter=1, max_newton_iter=0), converged=False, check=check)


CASES = {f.__name__: f for f in (
    cold_with_eliminated_entries, cold_everything_bounded, nothing_active, warm_start_from_the_solution,
    warm_start_naming_missing_bounds, warm_start_with_every_entry_fixed, one_sided_and_equal_bounds,
    capped_then_polished, cycled_then_polished_next_to_converging_samples, polish_fails_then_projected_newton,
    unconverged_is_flagged,
)}
# float32 (torch computes in it; the host kernel in float64 with float32's rtol), on problems it can resolve.
FLOAT32_CASES = {
    "cold_with_eliminated_entries": cold_with_eliminated_entries,
    "warm_start_naming_missing_bounds": warm_start_naming_missing_bounds,
    "capped_then_polished": lambda: capped_then_polished(cond=1e4),
}


@pytest.fixture
def torch_fallbacks(monkeypatch):
    """Samples passed to box_qp's interior point and projected Newton, counted."""
    calls = collections.Counter()
    for name in ("_interior_point", "_projected_newton"):
        def spy(P, *args, _real=getattr(box_qp, name), _name=name, **kw):
            calls[_name] += P.shape[0]
            return _real(P, *args, **kw)

        monkeypatch.setattr(box_qp, name, spy)
    return calls


def _solve_counted(calls, fn):
    calls.clear()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = fn()
    return out, dict(calls), [w for w in caught if issubclass(w.category, RuntimeWarning)]


@pytest.mark.parametrize("dtype,name", [(torch.float64, n) for n in CASES] + [(torch.float32, n) for n in FLOAT32_CASES])
def test_torch_and_host_solvers_take_the_same_branch_and_agree(name, dtype, torch_fallbacks):
    case = (CASES if dtype == torch.float64 else FLOAT32_CASES)[name]()
    B = len(case.q)
    P, q, lo, hi = (x.to(dtype) for x in (case.P, case.q, case.lo, case.hi))
    opts = case.options
    batched, calls_batch, warned_batch = _solve_counted(torch_fallbacks, lambda: box_qp.solve(P, q, lo, hi, case.init, opts, keep_factor=True)[0])
    singles, hosts = [], []
    for b in range(B):
        init = None if case.init is None else case.init[b : b + 1]
        singles.append(_solve_counted(torch_fallbacks, lambda: box_qp.solve(P[b : b + 1], q[b : b + 1], lo[b : b + 1], hi[b : b + 1], init, opts, keep_factor=False)[0]))
        hosts.append(_solve_counted(torch_fallbacks, lambda: box_qp.solve_one_on_host(*_host_args(case, b, dtype)[:4], init, opts, dtype)))

    # The branch: host status, then the torch fallbacks each path ran.
    rtol = box_qp._rtol(opts, dtype)
    host_raw = [host_kernels.solve(*_host_args(case, b, dtype), opts.active_set_iter(host=True), rtol, opts.max_newton_iter, box_qp.ip_tolerance(rtol)) for b in range(B)]
    assert [int(h[3]) for h in host_raw] == case.status
    fell_back = [s != CONVERGED for s in case.status]
    newton = [s == NOT_CONVERGED for s in case.status]
    assert calls_batch.get("_interior_point", 0) == sum(fell_back)
    assert calls_batch.get("_projected_newton", 0) == sum(newton)
    for b in range(B):
        assert singles[b][1].get("_interior_point", 0) == fell_back[b]
        assert hosts[b][1].get("_interior_point", 0) == 0  # the host kernel ran its own
        assert hosts[b][1].get("_projected_newton", 0) == singles[b][1].get("_projected_newton", 0) == newton[b]
        assert bool(singles[b][2]) == bool(hosts[b][2]) == (not case.converged)
    assert bool(warned_batch) == (not case.converged)

    # The results: torch batch == torch one at a time == host kernel.
    # float32: torch rounds to 6e-8 relative where the host kernel computes in float64; cond(P) up to 1e6.
    z_rtol, z_atol, kkt_tol = (0, 1e-10, 1e-9) if dtype == torch.float64 else (1e-4, 1e-4, 1e-4)
    expect_fallback = torch.tensor(fell_back)
    assert torch.equal(batched.fallback, expect_fallback) and bool((batched.converged == case.converged).all())
    for b in range(B):
        single = singles[b][0]
        z_host, host = hosts[b][0]
        for other, z in ((single, single.z[0]), (host, torch.from_numpy(z_host))):
            assert torch.equal(other.state[0], batched.state[b])
            # float32 rounding (a batch's products sum in another order than one sample's; the host computes in
            # float64) moves the interior point's stopping test: one iteration either way; every other count is exact.
            slack = 1 if dtype == torch.float32 and fell_back[b] else 0
            assert abs(int(other.iterations[0]) - int(batched.iterations[b])) <= slack
            assert bool(other.fallback[0]) == fell_back[b] and bool(other.converged[0]) == case.converged
            torch.testing.assert_close(z.to(torch.float64), batched.z[b].to(torch.float64), rtol=z_rtol, atol=z_atol)
            assert abs(float(other.kkt_residual[0]) - float(batched.kkt_residual[b])) <= kkt_tol
        if not newton[b]:  # (where projected Newton ran, it and its polish continue from the kernel's outputs)
            np.testing.assert_array_equal(host_raw[b][1], batched.state[b].numpy())
            assert int(host_raw[b][2]) == int(batched.iterations[b])
    if case.converged:
        assert float(batched.kkt_residual.max()) <= 10 * rtol
    if case.check is not None:
        case.check(case, batched, host_raw)


@pytest.mark.parametrize("where", ["bounded_block", "eliminated_block", "interior_point_only"])
def test_both_solvers_reject_a_hessian_that_is_not_positive_definite(where):
    P, q, lo, hi = layer_problem(1, 110)
    init, opts = None, BoxQPOptions(max_active_set_iter=30)
    free = unbounded(Case(P, q, lo, hi, []))[0]
    if where == "bounded_block":
        i = int((~free).nonzero()[0])
        P[0, i, :], P[0, :, i], P[0, i, i] = 0.0, 0.0, -1.0
    elif where == "eliminated_block":
        i = int(free.nonzero()[0])
        P[0, i, :], P[0, :, i], P[0, i, i] = 0.0, 0.0, -1.0
    else:
        # Indefinite only in the block of entries 0 and 1, which start fixed (the capped iteration never
        # factors them): the interior point's first factorization, P + small barrier terms (wide bounds), does.
        P = torch.eye(T * D, dtype=torch.float64).unsqueeze(0).clone()
        P[0, 0, 1] = P[0, 1, 0] = 3.0
        lo, hi = torch.full_like(q, -0.05), torch.full_like(q, 0.05)
        lo[0, :2], hi[0, :2] = -100.0, 100.0
        q = torch.full_like(q, 10.0)
        q[0, :2], q[0, 2] = 0.0, 0.2  # entry 2 starts free and ends past its bound: not converged
        init = torch.ones_like(q, dtype=torch.int8)
        init[0, 2] = 0
        opts = BoxQPOptions(max_active_set_iter=1)
    with pytest.raises(ValueError, match="not symmetric positive definite"):
        box_qp.solve(P, q, lo, hi, init, opts, keep_factor=False)
    with pytest.raises(ValueError, match="not symmetric positive definite"):
        box_qp.solve_one_on_host(*(x[0].numpy() for x in (P, q, lo, hi)), init, opts, torch.float64)


def test_the_interior_point_guesses_agree_with_entries_eliminated_or_not():
    # Torch runs the interior point on the whole problem, starting the unbounded entries at their optimum;
    # the host kernel on their Schur complement: the same iterates, so the same guess in as many iterations.
    P, q, lo, hi = layer_problem(3, 120, cond=1e6, with_past=False)
    rtol = 1e-10
    z_t, guess_t, it_t = box_qp._interior_point(P, q, lo, hi, 200, box_qp.ip_tolerance(rtol))
    for b in range(3):
        free = unbounded(Case(P, q, lo, hi, []))[b]
        bnd = ~free
        Pb, qb = P[b], q[b]
        S = Pb[bnd][:, bnd] - Pb[bnd][:, free] @ torch.linalg.solve(Pb[free][:, free], Pb[free][:, bnd])
        s_q = qb[bnd] - Pb[bnd][:, free] @ torch.linalg.solve(Pb[free][:, free], qb[free])
        z_h, guess_h, it_h, ok = host_kernels._interior_point_guess(
            S.numpy(), s_q.numpy(), lo[b][bnd].numpy(), hi[b][bnd].numpy(), 200, box_qp.ip_tolerance(rtol), 1.0 + float(qb.abs().max()))
        assert ok and it_h == int(it_t[b]) > 5
        np.testing.assert_array_equal(guess_h, guess_t[b][bnd].numpy())
        np.testing.assert_allclose(z_h, z_t[b][bnd].numpy(), rtol=0, atol=1e-9)
