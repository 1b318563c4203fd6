"""Batch-1 inference on the host, compiled with numba: the box QP's build, its active-set iteration with an
interior-point fallback, and the map back to actions.

One sample's arithmetic is small, so interpreted code (torch's per-op dispatch, NumPy) costs more than the
work itself: building P and each active-set iteration run several times faster compiled (figures:
benchmarks/README.md). No maintained library offers this solver, so it is compiled here; LAPACK's
dpotrf does the factorizations (through numba's own binding to SciPy's LAPACK, so the compiled code can
be cached on disk). Everything is float64; callers convert.
Same conventions as box_qp (which keeps the batched torch path, the projected-Newton fallback and the
adjoint) and difference_coordinates (solver order: time-reversed, flat k * D + j).
Two implementations on purpose: box_qp serves batches, CUDA and the backward pass, this module the batch-1
latency `make bench` measures; tests/core/refine/test_solver_parity.py keeps them equal branch by branch.
"""
from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.np.linalg import _LAPACK, ensure_lapack  # numba's LAPACK binding (pinned numba; used by np.linalg.cholesky)

ensure_lapack()
_dpotrf = _LAPACK().numba_xxpotrf(types.float64)  # (kind, uplo, n, a, lda) -> info
_KIND_D, _UPLO_L = ord("d"), ord("L")
# Reassociation lets dot products vectorize; no "nnan"/"ninf": the bounds hold +-inf and are compared.
_FAST = {"reassoc", "contract", "nsz", "arcp"}

CONVERGED, NOT_CONVERGED, NOT_SPD = 1, 0, -1
POLISHED = 2  # converged from the interior-point guess (box_qp's first fallback), after the iteration failed


@njit(cache=True, fastmath=_FAST)
def solver_qp(Q, a, m0, diag):
    """P = C^T (Q + Q^T) C + diag(diag) and q = C^T (2a - (Q + Q^T) m) in solver order (difference_coordinates
    builds the same in torch). Q (n, n), a (T, D), m0 (D,) (zeros without a past action)."""
    T, D = a.shape
    n = T * D
    P = np.empty((n, n))
    run = np.empty(D)
    for k1 in range(T):  # two cumulative sums over the time axes, both reversed
        for d1 in range(D):
            i, src = k1 * D + d1, (T - 1 - k1) * D + d1
            run[:] = 0.0
            for k2 in range(T):
                for d2 in range(D):
                    j, s = k2 * D + d2, (T - 1 - k2) * D + d2
                    run[d2] += Q[src, s] + Q[s, src]
                    P[i, j] = run[d2] + P[i - D, j] if k1 else run[d2]
    for i in range(n):
        P[i, i] += diag[i]
    r = 2.0 * a.reshape(n)
    if m0.any():  # r -= (Q + Q^T) m, with m = m0 repeated over time; Q^T m by rows of Q
        m = np.empty(n)
        for i in range(n):
            m[i] = m0[i % D]
        r -= Q @ m
        for i in range(n):
            for j in range(n):
                r[j] -= Q[i, j] * m[i]
    q = np.empty(n)
    for k in range(T):
        for d in range(D):
            q[k * D + d] = r[(T - 1 - k) * D + d] + (q[(k - 1) * D + d] if k else 0.0)
    return P, q


@njit(cache=True, fastmath=_FAST)
def _forward_substitute(U, B):
    """Solve U^T X = B in place (B: (m, k) rows), U upper triangular, row-major."""
    m = U.shape[0]
    for k in range(m):
        B[k] /= U[k, k]
        for i in range(k + 1, m):
            B[i] -= U[k, i] * B[k]


@njit(cache=True, fastmath=_FAST)
def _back_substitute(U, b):
    """Solve U x = b in place, U upper triangular, row-major."""
    for i in range(b.size - 1, -1, -1):
        s = b[i]
        for k in range(i + 1, b.size):
            s -= U[i, k] * b[k]
        b[i] = s / U[i, i]


