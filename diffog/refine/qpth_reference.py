"""Reference backend: the paper's solver, qpth, on the QP in action coordinates, in float64.

qpth's batched LU is wrong on CPU with more than one thread for matrices wider than ~150 (pytorch issue
142815), so forward and backward run single-threaded on CPU. qpth stops silently after maxIter; the
caller checks the KKT residual of what it returns.
"""
from __future__ import annotations

import contextlib

import torch


@contextlib.contextmanager
def single_thread(device: torch.device):
    """torch.set_num_threads(1) for the block when on CPU (a no-op on CUDA)."""
    if device.type != "cpu":
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def step_constraint_matrix(horizon: int, action_dim: int, continuous_dims: list[int], with_past: bool) -> torch.Tensor:
    """Rows G_r y = y[k+1, j] - y[k, j] (k = 0..T-2, j continuous), then y[0, j] if with_past; float64."""
    n, rows = horizon * action_dim, []
    for k in range(horizon - 1):
        for j in continuous_dims:
            r = torch.zeros(n, dtype=torch.float64)
            r[(k + 1) * action_dim + j], r[k * action_dim + j] = 1.0, -1.0
            rows.append(r)
    if with_past:
        for j in continuous_dims:
            r = torch.zeros(n, dtype=torch.float64)
            r[j] = 1.0
            rows.append(r)
    return torch.stack(rows)


class _SingleThreadQP(torch.autograd.Function):
    """Runs qpth's forward and backward under single_thread (the backward LU needs it too)."""

    @staticmethod
    def forward(ctx, H, p, G, h, max_iter):
        from qpth.qp import QPFunction  # imported here: qpth pulls in cvxpy, slow to import; the fast path needs neither

        with single_thread(H.device), torch.enable_grad():
            ins = [t.detach().requires_grad_(t.requires_grad) for t in (H, p, h)]
            empty = torch.empty(0, dtype=H.dtype, device=H.device)
            out = QPFunction(verbose=-1, maxIter=max_iter)(ins[0], ins[1], G, ins[2], empty, empty)
        ctx.ins, ctx.out = ins, out
        return out.detach()

    @staticmethod
    def backward(ctx, grad_out):
        need = [t for t in ctx.ins if t.requires_grad]
        with single_thread(grad_out.device):
            grads = iter(torch.autograd.grad(ctx.out, need, grad_out) if need else ())
        gH, gp, gh = (next(grads) if t.requires_grad else None for t in ctx.ins)
        return gH, gp, None, gh, None


def solve_qpth(
    H: torch.Tensor, a: torch.Tensor, G: torch.Tensor, h: torch.Tensor, max_iter: int = 50
) -> torch.Tensor:
    """argmin 1/2 y^T H y - a^T y s.t. G y <= h, batched (B, n); float64 throughout."""
    d = torch.float64
    return _SingleThreadQP.apply(H.to(d), -a.to(d), G.to(d), h.to(d), max_iter)
