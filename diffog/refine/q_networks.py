"""Ways to produce DiffOG's SPD weight Q (B, n, n), n = T * D, from an action chunk (B, T, D).

"transformer": the paper's Algorithm 1 on a transformer encoder (Table IX) with either the paper's head
  ("full": a Linear from the pooled embedding to all n^2 entries of L; 257 n^2 parameters, 12.9 M at
  16 x 14, 126 M at 50 x 14) or a "compact" head that emits only what an SPD factor needs per action:
  each time step's token gives its D rows of L = [diag(s) | V] (a positive diagonal and a rank-r
  factor), so Q = diag(s)^2 + V V^T + eps I and the head has d_model * D * (1 + r) weights, whatever T.
"identity": Q = I (static). "learned": one learned L through Algorithm 1 ("matrix learning").
"""
from __future__ import annotations

import torch
from torch import nn

EPS = 1e-4  # Algorithm 1's epsilon
CLAMP = 10.0  # Algorithm 1's clamp range [-10, 10]


def spd_from_raw_factor(raw: torch.Tensor) -> torch.Tensor:
    """Algorithm 1 steps 3-7: exp()+eps on the diagonal, clamp, tril, L L^T + eps I, symmetrize."""
    n = raw.shape[-1]
    eye = torch.eye(n, dtype=torch.bool, device=raw.device)
    L = torch.where(eye, raw.exp() + EPS, raw).clamp(-CLAMP, CLAMP).tril()
    Q = L @ L.mT + EPS * torch.eye(n, dtype=raw.dtype, device=raw.device)
    return 0.5 * (Q + Q.mT)


class ChunkEncoder(nn.Module):
    """Per-step linear embedding and a transformer encoder over the chunk's time steps (batch-first)."""

    def __init__(self, action_dim: int, d_model: int, n_heads: int, n_layers: int, d_ff: int, dropout: float):
        super().__init__()
        self.input_proj = nn.Linear(action_dim, d_model)
        layer = nn.TransformerEncoderLayer(d_model, n_heads, d_ff, dropout, batch_first=True)
        self.transformer = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        return self.transformer(self.input_proj(a))  # (B, T, d_model)


class TransformerQ(nn.Module):
    """Q from a transformer encoding of the chunk (paper Algorithm 1, Table IX defaults)."""

    def __init__(
        self,
        horizon: int,
        action_dim: int,
        head: str = "full",
        d_model: int = 256,
        n_heads: int = 4,
        n_layers: int = 2,
        d_ff: int = 256,
        dropout: float = 0.1,
        rank: int = 32,
    ):
        super().__init__()
        if head not in ("full", "compact"):
            raise ValueError(f"q_head must be 'full' or 'compact', got {head!r}")
        self.T, self.D, self.n, self.head, self.rank = horizon, action_dim, horizon * action_dim, head, rank
        self.encoder = ChunkEncoder(action_dim, d_model, n_heads, n_layers, d_ff, dropout)
        self.norm = nn.LayerNorm(d_model)
        out = self.n * self.n if head == "full" else action_dim * (1 + rank)
        self.to_factor = nn.Linear(d_model, out)

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        tokens = self.encoder(a)
        B = a.shape[0]
        if self.head == "full":
            return spd_from_raw_factor(self.to_factor(self.norm(tokens.mean(1))).view(B, self.n, self.n))
        rows = self.to_factor(self.norm(tokens)).view(B, self.n, 1 + self.rank)
        s = (rows[..., 0].exp() + EPS).clamp(max=CLAMP)
        V = rows[..., 1:].clamp(-CLAMP, CLAMP)
        Q = V @ V.mT + torch.diag_embed(s * s + EPS)
        return 0.5 * (Q + Q.mT)


class IdentityQ(nn.Module):
    """Static Q = I: DiffOG without learning, a smoothing projection onto the constraints."""

    def __init__(self, horizon: int, action_dim: int):
        super().__init__()
        self.n = horizon * action_dim

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        return torch.eye(self.n, dtype=a.dtype, device=a.device).expand(a.shape[0], -1, -1)


class LearnedQ(nn.Module):
    """One learned Q shared by all chunks; the raw factor starts at 0, i.e. Q = (1 + eps)^2 I + eps I."""

    def __init__(self, horizon: int, action_dim: int):
        super().__init__()
        self.raw = nn.Parameter(torch.zeros(horizon * action_dim, horizon * action_dim))

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        return spd_from_raw_factor(self.raw.to(a.dtype)).expand(a.shape[0], -1, -1)


def build_q_network(q_mode: str, horizon: int, action_dim: int, q_head: str = "full", **transformer_kwargs) -> nn.Module:
    if q_mode == "transformer":
        return TransformerQ(horizon, action_dim, head=q_head, **transformer_kwargs)
    if q_mode == "identity":
        return IdentityQ(horizon, action_dim)
    if q_mode == "learned":
        return LearnedQ(horizon, action_dim)
    raise ValueError(f"q_mode must be 'transformer', 'identity' or 'learned', got {q_mode!r}")


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