@njit(cache=True, fastmath=_FAST)
def solve(P, q, lo, hi, state, max_iter, rtol, max_ip_iter, ip_tol):
    """box_qp's solve for one sample: the primal-dual active-set iteration, and where it cycles or reaches
    max_iter, an interior-point guess of the active set (at most max_ip_iter iterations, stopping at ip_tol;
    max_ip_iter < 0: no guess) polished exactly by a few more (box_qp's first fallback).

    Entries without bounds (grippers; the first step without a past action) are eliminated first, by their
    Schur complement: every later factorization is smaller by their count (32 of 224 for two arms), which
    costs one small Cholesky and one product. Returns z (clipped to the bounds), the state of the last solve,
    iterations (every stage's), status (CONVERGED, POLISHED, NOT_CONVERGED, NOT_SPD) and the KKT residual
    relative to 1 + |q|, of the whole problem. Where the polished guess fails too, z is the interior-point
    iterate instead: the caller's projected Newton (box_qp._finish) starts there, as for a batch.
    """
    n = q.size
    g_scale = 1.0 + np.abs(q).max()
    unbounded = np.isinf(lo) & np.isinf(hi)
    u, b = np.flatnonzero(unbounded), np.flatnonzero(~unbounded)
    tol_g = np.empty(b.size)
    for r in range(b.size):
        tol_g[r] = rtol * (g_scale + abs(P[b[r], b[r]]))
    if u.size:
        Uu = np.empty((u.size, u.size))  # P_uu = Uu^T Uu
        for r in range(u.size):
            for c in range(u.size):
                Uu[r, c] = P[u[r], u[c]]
        if _dpotrf(_KIND_D, _UPLO_L, u.size, Uu.ctypes, u.size) != 0:
            return np.zeros(n), state, 0, NOT_SPD, np.inf
        Y, yq = np.empty((u.size, b.size)), q[u]  # Uu^-T P_ub, Uu^-T q_u
        for r in range(u.size):
            for c in range(b.size):
                Y[r, c] = P[u[r], b[c]]
        _forward_substitute(Uu, Y)
        _forward_substitute(Uu, yq)
        S = Y.T @ Y  # then P_bb - Y^T Y, in place
        for r in range(b.size):
            for c in range(b.size):
                S[r, c] = P[b[r], b[c]] - S[r, c]
        qb = q[b] - Y.T @ yq
    else:
        S, qb = P, q
        Uu, Y, yq = np.empty((0, 0)), np.empty((0, b.size)), np.empty(0)  # typed for numba; unused
    lo_b, hi_b = lo[b], hi[b]
    zb, sb, it, status = _active_set(S, qb, lo_b, hi_b, state[b], max_iter, tol_g, rtol)
    z_ip = zb
    if status == NOT_CONVERGED and max_ip_iter >= 0:
        z_ip, guess, ip_it, ok = _interior_point_guess(S, qb, lo_b, hi_b, max_ip_iter, ip_tol, g_scale)
        if not ok:
            return np.zeros(n), state, it + ip_it, NOT_SPD, np.inf
        zb, sb, polish_it, status = _active_set(S, qb, lo_b, hi_b, guess, 3, tol_g, rtol)
        it += ip_it + polish_it
        status = POLISHED if status == CONVERGED else status
    state = state.copy()
    if status == NOT_SPD:
        return np.zeros(n), state, it, status, np.inf
    for r in range(b.size):
        state[b[r]] = sb[r]
    z = _with_eliminated(zb, b, u, Uu, Y, yq, n) if u.size else zb.copy()
    res = 0.0
    for i in range(n):
        s = 0.0
        for j in range(n):
            s += P[i, j] * z[j]
        g = s - q[i]
        res = max(res, -g if state[i] < 0 else (g if state[i] > 0 else abs(g)))
    if status == NOT_CONVERGED and max_ip_iter >= 0:
        z = _with_eliminated(z_ip, b, u, Uu, Y, yq, n) if u.size else z_ip.copy()
    for i in range(n):  # within the bounds exactly (fixed entries are; free ones to rounding)
        z[i] = min(max(z[i], lo[i]), hi[i])
    return z, state, it, status, res / g_scale


@njit(cache=True, fastmath=_FAST)
def _with_eliminated(zb, b, u, Uu, Y, yq, n):
    """The whole z from its bounded entries zb: z_u = P_uu^-1 (q_u - P_ub z_b)."""
    z = np.zeros(n)
    for r in range(b.size):
        z[b[r]] = zb[r]
    zu = yq - Y @ zb
    _back_substitute(Uu, zu)
    for r in range(u.size):
        z[u[r]] = zu[r]
    return z


