"""The change of variables that turns DiffOG's step constraints into simple bounds.

Actions y (B, T, D) are ordered time-major (flat index k * D + j). The new coordinates are the steps
z[0] = y[0] - m0 and z[k] = y[k] - y[k-1] (k >= 1), with m0 the past action on continuous dims (0
elsewhere and when there is none), i.e. y = C z + m0 with C a cumulative sum over time. C is invertible,
so this is only a change of variables; every step constraint, the past-action one included, becomes a
bound on one z entry (gripper dims simply have no bounds), and the smoothing term alpha * ||A S y||^2
becomes alpha * sum of the squared bounded steps, a diagonal.

The box QP handed to the solver is 2x the objective (same minimizer, no 1/2 pass over Q) with time
reversed: P = C^T (Q + Q^T) C = J [C' (J (Q + Q^T) J) C'^T] J for the time reversal J, so the solver works
on the bracket, which is one flip and two forward cumulative sums over Q: O(n^2), not O(n^3).
"""
from __future__ import annotations

import numpy as np
import torch

from . import host_kernels


class DifferenceCoordinates:
    """Builds the box QP (P, q, lo, hi), flat in solver order, and maps its solution back to actions."""

    def __init__(self, horizon: int, action_dim: int, continuous_mask: torch.Tensor):
        if horizon < 2:
            raise ValueError(f"horizon must be >= 2 to have steps to constrain, got {horizon}")
        if continuous_mask.shape != (action_dim,) or continuous_mask.dtype != torch.bool:
            raise ValueError(f"continuous_mask must be a bool tensor of shape ({action_dim},)")
        self.T, self.D, self.n = horizon, action_dim, horizon * action_dim
        self.cmask = continuous_mask
        self._cmask_host = continuous_mask.cpu().numpy()
        self._diagonals: dict[tuple, torch.Tensor] = {}

    def offset(self, past: torch.Tensor | None, like: torch.Tensor) -> torch.Tensor | None:
        """m0 (B, 1, D): the past action on continuous dims (None without a past action)."""
        if past is None:
            return None
        return torch.where(self.cmask, past, torch.zeros_like(past)).unsqueeze(1).to(like.dtype)

    def host_offset(self, past: torch.Tensor | None) -> np.ndarray:
        """offset() of one sample as a float64 NumPy row (D,), for host_qp."""
        if past is None:
            return np.zeros(self.D)
        return np.where(self._cmask_host, past[0].detach().cpu().double().numpy(), 0.0)

    def hessian(self, Q: torch.Tensor, alpha: float) -> torch.Tensor:
        """Solver-order P (B, n, n) = 2 * (C^T sym(Q) C + alpha * diag(bounded steps))."""
        B, T, D = Q.shape[0], self.T, self.D
        S = (Q + Q.mT).view(B, T, D, T, D).flip((1, 3))
        P = S.cumsum(3).cumsum(1).reshape(B, self.n, self.n)
        if alpha:
            P.diagonal(dim1=-2, dim2=-1).add_(self._smoothing_diagonal(2.0 * alpha, P.dtype, P.device))
        return P

    def host_qp(self, Q: torch.Tensor, a: torch.Tensor, m0: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
        """hessian() and linear() of one sample (batch 1) as float64 NumPy arrays, built by the compiled host
        kernel; m0 (D,) is offset()'s row (zeros without a past action)."""
        host = [np.ascontiguousarray(t[0].detach().cpu().double().numpy()) for t in (Q, a)]
        diag = self._smoothing_diagonal(2.0 * alpha, torch.float64, torch.device("cpu")).numpy()
        return host_kernels.solver_qp(*host, m0, diag)

    def _smoothing_diagonal(self, weight: float, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        """weight on the bounded steps (k >= 1, continuous dims), solver order; cached."""
        key = (weight, dtype, device)
        if key not in self._diagonals:
            mask = torch.zeros(self.T, self.D, dtype=dtype, device=device)
            mask[1:, self.cmask.to(device)] = weight
            self._diagonals[key] = mask.flip(0).reshape(self.n)
        return self._diagonals[key]

    def linear(self, Q: torch.Tensor, a: torch.Tensor, m0: torch.Tensor | None) -> torch.Tensor:
        """Solver-order q (B, n) = 2 * C^T (a - sym(Q) m0)."""
        r = 2.0 * a
        if m0 is not None:
            m = m0.expand_as(a).reshape(a.shape[0], self.n, 1)
            r = r - ((Q @ m) + (Q.mT @ m)).view_as(a)
        return self.apply_ct(r)

    def apply_ct(self, v: torch.Tensor) -> torch.Tensor:
        """C^T v in solver order (B, n) for v (B, T, D) in natural order."""
        return v.flip(1).cumsum(1).reshape(v.shape[0], self.n)

    def box(
        self,
        lower: torch.Tensor,
        upper: torch.Tensor,
        batch: int,
        past_bound: tuple[torch.Tensor, torch.Tensor] | None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Solver-order bounds lo, hi (B, n) on z; +-inf where a z entry is free."""
        lo = torch.full((self.T, self.D), -torch.inf, dtype=lower.dtype, device=lower.device)
        hi = torch.full_like(lo, torch.inf)
        lo[1:, self.cmask], hi[1:, self.cmask] = lower, upper
        if past_bound is not None:
            lo[0, self.cmask], hi[0, self.cmask] = past_bound
        return tuple(self.to_solver(b.expand(batch, -1, -1)) for b in (lo, hi))

    def to_solver(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, D) natural order -> (B, n) solver order (time reversed)."""
        return x.flip(1).reshape(x.shape[0], self.n)

    def from_solver(self, x: torch.Tensor) -> torch.Tensor:
        """(B, n) solver order -> (B, T, D) natural order."""
        return x.view(x.shape[0], self.T, self.D).flip(1)

    def actions(self, z: torch.Tensor, m0: torch.Tensor | None) -> torch.Tensor:
        """y (B, T, D) from solver-order steps z (B, n)."""
        y = self.from_solver(z).cumsum(1)
        return y if m0 is None else y + m0

    def steps(self, y: torch.Tensor, m0: torch.Tensor | None) -> torch.Tensor:
        """Solver-order z (B, n) of actions y: the inverse of actions()."""
        first = torch.zeros_like(y[:, :1]) if m0 is None else m0
        return self.to_solver(y - torch.cat([first, y[:, :-1]], 1))
