"""`make bench`: the DiffOG refinement layer's fast backend against qpth (as the paper's code calls it) in the
same process.

Both solve the same problems in float64 on one CPU thread (or on CUDA with --device cuda). Each time is
the best of a few repeats (robust on a shared machine), then the median over problems. Q comes from the
paper's transformer head (Table IX, PyTorch's default init, which gives a badly conditioned Q: the hard case for an active-set method) or is Q = I + a small random SPD term
("near-identity", what a trained DiffOG tends to produce since it learns y* close to a).
Chunks are smooth random walks in [-1, 1] whose steps (std 0.03) sometimes break the 0.05 bound.
Batch-1 lines also time the torch solver on the same problem (what inference would run without the compiled
host kernels), the measurement behind keeping both implementations (tests/core/refine/test_solver_parity.py).
Past figures: benchmarks/README.md.
"""
from __future__ import annotations

import os

# One CPU thread for every library, as torch.set_num_threads(1) gives torch: the batch-1 kernel calls
# SciPy's OpenBLAS, which must be told before it loads (two threads made its Cholesky slower here).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import torch  # noqa: E402

from diffog.refine.diffog_qp import _forward  # noqa: E402  (the torch solve of a batch, here of one)
from diffog.refine.layer import DiffOGLayer  # noqa: E402
from diffog.refine.q_networks import count_parameters  # noqa: E402

BOUND, ALPHA = 0.05, 4.0


def _chunks(B: int, T: int, D: int, g: torch.Generator) -> torch.Tensor:
    start = torch.rand(B, 1, D, generator=g, dtype=torch.float64) * 1.6 - 0.8
    return (start + (0.03 * torch.randn(B, T, D, generator=g, dtype=torch.float64)).cumsum(1)).clamp(-1, 1)