@njit(cache=True, fastmath=_FAST)
def _active_set(P, q, lo, hi, state, max_iter, tol_g, rtol):
    """The iteration: each solves on the free entries (bounds fixed at their values), then releases bounds
    whose multiplier has the wrong sign and fixes free entries past a bound. Stops when the set repeats
    (CONVERGED), returns to a set seen before (cycled) or reaches max_iter. Returns z, the state of the last
    solve, iterations and the status."""
    n = q.size
    lo_v = np.where(np.isfinite(lo), lo, 0.0)
    hi_v = np.where(np.isfinite(hi), hi, 0.0)
    tol_z = rtol * (1.0 + np.abs(lo_v) + np.abs(hi_v))
    seen = np.empty((max_iter + 1, n), np.int8)  # every state tried: a repeat means a cycle
    state = state.copy()
    seen[0] = state
    z, z_fixed, g = np.empty(n), np.empty(n), np.empty(n)
    free, fixed = np.empty(n, np.int64), np.empty(n, np.int64)
    new = np.empty(n, np.int8)
    buf, rhs = np.empty(n * n), np.empty(n)
    for it in range(1, max_iter + 1):
        m = n_fixed = 0
        for i in range(n):
            if state[i] == 0:
                free[m] = i
                m += 1
                z_fixed[i] = 0.0
            else:
                fixed[n_fixed] = i
                n_fixed += 1
                z[i] = z_fixed[i] = lo_v[i] if state[i] < 0 else hi_v[i]
        if m == n:  # nothing fixed (a cold start): P z = q
            K = buf.reshape((n, n))
            K[:] = P
            rhs[:] = q
        elif m:  # P_FF z_F = q_F - P_FA z_A
            K = buf[: m * m].reshape((m, m))
            for r in range(m):
                i = free[r]
                s = 0.0
                for j in range(n):
                    s += P[i, j] * z_fixed[j]
                rhs[r] = q[i] - s
                for c in range(m):
                    K[r, c] = P[i, free[c]]
        if m:
            if _dpotrf(_KIND_D, _UPLO_L, m, K.ctypes, m) != 0:
                return z, state, it, NOT_SPD
            _forward_substitute(K, rhs[:m])
            _back_substitute(K, rhs[:m])
            for r in range(m):
                z[free[r]] = rhs[r]
        for c in range(n_fixed):  # multipliers of the fixed entries (free ones are ~0 by construction)
            i = fixed[c]
            s = 0.0
            for j in range(n):
                s += P[i, j] * z[j]
            g[i] = s - q[i]
        changed = False
        for i in range(n):
            if state[i] < 0:
                new[i] = 0 if g[i] < -tol_g[i] else -1
            elif state[i] > 0:
                new[i] = 0 if g[i] > tol_g[i] else 1
            else:
                new[i] = 1 if z[i] > hi[i] + tol_z[i] else (-1 if z[i] < lo[i] - tol_z[i] else 0)
            changed = changed or new[i] != state[i]
        cycled = False
        for h in range(it if changed else 0):
            cycled = True
            for i in range(n):
                if seen[h, i] != new[i]:
                    cycled = False
                    break
            if cycled:
                break
        if not changed or cycled or it == max_iter:
            return z, state, it, NOT_CONVERGED if changed else CONVERGED
        seen[it] = new
        state[:] = new
    return z, state, max_iter, NOT_CONVERGED  # unreachable for max_iter >= 1


@njit(cache=True)
def actions_and_violation(z, m0, lo, hi, T, D):
    """difference_coordinates.actions() for solver-order steps z (n,): y (T, D) = cumsum over time + m0; and
    the largest bound violation of y's own steps (y[0] against m0), recomputed as an independent check."""
    y = np.empty((T, D))
    for t in range(T):
        for d in range(D):
            y[t, d] = z[(T - 1 - t) * D + d] + (y[t - 1, d] if t else m0[d])
    worst = 0.0
    for t in range(T):
        for d in range(D):
            i = (T - 1 - t) * D + d
            step = y[t, d] - (y[t - 1, d] if t else m0[d])
            worst = max(worst, lo[i] - step, step - hi[i])
    return y, worst


def warm_up() -> None:
    """Compile every kernel, or load it from numba's on-disk cache (make setup fills it), so that a
    controller's first tick does not wait for the compiler; same argument types as the layer's calls."""
    lo, hi = np.array([-np.inf, -0.1]), np.array([np.inf, 0.1])
    solve(2.0 * np.eye(2), np.ones(2), lo, hi, np.zeros(2, np.int8), 5, 1e-10, 50, 1e-8)
    solver_qp(np.eye(2), np.zeros((2, 1)), np.zeros(1), np.zeros(2))
    actions_and_violation(np.zeros(2), np.zeros(1), lo, hi, 2, 1)


@njit(cache=True, fastmath=_FAST)
def _max_step(v, dv):
    step = 1.0
    for i in range(v.size):
        if dv[i] < 0.0:
            step = min(step, -v[i] / dv[i])
    return step


