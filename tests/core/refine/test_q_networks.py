"""Q constructions: always SPD, the paper's head size, and a compact head that does not grow with T^2."""
import pytest
import torch

from diffog.refine import DiffOGLayer, count_parameters
from diffog.refine.q_networks import IdentityQ, LearnedQ, TransformerQ, spd_from_raw_factor


@pytest.mark.parametrize(
    "make",
    [
        lambda: TransformerQ(5, 3, head="full", d_model=16, n_heads=2, d_ff=16),
        lambda: TransformerQ(5, 3, head="compact", d_model=16, n_heads=2, d_ff=16, rank=4),
        lambda: LearnedQ(5, 3),
        lambda: IdentityQ(5, 3),
    ],
)
def test_every_q_is_symmetric_positive_definite(make):
    torch.manual_seed(0)
    net = make().double()
    with torch.no_grad():
        for p in net.parameters():
            p.normal_(0, 3.0)  # large weights: the clamp and eps must still keep Q SPD
        Q = net(torch.randn(4, 5, 3, dtype=torch.float64) * 5)
    assert Q.shape == (4, 15, 15)
    torch.testing.assert_close(Q, Q.mT, atol=0, rtol=0)
    assert float(torch.linalg.eigvalsh(Q).min()) > 0


def test_algorithm_1_steps():
    raw = torch.tensor([[0.0, 5.0], [20.0, -30.0]], dtype=torch.float64)
    L = torch.tensor([[1.0 + 1e-4, 0.0], [10.0, torch.exp(torch.tensor(-30.0)).item() + 1e-4]], dtype=torch.float64)
    torch.testing.assert_close(spd_from_raw_factor(raw), L @ L.T + 1e-4 * torch.eye(2, dtype=torch.float64))


def test_paper_head_size_and_compact_head_that_scales():
    full = TransformerQ(16, 14, head="full")
    assert count_parameters(full.to_factor) == 257 * 224**2  # 12.9 M: the paper's n^2-wide head
    compact16 = TransformerQ(16, 14, head="compact", rank=32)
    compact50 = TransformerQ(50, 14, head="compact", rank=32)
    assert count_parameters(compact16) == count_parameters(compact50) < 1_000_000
    assert count_parameters(compact16.to_factor) == 257 * 14 * 33
    # Table IX encoder: 2 layers, 4 heads, d_model 256, feed-forward 256, dropout 0.1
    layer = full.encoder.transformer.layers[0]
    assert len(full.encoder.transformer.layers) == 2 and layer.self_attn.num_heads == 4
    assert layer.linear1.out_features == 256 and layer.dropout.p == 0.1


def test_compact_head_trains_end_to_end():
    torch.manual_seed(0)
    layer = DiffOGLayer(6, 3, [0, 1], -0.1, 0.1, q_mode="transformer", q_head="compact", d_model=16, n_heads=2, d_ff=16, rank=4)
    a = (0.08 * torch.randn(16, 6, 3)).cumsum(1)
    opt = torch.optim.Adam(layer.parameters(), lr=1e-2)
    losses = []
    for _ in range(20):
        loss = (layer(a) - a).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0]  # the floor is set by the bounds and smoothing
