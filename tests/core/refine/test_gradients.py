"""Exact gradients: gradcheck in float64 through the QP and the transformer's parameters; agreement with qpth."""
import pytest
import torch
from refine_reference import random_spd

from diffog.refine import DiffOGLayer

T, D, CONT = 4, 3, [0, 1]  # dim 2 plays the gripper


def tiny_layer(q_mode="transformer", **kw):
    torch.manual_seed(0)
    kw = dict(d_model=8, n_heads=2, n_layers=1, d_ff=8, dropout=0.0, **kw) if q_mode == "transformer" else kw
    return DiffOGLayer(T, D, CONT, -0.1, 0.1, alpha=1.0, q_mode=q_mode, **kw).double().eval()


def chunk(B=2, seed=1):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(B, T, D, generator=g, dtype=torch.float64) * 0.15).cumsum(1)


@pytest.mark.parametrize("head", ["full", "compact"])
def test_gradcheck_through_transformer_parameters(head):
    layer = tiny_layer(q_head=head, rank=3)
    a = chunk()
    past = a[:, 0] + 0.05
    with torch.no_grad():
        layer.forward_with_past_action(a, past)
    active = layer.last_stats.active_constraints
    assert 0 < int(active.sum()) and bool((active < T * D).all()), "want some but not all bounds active"
    named = dict(layer.q_net.named_parameters())
    names = ["encoder.input_proj.weight", "encoder.transformer.layers.0.linear1.weight", "to_factor.bias"]

    def f(*params):
        Q = torch.func.functional_call(layer.q_net, {**named, **dict(zip(names, params))}, (a,))
        return layer.refine(Q, a, past)

    params = [named[n].detach().clone().requires_grad_() for n in names]
    assert torch.autograd.gradcheck(f, params, eps=1e-6, atol=1e-6, rtol=1e-4, fast_mode=True)


def test_gradcheck_wrt_q_actions_and_past():
    layer = tiny_layer("identity")
    a = chunk(seed=2).requires_grad_()
    past = (a.detach()[:, 0] - 0.12).requires_grad_()
    Q = random_spd(2, T * D, cond=20, seed=3).requires_grad_()
    with torch.no_grad():
        layer.refine(Q, a, past)
    assert bool((layer.last_stats.active_constraints > 0).all())
    assert torch.autograd.gradcheck(lambda a, p: layer.refine(Q, a, p), (a, past), eps=1e-6, atol=1e-7)
    assert torch.autograd.gradcheck(lambda Q, a, p: layer.refine(Q, a, p), (Q, a, past), eps=1e-6, atol=1e-7, fast_mode=True)
    assert torch.autograd.gradcheck(lambda Q, a: layer.refine(Q, a), (Q, a), eps=1e-6, atol=1e-7, fast_mode=True)


def test_learned_q_gradcheck():
    layer = tiny_layer("learned")
    with torch.no_grad():
        layer.q_net.raw.normal_(0, 0.3, generator=torch.Generator().manual_seed(4))
    a = chunk(seed=5)
    raw = layer.q_net.raw

    def f(r):
        return torch.func.functional_call(layer, {"q_net.raw": r}, (a,))

    assert torch.autograd.gradcheck(f, (raw.detach().clone().requires_grad_(),), eps=1e-6, atol=1e-6, fast_mode=True)


def test_gradient_agrees_with_qpth_backward():
    a = chunk(B=3, seed=6)
    Q = random_spd(3, T * D, cond=10, seed=7)
    w = torch.randn(3, T, D, generator=torch.Generator().manual_seed(8), dtype=torch.float64)
    grads = {}
    for solver in ("active_set", "qpth"):
        layer = tiny_layer("identity", solver=solver)
        Qg, ag = Q.clone().requires_grad_(), a.clone().requires_grad_()
        (layer.refine(Qg, ag, a[:, 0] + 0.15) * w).sum().backward()
        grads[solver] = (Qg.grad, ag.grad)
    for fast, ref in zip(grads["active_set"], grads["qpth"]):
        torch.testing.assert_close(fast, ref, atol=1e-5, rtol=1e-4)