@njit(cache=True, fastmath=_FAST)
def _interior_point_guess(P, q, lo, hi, max_iter, tol, scale):
    """box_qp._interior_point for one sample, compiled (same start, steps and stopping rule; its iteration
    count hardly depends on conditioning): returns its last iterate, the active-set guess (bounds whose
    multiplier exceeds their slack), iterations and False where a factorization failed. One-sided bounds
    take slack 1 and multiplier 0 on the missing side. scale: 1 + |q| of the whole problem (before the
    elimination), as box_qp's, which starts and stops relative to it."""
    n = q.size
    has_lo, has_hi = np.isfinite(lo), np.isfinite(hi)
    l0 = max(1.0, 0.01 * scale)  # as box_qp._interior_point: multipliers start near their scale
    z, s_lo, s_hi, l_lo, l_hi = np.zeros(n), np.ones(n), np.ones(n), np.zeros(n), np.zeros(n)
    for i in range(n):
        if has_lo[i] and has_hi[i]:
            z[i] = 0.5 * (lo[i] + hi[i])
        elif has_lo[i]:
            z[i] = lo[i] + 1.0
        elif has_hi[i]:
            z[i] = hi[i] - 1.0
        if has_lo[i]:
            s_lo[i], l_lo[i] = z[i] - lo[i], l0
        if has_hi[i]:
            s_hi[i], l_hi[i] = hi[i] - z[i], l0
    m = max(has_lo.sum() + has_hi.sum(), 1)
    K, r_d, r_lo, r_hi = np.empty((n, n)), np.empty(n), np.zeros(n), np.zeros(n)
    dz, ds_lo, ds_hi, dl_lo, dl_hi = np.empty(n), np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
    c_lo, c_hi = np.empty(n), np.empty(n)
    it = 0
    while it < max_iter:
        r_d[:] = P @ z - q - l_lo + l_hi
        mu = 0.0
        for i in range(n):
            if has_lo[i]:
                r_lo[i] = z[i] - lo[i] - s_lo[i]
                mu += s_lo[i] * l_lo[i]
            if has_hi[i]:
                r_hi[i] = hi[i] - z[i] - s_hi[i]
                mu += s_hi[i] * l_hi[i]
        mu /= m
        if np.abs(r_d).max() <= tol * scale and mu <= tol * scale:
            break
        it += 1
        K[:] = P
        for i in range(n):
            K[i, i] += (l_lo[i] / s_lo[i] if has_lo[i] else 0.0) + (l_hi[i] / s_hi[i] if has_hi[i] else 0.0)
        if _dpotrf(_KIND_D, _UPLO_L, n, K.ctypes, n) != 0:
            return z, np.zeros(n, np.int8), it, False
        sigma_mu = 0.0
        for corrector in range(2):  # affine predictor, then Mehrotra's corrector
            for i in range(n):
                c_lo[i] = s_lo[i] * l_lo[i] + (ds_lo[i] * dl_lo[i] - sigma_mu if corrector else 0.0)
                c_hi[i] = s_hi[i] * l_hi[i] + (ds_hi[i] * dl_hi[i] - sigma_mu if corrector else 0.0)
                dz[i] = -r_d[i]
                if has_lo[i]:
                    dz[i] += (-c_lo[i] - l_lo[i] * r_lo[i]) / s_lo[i]
                if has_hi[i]:
                    dz[i] -= (-c_hi[i] - l_hi[i] * r_hi[i]) / s_hi[i]
            _forward_substitute(K, dz)
            _back_substitute(K, dz)
            for i in range(n):
                if has_lo[i]:
                    ds_lo[i] = dz[i] + r_lo[i]
                    dl_lo[i] = (-c_lo[i] - l_lo[i] * ds_lo[i]) / s_lo[i]
                if has_hi[i]:
                    ds_hi[i] = r_hi[i] - dz[i]
                    dl_hi[i] = (-c_hi[i] - l_hi[i] * ds_hi[i]) / s_hi[i]
            a_p = min(_max_step(s_lo, ds_lo), _max_step(s_hi, ds_hi))
            a_d = min(_max_step(l_lo, dl_lo), _max_step(l_hi, dl_hi))
            if not corrector:
                mu_aff = 0.0
                for i in range(n):
                    mu_aff += (s_lo[i] + a_p * ds_lo[i]) * (l_lo[i] + a_d * dl_lo[i]) * has_lo[i]
                    mu_aff += (s_hi[i] + a_p * ds_hi[i]) * (l_hi[i] + a_d * dl_hi[i]) * has_hi[i]
                sigma_mu = (mu_aff / m / mu) ** 3 * mu
        a_p, a_d = 0.99 * a_p, 0.99 * a_d
        for i in range(n):
            z[i] += a_p * dz[i]
            if has_lo[i]:
                s_lo[i] += a_p * ds_lo[i]
                l_lo[i] += a_d * dl_lo[i]
            if has_hi[i]:
                s_hi[i] += a_p * ds_hi[i]
                l_hi[i] += a_d * dl_hi[i]
    guess = np.zeros(n, np.int8)
    for i in range(n):
        if has_lo[i] and l_lo[i] > s_lo[i]:
            guess[i] = -1
        elif has_hi[i] and l_hi[i] > s_hi[i]:
            guess[i] = 1
    return z, guess, it, True
