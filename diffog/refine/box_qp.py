"""Exact batched solver for min 1/2 z^T P z - q^T z s.t. lo <= z <= hi (P SPD), and its adjoint.

Hand-written because no maintained PyTorch library solves batched box QPs exactly, with an active-set
gradient, on CPU and CUDA. Forward: a primal-dual active-set method; each iteration is one Cholesky
solve on the free entries only (a sample with many bounds active costs a small factorization); 1-3
iterations on well-conditioned problems, 1 when warm-started from the right set, 10-25 when Q is badly
conditioned. It can cycle: a sample whose active set repeats or that reaches the iteration cap gets an
active-set guess from a Mehrotra interior-point solve, polished exactly by the active-set iteration;
where that fails, Bertsekas' projected Newton method (Armijo search along the projection arc, globally
convergent) and another polish. A sample that still fails keeps its feasible projected-Newton iterate,
is flagged (converged=False) and a RuntimeWarning is raised: never silently. `adjoint` gives the
backward pass: implicit differentiation of the KKT system on the final active set, reusing the last
Cholesky factor. Batch-1 inference (no factor kept) runs the same iteration for its one sample compiled on
the host (host_kernels), also for CUDA tensors: there torch's per-op cost exceeds the arithmetic, and a GPU
only waits on kernel launches.
Two implementations on purpose: this one serves batches, CUDA and the backward pass, host_kernels the
batch-1 latency `make bench` measures; tests/core/refine/test_solver_parity.py keeps them equal branch by branch.
Active-set state per entry: -1 at its lower bound, +1 at its upper bound, 0 free.
"""
from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import torch

from . import host_kernels


@dataclasses.dataclass(frozen=True)
class BoxQPOptions:
    max_active_set_iter: int | None = None  # None: 30 for a batch, 25 for one sample on the host (see below)
    max_newton_iter: int = 200
    rtol: float | None = None  # None: 1e-10 in float64, 1e-5 in float32

    def __post_init__(self):
        if self.max_active_set_iter is not None and self.max_active_set_iter < 1:
            raise ValueError(f"max_active_set_iter must be >= 1 or None, got {self.max_active_set_iter}")
        if self.max_newton_iter < 0:
            raise ValueError(f"max_newton_iter must be >= 0, got {self.max_newton_iter}")

    def active_set_iter(self, host: bool) -> int:
        # On the host an iteration is cheap next to the compiled interior-point guess, yet giving up earlier
        # saves time on samples that would cycle on: 25 lets nearly all samples that converge with a trained Q
        # do so (figures: benchmarks/README.md).
        if self.max_active_set_iter is None:
            return 25 if host else 30
        return self.max_active_set_iter


@dataclasses.dataclass
class BoxQPResult:
    z: torch.Tensor | None  # (B, n); None where the caller returns actions instead
    state: torch.Tensor  # (B, n) int8 active-set state
    iterations: torch.Tensor  # (B,) active-set + projected-Newton iterations
    fallback: torch.Tensor  # (B,) bool: needed the globally convergent solve
    converged: torch.Tensor  # (B,) bool: KKT conditions hold to tolerance
    kkt_residual: torch.Tensor  # (B,) largest stationarity / multiplier-sign residual, relative to 1 + |q|
    max_violation: torch.Tensor | None = None  # (B,) of the returned actions' steps, where the solver checked them


