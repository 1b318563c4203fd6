"""Independent reference for the DiffOG QP: quadprog (Goldfarb-Idnani dual active set) in action coordinates."""
import numpy as np
import quadprog
import torch


def solve_reference(Q, a, continuous_dims, lower, upper, alpha, past=None, past_bound=None) -> np.ndarray:
    """y* for each sample: min 1/2 y^T (sym(Q) + alpha S^T A^T A S) y - a^T y s.t. the step (and past) bounds."""
    B, T, D = a.shape
    n = T * D
    lower = np.broadcast_to(np.asarray(lower, dtype=np.float64), (len(continuous_dims),))
    upper = np.broadcast_to(np.asarray(upper, dtype=np.float64), (len(continuous_dims),))
    rows, lo, hi = [], [], []
    for k in range(T - 1):
        for c, j in enumerate(continuous_dims):
            r = np.zeros(n)
            r[(k + 1) * D + j], r[k * D + j] = 1.0, -1.0
            rows.append(r), lo.append(lower[c]), hi.append(upper[c])
    A = np.array(rows)
    smooth = alpha * A.T @ A
    out = np.empty((B, T, D))
    for b in range(B):
        H = 0.5 * (Q[b] + Q[b].T).double().numpy() + smooth
        G, l, h = A, np.array(lo), np.array(hi)
        if past is not None:
            pl, ph = past_bound if past_bound is not None else (lower, upper)
            pl = np.broadcast_to(np.asarray(pl, dtype=np.float64), (len(continuous_dims),))
            ph = np.broadcast_to(np.asarray(ph, dtype=np.float64), (len(continuous_dims),))
            P0 = np.zeros((len(continuous_dims), n))
            p = past[b].double().numpy()
            for c, j in enumerate(continuous_dims):
                P0[c, j] = 1.0
            G = np.vstack([A, P0])
            l = np.concatenate([l, pl + p[continuous_dims]])
            h = np.concatenate([h, ph + p[continuous_dims]])
        C = np.vstack([G, -G]).T  # quadprog: C^T y >= b
        y = quadprog.solve_qp(H, a[b].double().numpy().reshape(-1), C, np.concatenate([l, -h]))[0]
        out[b] = y.reshape(T, D)
    return out


def random_spd(B: int, n: int, cond: float = 1e3, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    X = torch.linalg.qr(torch.randn(B, n, n, generator=g, dtype=torch.float64))[0]
    eig = torch.logspace(0, np.log10(cond), n, dtype=torch.float64).expand(B, -1) / cond**0.5
    return X @ torch.diag_embed(eig) @ X.mT
