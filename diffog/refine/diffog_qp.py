"""The DiffOG QP as one autograd function: forward by the active-set solver, backward in closed form.

With S = Q + Q^T, the solver sees P = C^T S C + 2 alpha E and q = C^T (2a - S m0) (see
difference_coordinates). Given dL/dy = v and the adjoint w (free part of K^-1 C^T v on the final active
set), with u = C w and y = C z + m0 the chain rule collapses to
    dL/dQ = -(u y^T + y u^T),   dL/da = 2 u,   dL/dm0 = v - S u,
so the backward pass is one triangular solve with the saved factor and one rank-2 outer product; no
O(n^2) intermediate of the forward is kept or differentiated.
"""
from __future__ import annotations

import torch

from . import host_kernels
from .box_qp import BoxQPOptions, BoxQPResult, adjoint, solve, solve_one_on_host
from .difference_coordinates import DifferenceCoordinates


def _forward(Q, a, past, lo, hi, init_state, coords: DifferenceCoordinates, alpha: float, options: BoxQPOptions, keep_factor: bool):
    m0 = coords.offset(past, a)
    res, factor = solve(coords.hessian(Q, alpha), coords.linear(Q, a, m0), lo, hi, init_state, options, keep_factor)
    return coords.actions(res.z, m0), res, factor


def _forward_on_host(Q, a, past, lo, hi, init_state, coords: DifferenceCoordinates, alpha: float, options: BoxQPOptions):
    """Batch-1 inference: built, solved and mapped back by the compiled host kernels (whatever the device: a
    GPU would only wait on kernel launches), in float64; results return to a's device and dtype."""
    m0 = coords.host_offset(past)
    lo_h, hi_h = (b[0].detach().cpu().double().numpy() for b in (lo, hi))
    P, q = coords.host_qp(Q, a, m0, alpha)
    z, res = solve_one_on_host(P, q, lo_h, hi_h, init_state, options, a.dtype)
    y, violation = host_kernels.actions_and_violation(z, m0, lo_h, hi_h, coords.T, coords.D)
    fields = {k: v.to(a.device, a.dtype) if v.is_floating_point() else v.to(a.device) for k, v in vars(res).items() if v is not None}
    res = BoxQPResult(**fields, z=None, max_violation=torch.tensor([violation], dtype=a.dtype, device=a.device))
    return torch.from_numpy(y).to(a.device, a.dtype).unsqueeze(0), res


class DiffOGQP(torch.autograd.Function):
    @staticmethod
    def forward(ctx, Q, a, past, lo, hi, init_state, coords: DifferenceCoordinates, alpha: float, options: BoxQPOptions):
        y, res, (L, perm) = _forward(Q, a, past, lo, hi, init_state, coords, alpha, options, any(ctx.needs_input_grad[:3]))
        ctx.coords = coords
        ctx.save_for_backward(Q, y, L, perm, res.state)
        ctx.mark_non_differentiable(res.state, res.iterations, res.fallback, res.converged, res.kkt_residual)
        return y, res.state, res.iterations, res.fallback, res.converged, res.kkt_residual

    @staticmethod
    def backward(ctx, grad_y, *_):
        Q, y, L, perm, state = ctx.saved_tensors
        coords = ctx.coords
        B = y.shape[0]
        w = adjoint(L, perm, state, coords.apply_ct(grad_y))
        u = coords.from_solver(w).cumsum(1)  # C w, natural order (B, T, D)
        uf, yf = u.reshape(B, -1, 1), y.reshape(B, -1, 1)
        grad_Q = torch.cat([uf, yf], -1) @ torch.cat([-yf, -uf], -1).mT if ctx.needs_input_grad[0] else None
        grad_a = 2.0 * u if ctx.needs_input_grad[1] else None
        grad_past = None
        if ctx.needs_input_grad[2]:
            grad_m0 = grad_y - ((Q @ uf) + (Q.mT @ uf)).view_as(u)
            grad_past = torch.where(coords.cmask, grad_m0.sum(1), torch.zeros_like(grad_m0[:, 0]))
        return grad_Q, grad_a, grad_past, None, None, None, None, None, None


def solve_diffog_qp(
    Q: torch.Tensor,
    a: torch.Tensor,
    past: torch.Tensor | None,
    lo: torch.Tensor,
    hi: torch.Tensor,
    init_state: torch.Tensor | None,
    coords: DifferenceCoordinates,
    alpha: float,
    options: BoxQPOptions,
) -> tuple[torch.Tensor, BoxQPResult]:
    """y* (B, T, D) and the solver's report (state in solver order)."""
    if not (torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in (Q, a, past))):  # inference
        if a.shape[0] == 1:
            return _forward_on_host(Q, a, past, lo, hi, init_state, coords, alpha, options)
        y, res, _ = _forward(Q, a, past, lo, hi, init_state, coords, alpha, options, keep_factor=False)
        return y, res
    y, state, iters, fallback, converged, kkt = DiffOGQP.apply(Q, a, past, lo, hi, init_state, coords, alpha, options)
    return y, BoxQPResult(None, state, iters, fallback, converged, kkt)