def _q(kind: str, layer: DiffOGLayer, a: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    n = a.shape[1] * a.shape[2]
    if kind == "transformer":
        with torch.no_grad():
            return layer.q_net(a.float().to(layer.cmask.device)).double()
    X = 0.1 * torch.randn(a.shape[0], n, n, generator=g, dtype=torch.float64) / n**0.5
    return torch.eye(n, dtype=torch.float64) + X @ X.mT


def _time(fn, repeats: int, device: torch.device) -> float:
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    return min(times) * 1e3


def _layers(T: int, D: int, device: torch.device) -> dict[str, DiffOGLayer]:
    dims = [j for j in range(D) if j % 7 != 6]  # each 7-D arm block: 6 joints + gripper
    torch.manual_seed(0)
    fast = DiffOGLayer(T, D, dims, -BOUND, BOUND, alpha=ALPHA, q_mode="transformer").eval().to(device)
    ref = DiffOGLayer(T, D, dims, -BOUND, BOUND, alpha=ALPHA, q_mode="identity", solver="qpth").to(device)
    ref.qpth_max_iter = 20  # qpth's default, as the paper's code calls it
    return {"fast": fast, "qpth": ref}


def bench_inference(T: int, D: int, q_kind: str, n_problems: int, device: torch.device) -> dict[str, float]:
    """Batch-1 refinement with the past action, cold and warm-started (successive chunks of one rollout); the
    same cold solve by the torch solver (built, solved and mapped back in torch) for comparison."""
    g = torch.Generator().manual_seed(1)
    layers = _layers(T, D, device)
    fast, ref = layers["fast"], layers["qpth"]
    coords = fast._coords(device)
    lo, hi = fast._box(coords, 1, torch.float64, True, None)
    traj = _chunks(1, n_problems + T, D, g)[0]
    cold, warm, in_torch, qp, iters, err = [], [], [], [], [], 0.0
    past = traj[0].unsqueeze(0).to(device)
    state = None  # the previous chunk's active set, natural order
    for i in range(n_problems):
        a = (traj[i + 1 : i + 1 + T] + 0.01 * torch.randn(T, D, generator=g, dtype=torch.float64)).unsqueeze(0)
        Q, a = _q(q_kind, fast, a, g).to(device), a.to(device)
        with torch.no_grad():
            cold.append(_time(lambda: fast.refine(Q, a, past), 3, device))
            iters.append(int(fast.last_stats.iterations.max()))
            y_cold = fast.refine(Q, a, past)
            torch_path = lambda: _forward(Q, a, past, lo, hi, None, coords, fast.alpha, fast.solver_options, False)[0]  # noqa: E731
            in_torch.append(_time(torch_path, 3, device))
            err = max(err, float((torch_path() - y_cold).abs().max()))
            prev = None if state is None else torch.cat([state[:, 1:], state[:, -1:]], 1)  # shifted by one step
            warm.append(_time(lambda: fast.refine(Q, a, past, init_state=prev), 3, device))
            y = fast.refine(Q, a, past, init_state=prev)
            qp.append(_time(lambda: ref.refine(Q, a, past), 2, device))
            err = max(err, float((ref.refine(Q, a, past) - y).abs().max()))
            state = fast._last_state
        past = y[:, 0]
    med = statistics.median
    return {"fast_ms": med(cold), "warm_ms": med(warm), "torch_ms": med(in_torch), "qpth_ms": med(qp), "iters": med(iters), "max_abs_diff": err}


def bench_training(B: int, T: int, D: int, q_kind: str, repeats: int, device: torch.device) -> dict[str, float]:
    """Batch-B forward + backward (gradients to Q and a), no past action, as in training."""
    g = torch.Generator().manual_seed(2)
    layers = _layers(T, D, device)
    a = _chunks(B, T, D, g)
    Q = _q(q_kind, layers["fast"], a, g).to(device)
    a = a.to(device)
    target = a + 0.01 * torch.randn(a.shape, generator=g, dtype=a.dtype).to(device)
    out, grads = {}, {}
    for name, layer in layers.items():

        def step():
            Qg, ag = Q.detach().requires_grad_(), a.detach().requires_grad_()
            (layer.refine(Qg, ag) - target).square().sum().backward()
            grads[name] = Qg.grad

        out[f"{name}_ms"] = _time(step, repeats if name == "fast" else max(1, repeats // 2), device)
        out[f"{name}_iters"] = int(layer.last_stats.iterations.max()) if name == "fast" else 0
    out["grad_rel_diff"] = float((grads["fast"] - grads["qpth"]).norm() / grads["qpth"].norm())
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--problems", type=int, default=20, help="batch-1 problems per case")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats of the batch forward+backward")
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cpu":
        torch.set_num_threads(1)
    print(f"device {device}, torch {torch.__version__}, threads {torch.get_num_threads()}")
    for T, D in ((16, 14), (50, 14)):
        full = count_parameters(DiffOGLayer(T, D, [0], q_head="full").q_net)
        compact = count_parameters(DiffOGLayer(T, D, [0], q_head="compact").q_net)
        print(f"Q network parameters at {T}x{D}: full head {full / 1e6:.1f} M, compact head {compact / 1e6:.2f} M")
    summary = []
    for q_kind in ("transformer", "near-identity"):
        for T, D in ((16, 7), (16, 14)):
            r = bench_inference(T, D, q_kind, args.problems, device)
            ratio = r["qpth_ms"] / r["warm_ms"]
            print(
                f"batch-1 inference + past, n={T}x{D}={T * D}, Q {q_kind}: fast {r['fast_ms']:.2f} ms cold "
                f"({r['iters']:.0f} it), {r['warm_ms']:.2f} ms warm, qpth {r['qpth_ms']:.1f} ms -> "
                f"{r['qpth_ms'] / r['fast_ms']:.0f}x cold, {ratio:.0f}x warm (max |diff| {r['max_abs_diff']:.1e}); "
                f"torch solver {r['torch_ms']:.2f} ms -> host kernels {r['torch_ms'] / r['fast_ms']:.1f}x faster"
            )
            summary.append(
                f"b1 {q_kind} n={T * D}: {r['fast_ms']:.2f}ms cold {r['qpth_ms'] / r['fast_ms']:.0f}x, "
                f"{r['warm_ms']:.2f}ms warm {ratio:.0f}x, torch {r['torch_ms'] / r['fast_ms']:.1f}x slower"
            )
        r = bench_training(args.batch, 16, 14, q_kind, args.repeats, device)
        ratio = r["qpth_ms"] / r["fast_ms"]
        print(
            f"batch-{args.batch} forward+backward, n=224, Q {q_kind}: fast {r['fast_ms']:.1f} ms "
            f"({r['fast_iters']} it), qpth {r['qpth_ms']:.0f} ms -> {ratio:.0f}x (grad rel diff {r['grad_rel_diff']:.1e})"
        )
        summary.append(f"b{args.batch} fwd+bwd {q_kind}: {r['fast_ms']:.0f}ms, {ratio:.0f}x")
    print("SUMMARY " + "; ".join(summary))


if __name__ == "__main__":
    main()
