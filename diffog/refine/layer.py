"""DiffOGLayer: the paper's differentiable trajectory-optimization layer (sections II-C, II-D, V-D).

y* = argmin 1/2 y^T (Q + alpha S^T A^T A S) y - a^T y
     s.t. lower_j <= y[k+1, j] - y[k, j] <= upper_j  (continuous dims j, k = 0..T-2)
     and, at inference, past_lower_j <= y[0, j] - past[j] <= past_upper_j,
for chunks a (B, T, D) normalized to [-1, 1], bounds in the same normalized units. Q comes from a
transformer (Algorithm 1), is I, or is one learned matrix. Only the symmetric part of Q enters the
objective, so Q is symmetrized before solving.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import torch
from torch import nn

from .bounds import BoundLike, as_bound_vector, check_bounds
from .box_qp import BoxQPOptions, BoxQPResult, kkt_residual
from .diffog_qp import solve_diffog_qp
from .difference_coordinates import DifferenceCoordinates
from .q_networks import build_q_network
from .qpth_reference import solve_qpth, step_constraint_matrix

QPTH_MAX_ITER = 50  # above qpth's default 20, which can stop short of 1e-6 on rough chunks


@dataclasses.dataclass
class RefinementStats:
    """Per-sample solver report of the last call (tensors on the data's device, shape (B,))."""

    backend: str
    iterations: torch.Tensor  # solver iterations (active-set + fallback; qpth: its iteration cap)
    converged: torch.Tensor  # bool: KKT conditions hold to tolerance
    fallback: torch.Tensor  # bool: the active-set method cycled or hit its cap, so the fallback solves ran
    active_constraints: torch.Tensor  # inequality constraints at a bound
    max_violation: torch.Tensor  # largest constraint violation, normalized units (0 when all hold)
    kkt_residual: torch.Tensor  # largest stationarity / multiplier-sign residual, relative to 1 + |q|

    def summary(self) -> dict[str, float | int | bool | str]:
        """Batch-wide scalars (syncs with the device): for logs and RefinementStats messages."""
        return {
            "backend": self.backend,
            "iterations": int(self.iterations.max()),
            "converged": bool(self.converged.all()),
            "fallback_samples": int(self.fallback.sum()),
            "active_constraints": int(self.active_constraints.max()),
            "max_violation": float(self.max_violation.max()),
            "kkt_residual": float(self.kkt_residual.max()),
        }


class DiffOGLayer(nn.Module):
    def __init__(
        self,
        horizon: int,
        action_dim: int,
        continuous_dims: Sequence[int],
        lower: BoundLike = -0.05,
        upper: BoundLike = 0.05,
        alpha: float = 4.0,
        q_mode: str = "transformer",
        q_head: str = "full",
        solver: str = "active_set",
        solve_dtype: torch.dtype | None = torch.float64,
        solver_options: BoxQPOptions = BoxQPOptions(),
        **transformer_kwargs,
    ):
        """continuous_dims: the dims S selects (see continuous_dims_from_names); lower/upper: a float or one
        value per continuous dim, normalized units. solve_dtype: the QP's precision (None: the input's);
        transformer_kwargs: d_model, n_heads, n_layers, d_ff, dropout, rank (compact head)."""
        super().__init__()
        dims = sorted(set(int(j) for j in continuous_dims))
        if not dims or dims[0] < 0 or dims[-1] >= action_dim or len(dims) != len(continuous_dims):
            raise ValueError(f"continuous_dims must be distinct indices in [0, {action_dim}), got {list(continuous_dims)}")
        if not math.isfinite(alpha) or alpha < 0:
            raise ValueError(f"alpha (smoothing weight) must be finite and >= 0, got {alpha}")
        if solver not in ("active_set", "qpth"):
            raise ValueError(f"solver must be 'active_set' or 'qpth', got {solver!r}")
        lo, hi = as_bound_vector(lower, len(dims), "lower"), as_bound_vector(upper, len(dims), "upper")
        check_bounds(lo, hi)
        self.horizon, self.action_dim, self.continuous_dims = horizon, action_dim, dims
        self.alpha, self.solver, self.solve_dtype, self.solver_options = float(alpha), solver, solve_dtype, solver_options
        cmask = torch.zeros(action_dim, dtype=torch.bool)
        cmask[dims] = True
        self.register_buffer("cmask", cmask, persistent=False)
        self.register_buffer("lower", lo, persistent=False)
        self.register_buffer("upper", hi, persistent=False)
        self.q_net = build_q_network(q_mode, horizon, action_dim, q_head, **transformer_kwargs)
        self.q_mode = q_mode
        self.qpth_max_iter = QPTH_MAX_ITER
        self.last_stats: RefinementStats | None = None
        self._warm_state: torch.Tensor | None = None
        self._solver_state: torch.Tensor | None = None  # the last call's active set, solver order
        self._box_cache: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}
        self._coords_cache: DifferenceCoordinates | None = None
        DifferenceCoordinates(horizon, action_dim, cmask)  # validates the layout early

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        """Refine a batch of chunks (training): a (B, T, D) -> y* (B, T, D)."""
        return self.refine(self.q_net(self._check_chunk(a)), a)

    def forward_with_past_action(
        self,
        a: torch.Tensor,
        past: torch.Tensor,
        past_bound: tuple[BoundLike, BoundLike] | None = None,
        warm_start: bool = False,
        shift: int = 0,
    ) -> torch.Tensor:
        """Refine at inference, also bounding y[0] - past (past: (B, D), normalized, the last executed action).

        past_bound defaults to (lower, upper). warm_start=True starts the active-set solver from the
        previous call's active set, shifted by `shift` executed steps.
        """
        a = self._check_chunk(a)
        if past.shape != (a.shape[0], self.action_dim):
            raise ValueError(f"past must have shape {(a.shape[0], self.action_dim)}, got {tuple(past.shape)}")
        if not bool(torch.isfinite(past).all()):
            raise ValueError("past action contains NaN or inf")
        init = self._shifted_warm_state(a.shape[0], shift) if warm_start else None
        y = self.refine(self.q_net(a), a, past, past_bound, init)
        if warm_start:
            self._warm_state = self._last_state
        return y

    @property
    def _last_state(self) -> torch.Tensor | None:
        """The last call's active set (B, T, D), natural order: what warm_start reuses."""
        return None if self._solver_state is None else self._coords(self.cmask.device).from_solver(self._solver_state)

    def reset_warm_start(self) -> None:
        self._warm_state = None

    def refine(
        self,
        Q: torch.Tensor,
        a: torch.Tensor,
        past: torch.Tensor | None = None,
        past_bound: tuple[BoundLike, BoundLike] | None = None,
        init_state: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Solve the QP for a given Q (B, n, n) and chunk a (B, T, D); sets last_stats.

        init_state: a (B, T, D) int8 active-set guess (-1 lower, +1 upper, 0 free) for the active-set solver.
        """
        B, T, D = a.shape
        dtype = self.solve_dtype or a.dtype
        coords = self._coords(self.cmask.device)
        Q, a_s = Q.to(dtype), a.to(dtype)
        past = None if past is None else past.to(dtype)
        lo, hi = self._box(coords, B, dtype, past is not None, past_bound)
        if self.solver == "active_set":
            init = None if init_state is None else coords.to_solver(init_state)
            y, res = solve_diffog_qp(Q, a_s, past, lo, hi, init, coords, self.alpha, self.solver_options)
            self._solver_state = res.state
        else:
            m0 = coords.offset(past, a_s)
            y = self._solve_qpth(Q, a_s, coords.from_solver(lo), coords.from_solver(hi), m0)
            res = self._certify(Q.detach(), a_s.detach(), y.detach(), m0, lo, hi, coords)
            self._solver_state = None
        out = y.to(a.dtype)
        # the stats describe what is returned: its own steps in the returned dtype, and a non-finite result
        # (NaN weights in the Q network, say) is never reported as converged
        z = coords.steps(out.detach().to(dtype), coords.offset(past, a_s))
        self.last_stats = self._stats(res, z, torch.isfinite(out.detach()).flatten(1).all(-1), lo, hi)
        return out

    # -- helpers -------------------------------------------------------------------------------------

    def _check_chunk(self, a: torch.Tensor) -> torch.Tensor:
        if a.ndim != 3 or a.shape[1:] != (self.horizon, self.action_dim):
            raise ValueError(f"action chunk must have shape (B, {self.horizon}, {self.action_dim}), got {tuple(a.shape)}")
        if a.shape[0] == 0:
            raise ValueError("action chunk batch is empty")
        if not bool(torch.isfinite(a).all()):
            raise ValueError("action chunk contains NaN or inf")
        return a

    def _coords(self, device: torch.device) -> DifferenceCoordinates:
        if self._coords_cache is None or self._coords_cache.cmask.device != device:
            self._coords_cache = DifferenceCoordinates(self.horizon, self.action_dim, self.cmask)
        return self._coords_cache

    def _box(self, coords, batch, dtype, with_past, past_bound) -> tuple[torch.Tensor, torch.Tensor]:
        """Solver-order bounds; the default ones are cached per (batch, dtype, device, past or not)."""
        lower, upper = self.lower.to(dtype), self.upper.to(dtype)
        if with_past and past_bound is not None:
            return coords.box(lower, upper, batch, self._past_bound(past_bound, dtype))
        key = (batch, dtype, lower.device, with_past)
        if key not in self._box_cache:
            self._box_cache[key] = coords.box(lower, upper, batch, (lower, upper) if with_past else None)
        return self._box_cache[key]

    def _past_bound(self, past_bound, dtype) -> tuple[torch.Tensor, torch.Tensor]:
        n = len(self.continuous_dims)
        lo = as_bound_vector(past_bound[0], n, "past_bound lower")
        hi = as_bound_vector(past_bound[1], n, "past_bound upper")
        check_bounds(lo, hi, "past_bound")
        return lo.to(dtype=dtype, device=self.lower.device), hi.to(dtype=dtype, device=self.lower.device)

    def _shifted_warm_state(self, batch: int, shift: int) -> torch.Tensor | None:
        s = self._warm_state
        if s is None or s.shape[0] != batch or not 0 <= shift < self.horizon or self.solver != "active_set":
            return None
        return torch.cat([s[:, shift:], s[:, -1:].expand(-1, shift, -1)], 1)

    def _solve_qpth(self, Q, a, lo, hi, m0) -> torch.Tensor:
        """The same QP in action coordinates through qpth; lo/hi are the (B, T, D) bounds on the steps."""
        B, T, D = a.shape
        cm, with_past = self.cmask, m0 is not None
        G = step_constraint_matrix(T, D, self.continuous_dims, with_past).to(Q.device)
        steps = G[: (T - 1) * len(self.continuous_dims)]
        H = 0.5 * (Q + Q.mT) + self.alpha * (steps.mT @ steps).to(Q.dtype)
        # Row order of G: steps k = 1..T-1 (continuous dims), then the first action.
        row_lo, row_hi = lo[:, 1:, cm].reshape(B, -1), hi[:, 1:, cm].reshape(B, -1)
        if with_past:
            row_lo = torch.cat([row_lo, lo[:, 0, cm] + m0[:, 0, cm]], 1)
            row_hi = torch.cat([row_hi, hi[:, 0, cm] + m0[:, 0, cm]], 1)
        y = solve_qpth(H, a.reshape(B, -1), torch.cat([G, -G]), torch.cat([row_hi, -row_lo], 1), self.qpth_max_iter)
        return y.to(Q.dtype).reshape(B, T, D)

    def _certify(self, Q, a, y, m0, lo, hi, coords) -> BoxQPResult:
        """KKT check of a solution found elsewhere (qpth), in the same box-QP coordinates."""
        with torch.no_grad():
            P, q = coords.hessian(Q, self.alpha), coords.linear(Q, a, m0)
            z = coords.steps(y, m0)
            tol = 1e-9 * (1 + torch.where(torch.isfinite(lo), lo.abs(), 0) + torch.where(torch.isfinite(hi), hi.abs(), 0))
            state = torch.where(z <= lo + tol, -1, torch.where(z >= hi - tol, 1, 0)).to(torch.int8)
            g = (P @ z.unsqueeze(-1)).squeeze(-1) - q
            kkt = kkt_residual(g, state, 1.0 + q.abs().amax(-1, keepdim=True))
        iters = torch.full((y.shape[0],), self.qpth_max_iter, dtype=torch.int32, device=y.device)
        return BoxQPResult(z, state, iters, torch.zeros_like(kkt, dtype=torch.bool), kkt <= 1e-6, kkt)

    def _stats(self, res: BoxQPResult, z: torch.Tensor, finite: torch.Tensor, lo: torch.Tensor,
               hi: torch.Tensor) -> RefinementStats:
        """z: the steps of the returned actions (solver order), checked against the bounds independently of
        the solver; finite: (B,) whether each returned chunk is finite."""
        violation = torch.maximum((lo - z).clamp(min=0), (z - hi).clamp(min=0)).amax(-1)
        violation = torch.where(finite, violation, torch.full_like(violation, float("inf")))
        return RefinementStats(
            backend=self.solver,
            iterations=res.iterations,
            converged=res.converged & finite,
            fallback=res.fallback,
            active_constraints=(res.state != 0).sum(-1),
            max_violation=violation,
            kkt_residual=res.kkt_residual,
        )