def _matvec(P: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return (P @ x.unsqueeze(-1)).squeeze(-1)


@dataclasses.dataclass
class _Factor:
    """Cholesky factor of the free-free block, free entries permuted first (perm None: all free, identity)."""

    L: torch.Tensor  # (b, m, m), identity rows beyond each sample's free count
    perm: torch.Tensor | None  # (b, n)


def _free_solve(P, q, fixed, v) -> tuple[torch.Tensor, _Factor, torch.Tensor]:
    """Solve P_FF z_F = q_F - P_FA v_A, z_A = v_A (A = fixed; v is 0 on free entries).

    Returns z, the factor and a (B,) flag of failed factorizations (P not positive definite).
    """
    B, n = q.shape
    n_free = (~fixed).sum(-1)
    fewest, m = (int(n_free),) * 2 if B == 1 else torch.stack(n_free.aminmax()).tolist()
    if fewest == n:
        L, info = torch.linalg.cholesky_ex(P)
        perm, x_rhs = None, q
    else:
        rhs = torch.where(fixed, v, q - _matvec(P, v))
        # Free entries first; a batch pads them to its largest free set with identity rows that return v.
        perm = torch.argsort(fixed.to(torch.int8), dim=-1, stable=True)
        m = max(m, 1)
        idx = perm[:, :m]
        if B == 1 and fewest > 0:  # batch 1: its free block directly, no padding (faster)
            K = P[0].index_select(0, idx[0]).index_select(1, idx[0]).unsqueeze(0)
        else:
            flat = (idx.unsqueeze(-1) * n + idx.unsqueeze(1)).view(B, -1)  # one gather: faster than rows then columns
            K = P.reshape(B, -1).gather(1, flat).view(B, m, m)
            real = torch.arange(m, device=P.device) < n_free.unsqueeze(-1)
            K = torch.where(real.unsqueeze(-1) & real.unsqueeze(-2), K, torch.eye(m, dtype=P.dtype, device=P.device))
        L, info = torch.linalg.cholesky_ex(K)
        x_rhs = rhs.gather(1, idx)
    x = torch.cholesky_solve(x_rhs.unsqueeze(-1), L).squeeze(-1)
    z = x if perm is None else v.scatter(1, perm[:, :m], x)
    return z, _Factor(L, perm), info > 0


_NOT_SPD = "the QP Hessian is not symmetric positive definite (is Q SPD?)"


def _tolerances(P, q, lo_v, hi_v, rtol):
    """Entry tolerance (z units), multiplier tolerance and gradient scale; lo_v/hi_v: bounds with inf -> 0."""
    tol_z = rtol * (1.0 + lo_v.abs() + hi_v.abs())
    g_scale = 1.0 + q.abs().amax(-1, keepdim=True)
    tol_g = rtol * (g_scale + P.diagonal(dim1=-2, dim2=-1).abs())
    return tol_z, tol_g, g_scale


def _finite(b: torch.Tensor) -> torch.Tensor:
    return torch.where(torch.isfinite(b), b, 0)


def kkt_residual(g, state, g_scale):
    r = torch.where(state < 0, (-g).clamp(min=0), torch.where(state > 0, g.clamp(min=0), g.abs()))
    return r.amax(-1) / g_scale.squeeze(-1)


class _Outputs:
    """Per-sample results, written as samples leave the shrinking working set."""

    def __init__(self, B, n, like, keep_factor):
        self.z = torch.zeros(B, n, dtype=like.dtype, device=like.device)
        self.state = torch.zeros(B, n, dtype=torch.int8, device=like.device)
        self.iters = torch.zeros(B, dtype=torch.int32, device=like.device)
        self.done = torch.zeros(B, dtype=torch.bool, device=like.device)
        self.kkt = torch.full((B,), torch.inf, dtype=like.dtype, device=like.device)
        self.keep_factor, self.B, self.n = keep_factor, B, n
        self.L: torch.Tensor | None = None  # (B, n, n) factors; column-major, as LAPACK wants them
        self.perm: torch.Tensor | None = None  # None: identity for every sample

    def write(self, ids, sel, z, state, iters, done, kkt, factor):
        """Store rows `sel` of the working set as samples `ids` (None: all rows, all samples in order)."""
        pick = (lambda t: t) if sel is None else (lambda t: t[sel])
        rows = slice(None) if ids is None else ids
        self.z[rows], self.state[rows], self.iters[rows] = pick(z), pick(state), iters
        self.done[rows], self.kkt[rows] = pick(done), pick(kkt)
        if not self.keep_factor:
            return
        m = factor.L.shape[-1]
        if ids is None and sel is None and m == self.n and self.L is None:
            self.L, self.perm = factor.L, factor.perm  # the whole batch at once: keep, no copy
            return
        if self.L is None:
            self.L = torch.eye(self.n, dtype=z.dtype, device=z.device).repeat(self.B, 1, 1).mT
        if self.perm is None:
            self.perm = torch.arange(self.n, device=z.device).repeat(self.B, 1)
        self.L[rows] = torch.eye(self.n, dtype=z.dtype, device=z.device)
        self.L[rows, :m, :m] = pick(factor.L)
        self.perm[rows] = torch.arange(self.n, device=z.device) if factor.perm is None else pick(factor.perm)


def _active_set(P, q, lo, hi, state, max_iter, rtol, out: _Outputs, ids=None) -> None:
    """Primal-dual active-set iterations on samples `ids` (None: all); every sample ends up written to
    `out`, with done=False when it cycled (returned to any active set tried before, the starting one
    included, as host_kernels._active_set) or reached max_iter."""
    lo_v, hi_v = _finite(lo), _finite(hi)
    tol_z, tol_g, g_scale = _tolerances(P, q, lo_v, hi_v, rtol)
    seen = state.unsqueeze(0)  # (k, b, n): every active set tried, compared exactly
    not_spd = torch.zeros((), dtype=torch.bool, device=q.device)
    work = (P, q, lo_v, hi_v, lo - tol_z, hi + tol_z, tol_g, g_scale)
    for it in range(1, max_iter + 1):
        P, q, lo_v, hi_v, enter_lo, enter_hi, tol_g, g_scale = work
        fixed, at_lo = state != 0, state < 0
        z, factor, failed = _free_solve(P, q, fixed, torch.where(at_lo, lo_v, hi_v) * fixed)
        not_spd = not_spd | failed.any()
        g = _matvec(P, z) - q
        # Active entries whose multiplier has the wrong sign are released; free ones past a bound enter.
        release = torch.where(at_lo, g < -tol_g, g > tol_g)
        entering = (z > enter_hi).to(torch.int8) - (z < enter_lo).to(torch.int8)
        new = torch.where(fixed, torch.where(release, 0, state), entering)
        converged = (new == state).all(-1)
        cycled = (seen == new).all(-1).any(0)  # an active set seen before (converged ones match the last)
        leave = converged | cycled if it < max_iter else torch.ones_like(converged)
        n_leave = int(leave.sum())
        if n_leave == len(leave):
            out.write(ids, None, z, state, it, converged, kkt_residual(g, state, g_scale), factor)
            break
        if n_leave:
            sel = leave.nonzero().squeeze(-1)
            out.write(sel if ids is None else ids[sel], sel, z, state, it, converged, kkt_residual(g, state, g_scale), factor)
            keep = (~leave).nonzero().squeeze(-1)
            ids = keep if ids is None else ids[keep]
            work = tuple(t[keep] for t in work)
            seen, new = seen[:, keep], new[keep]
        seen = torch.cat([seen, new.unsqueeze(0)])
        state = new
    if bool(not_spd):
        raise ValueError(_NOT_SPD)


def _projected_newton(P, q, lo, hi, z, max_iter, rtol, sigma=1e-4, beta=0.5, n_steps=20):
    """Bertsekas (1982) projected Newton for box QPs (globally convergent); returns the iterate and iterations."""
    tol_z, _, _ = _tolerances(P, q, _finite(lo), _finite(hi), rtol)
    z = torch.minimum(torch.maximum(z, lo), hi)
    iters = torch.zeros(q.shape[0], dtype=torch.int32, device=q.device)
    steps = beta ** torch.arange(n_steps, dtype=P.dtype, device=P.device)
    ids = torch.arange(q.shape[0], device=q.device)
    work = (P, q, lo, hi, tol_z, P.diagonal(dim1=-2, dim2=-1), z.clone())
    for _ in range(max_iter):
        P, q, lo, hi, tol_z, diag, zt = work
        g = _matvec(P, zt) - q
        proj_res = (zt - torch.minimum(torch.maximum(zt - g / diag, lo), hi)).abs().amax(-1)
        moving = proj_res > rtol * (1.0 + zt.abs().amax(-1))
        n_moving = int(moving.sum())
        if n_moving < len(moving):
            z[ids] = zt
            if n_moving == 0:
                return z, iters
            keep = moving.nonzero().squeeze(-1)
            ids, g, proj_res = ids[keep], g[keep], proj_res[keep]
            P, q, lo, hi, tol_z, diag, zt = work = tuple(t[keep] for t in work)
        # Entries at (or within eps of) a bound with the gradient pushing outward stay put; Newton on the rest.
        eps = proj_res.clamp(max=1e-3).unsqueeze(-1) + tol_z
        binding = ((zt <= lo + eps) & (g > 0)) | ((zt >= hi - eps) & (g < 0))
        newton, _, failed = _free_solve(P, q, binding, torch.where(binding, zt, 0))
        if bool(failed.any()):
            raise ValueError(_NOT_SPD)
        d = torch.where(binding, -g / diag, newton - zt)
        cand = torch.minimum(torch.maximum(zt.unsqueeze(1) + steps.view(1, -1, 1) * d.unsqueeze(1), lo.unsqueeze(1)), hi.unsqueeze(1))
        f = 0.5 * (cand * (cand @ P)).sum(-1) - (cand * q.unsqueeze(1)).sum(-1)  # (b, steps)
        f0 = 0.5 * (zt * (g - q)).sum(-1, keepdim=True)  # 1/2 z^T P z - q^T z with P z = g + q
        free_dec = torch.where(binding, 0, -g * d).sum(-1, keepdim=True) * steps
        bind_dec = (torch.where(binding, g, 0).unsqueeze(1) * (zt.unsqueeze(1) - cand)).sum(-1)
        ok = (f0 - f) >= sigma * (free_dec + bind_dec)
        first = torch.where(ok.any(-1), ok.int().argmax(-1), n_steps - 1)
        zt = cand[torch.arange(len(ids), device=q.device), first]
        work = (P, q, lo, hi, tol_z, diag, zt)
        iters[ids] += 1
    z[ids] = work[-1]
    return z, iters


def _interior_point(P, q, lo, hi, max_iter, tol):
    """Mehrotra predictor-corrector interior point on the box QP; returns z, an active-set guess, iterations.

    Its iteration count hardly depends on conditioning, which is where the active-set method struggles;
    the guess (bounds whose multiplier exceeds their slack) is then polished exactly. Entries without
    bounds start at their optimum given the others, which every step keeps (their rows are linear): the
    iterates are those of host_kernels._interior_point_guess, which eliminates these entries beforehand.
    Raises ValueError where a factorization fails (P not SPD).
    """
    has_lo, has_hi = torch.isfinite(lo), torch.isfinite(hi)
    lo_v, hi_v = _finite(lo), _finite(hi)
    z = torch.where(has_lo & has_hi, 0.5 * (lo_v + hi_v), torch.where(has_lo, lo_v + 1, torch.where(has_hi, hi_v - 1, 0)))
    bounded = has_lo | has_hi
    if not bool(bounded.all()):
        z, _, failed = _free_solve(P, q, bounded, torch.where(bounded, z, 0))
        if bool(failed.any()):
            raise ValueError(_NOT_SPD)
    one = torch.ones_like(q)
    s_lo, s_hi = torch.where(has_lo, z - lo_v, one), torch.where(has_hi, hi_v - z, one)
    scale = 1.0 + q.abs().amax(-1, keepdim=True)
    # Multipliers start near their scale (not at 1): with a trained Q (|q| ~ 5e3) that took 13 iterations
    # (up to 24) instead of 11 (up to 13).
    l0 = (0.01 * scale).clamp(min=1.0)
    l_lo, l_hi = has_lo * l0, has_hi * l0
    m = (has_lo.sum(-1, keepdim=True) + has_hi.sum(-1, keepdim=True)).clamp(min=1)
    running = torch.ones_like(q[:, :1], dtype=torch.bool)

    def max_step(v, dv, mask):
        return torch.where(mask & (dv < 0), -v / dv, torch.inf).amin(-1, keepdim=True).clamp(max=1.0)

    iters = torch.zeros(q.shape[0], dtype=torch.int32, device=q.device)
    for _ in range(max_iter):
        r_d = _matvec(P, z) - q - l_lo + l_hi
        r_lo = torch.where(has_lo, z - lo_v - s_lo, 0)
        r_hi = torch.where(has_hi, hi_v - z - s_hi, 0)
        mu = ((s_lo * l_lo).sum(-1, keepdim=True) + (s_hi * l_hi).sum(-1, keepdim=True)) / m
        running = running & ((r_d.abs().amax(-1, keepdim=True) > tol * scale) | (mu > tol * scale))
        if not bool(running.any()):
            break
        iters += running.squeeze(-1)
        L, info = torch.linalg.cholesky_ex(P + torch.diag_embed(torch.where(has_lo, l_lo / s_lo, 0) + torch.where(has_hi, l_hi / s_hi, 0)))
        if bool((info > 0).any()):
            raise ValueError(_NOT_SPD)

        def direction(c_lo, c_hi):
            rhs = -r_d + torch.where(has_lo, (-c_lo - l_lo * r_lo) / s_lo, 0) - torch.where(has_hi, (-c_hi - l_hi * r_hi) / s_hi, 0)
            dz = torch.cholesky_solve(rhs.unsqueeze(-1), L).squeeze(-1)
            ds_lo, ds_hi = torch.where(has_lo, dz + r_lo, 0), torch.where(has_hi, r_hi - dz, 0)
            dl_lo = torch.where(has_lo, (-c_lo - l_lo * ds_lo) / s_lo, 0)
            dl_hi = torch.where(has_hi, (-c_hi - l_hi * ds_hi) / s_hi, 0)
            return dz, ds_lo, ds_hi, dl_lo, dl_hi

        dz, ds_lo, ds_hi, dl_lo, dl_hi = direction(s_lo * l_lo, s_hi * l_hi)  # affine predictor
        a_p = torch.minimum(max_step(s_lo, ds_lo, has_lo), max_step(s_hi, ds_hi, has_hi))
        a_d = torch.minimum(max_step(l_lo, dl_lo, has_lo), max_step(l_hi, dl_hi, has_hi))
        mu_aff = (((s_lo + a_p * ds_lo) * (l_lo + a_d * dl_lo)).sum(-1, keepdim=True)
                  + ((s_hi + a_p * ds_hi) * (l_hi + a_d * dl_hi)).sum(-1, keepdim=True)) / m
        sigma_mu = (mu_aff / mu) ** 3 * mu
        dz, ds_lo, ds_hi, dl_lo, dl_hi = direction(s_lo * l_lo + ds_lo * dl_lo - sigma_mu, s_hi * l_hi + ds_hi * dl_hi - sigma_mu)
        a_p = 0.99 * torch.minimum(max_step(s_lo, ds_lo, has_lo), max_step(s_hi, ds_hi, has_hi)) * running
        a_d = 0.99 * torch.minimum(max_step(l_lo, dl_lo, has_lo), max_step(l_hi, dl_hi, has_hi)) * running
        z, s_lo, s_hi = z + a_p * dz, torch.where(has_lo, s_lo + a_p * ds_lo, one), torch.where(has_hi, s_hi + a_p * ds_hi, one)
        l_lo, l_hi = torch.where(has_lo, l_lo + a_d * dl_lo, 0), torch.where(has_hi, l_hi + a_d * dl_hi, 0)
    guess = torch.where(has_lo & (l_lo > s_lo), -1, torch.where(has_hi & (l_hi > s_hi), 1, 0))
    return z, guess.to(torch.int8), iters


def _rtol(options: BoxQPOptions, dtype: torch.dtype) -> float:
    return options.rtol if options.rtol is not None else (1e-10 if dtype == torch.float64 else 1e-5)


def ip_tolerance(rtol: float) -> float:
    """Stopping tolerance of the interior-point guess, for both implementations: looser than rtol in float64
    (the guess is polished exactly afterwards, and the last iterations only sharpen multipliers), never
    tighter than rtol (float32 arithmetic would not reach it)."""
    return max(rtol, 1e-3 * rtol**0.5)


def _initial_state(init_state, lo, hi, B, n, device) -> torch.Tensor:
    if init_state is None:
        return torch.zeros(B, n, dtype=torch.int8, device=device)
    # A warm start may name bounds this problem does not have: those entries start free.
    state = torch.where(((init_state < 0) & torch.isinf(lo)) | ((init_state > 0) & torch.isinf(hi)), 0, init_state)
    return state.to(torch.int8)


def solve(P, q, lo, hi, init_state, options: BoxQPOptions, keep_factor: bool):
    """Forward solve (no autograd). Returns a BoxQPResult and, with keep_factor, the final factor and permutation."""
    B, n = q.shape
    state = _initial_state(init_state, lo, hi, B, n, q.device)
    out = _Outputs(B, n, q, keep_factor)
    _active_set(P, q, lo, hi, state, options.active_set_iter(host=False), _rtol(options, P.dtype), out)
    return _finish(P, q, lo, hi, out, options, _rtol(options, P.dtype)), (out.L, out.perm) if keep_factor else (None, None)


def solve_one_on_host(P: np.ndarray, q: np.ndarray, lo: np.ndarray, hi: np.ndarray, init_state, options: BoxQPOptions, dtype: torch.dtype):
    """Batch-1 inference: one float64 problem (host arrays, as host_kernels builds them) by the compiled
    kernels (active set, then an interior-point guess polished); where that still fails, the torch
    projected Newton and its polish finish it on the host, from the kernel's interior-point iterate, as
    _finish does for a batch.
    rtol follows `dtype`, the precision asked for. Returns z (n,) and a CPU BoxQPResult."""
    rtol = _rtol(options, dtype)
    if init_state is None:
        state = np.zeros(len(q), np.int8)
    else:
        bounds = (torch.from_numpy(b).unsqueeze(0) for b in (lo, hi))
        state = _initial_state(init_state.cpu(), *bounds, 1, len(q), "cpu")[0].numpy()
    z, st, it, status, kkt = host_kernels.solve(
        P, q, lo, hi, state, options.active_set_iter(host=True), rtol, options.max_newton_iter, ip_tolerance(rtol)
    )
    if status == host_kernels.NOT_SPD:
        raise ValueError(_NOT_SPD)
    if status in (host_kernels.CONVERGED, host_kernels.POLISHED):
        fallback, converged = torch.tensor([[status == host_kernels.POLISHED], [True]])
        return z, BoxQPResult(None, torch.from_numpy(st).unsqueeze(0), torch.tensor([it], dtype=torch.int32), fallback, converged, torch.tensor([kkt]))
    host = [torch.from_numpy(x).unsqueeze(0) for x in (P, q, lo, hi, z, st)]  # the polished guess failed too
    out = _Outputs(1, len(q), host[1], keep_factor=False)
    out.write(None, None, host[4], host[5], it, torch.zeros(1, dtype=torch.bool), torch.full((1,), kkt, dtype=torch.float64), None)
    res = _finish(*host[:4], out, options, rtol, ip_z=host[4])
    return res.z[0].numpy(), dataclasses.replace(res, z=None)


def _finish(P, q, lo, hi, out: _Outputs, options: BoxQPOptions, rtol: float, ip_z=None) -> BoxQPResult:
    """Samples the active-set iteration left unconverged (cycled or capped) get an interior-point guess of the
    active set, polished exactly; where that still fails, projected Newton (globally convergent) from the
    interior-point iterate and a last polish. ip_z: that iterate where the host kernel already ran the
    guess and its polish (every unconverged sample then goes straight to projected Newton).
    Iterations add up over every stage that ran, as host_kernels.solve counts them."""
    B = q.shape[0]
    fallback = ~out.done
    if bool(fallback.any()):
        left = fallback.nonzero().squeeze(-1)
        Pf, qf, lf, hf = P[left], q[left], lo[left], hi[left]
        if ip_z is None:
            zf, guess, ip_iters = _interior_point(Pf, qf, lf, hf, options.max_newton_iter, ip_tolerance(rtol))
            before = out.iters[left] + ip_iters
            _active_set(Pf, qf, lf, hf, guess, 3, rtol, out, ids=left)
            out.iters[left] += before
        else:
            zf = ip_z[left]
        failed = ~out.done[left]
        if bool(failed.any()):
            bad = left[failed]
            Pb, qb, lb, hb = Pf[failed], qf[failed], lf[failed], hf[failed]
            zb, pn_iters = _projected_newton(Pb, qb, lb, hb, zf[failed], options.max_newton_iter, rtol)
            tol_z, _, _ = _tolerances(Pb, qb, _finite(lb), _finite(hb), rtol)
            g = _matvec(Pb, zb) - qb
            guess = torch.where((zb <= lb + tol_z) & (g > 0), -1, torch.where((zb >= hb - tol_z) & (g < 0), 1, 0))
            before = out.iters[bad] + pn_iters
            _active_set(Pb, qb, lb, hb, guess.to(torch.int8), 3, rtol, out, ids=bad)
            out.iters[bad] += before
            still = ~out.done[bad]
            if bool(still.any()):
                out.z[bad[still]] = zb[still]
                warnings.warn(
                    f"DiffOG box QP: {int(still.sum())} of {B} samples did not converge; returning their feasible "
                    "projected-Newton iterate (see last_stats.converged)",
                    RuntimeWarning,
                    stacklevel=5,
                )
    z = torch.minimum(torch.maximum(out.z, lo), hi)
    return BoxQPResult(z, out.state, out.iters, fallback, out.done, out.kkt)


def adjoint(L: torch.Tensor, perm: torch.Tensor | None, state: torch.Tensor, grad_z: torch.Tensor) -> torch.Tensor:
    """Free part of K^-1 grad_z for the final active-set system K = [P_FF, 0; 0, I], from the saved factor.

    Implicit differentiation on the final active set: dz/dq = w on free entries, dz/dP = -w z^T.
    """
    if perm is None:
        w = torch.cholesky_solve(grad_z.unsqueeze(-1), L).squeeze(-1)
    else:
        w_perm = torch.cholesky_solve(grad_z.gather(1, perm).unsqueeze(-1), L).squeeze(-1)
        w = torch.empty_like(w_perm).scatter_(1, perm, w_perm)
    return torch.where(state == 0, w, torch.zeros_like(w))
