"""The paper's comparison (Table III) in the sim: base DP, DiffOG (dataset / refine training), constraint clipping
and penalty optimization, on held-out seeds, through the deploy runtime; a Markdown table, JSON and plots.

    python -m diffog.evaluation.compare --base B.ckpt [--refine R.ckpt] [--dataset D.ckpt] --episodes 50 \
        --first-seed 100000 --n-action-steps 8 1 --out outputs/compare/move_stack

Clipping and penalty refine the base policy's chunks with the bound its checkpoint holds; each DiffOG row runs
its own checkpoint (refine: the same base DP, frozen, with a trained layer).
"""
from __future__ import annotations

import argparse
import json
import pathlib
import time

import numpy as np

from diffog.evaluation.sim_rollout import METRICS, RolloutSettings, evaluate

METHODS = (  # (row, which checkpoint, refiner)
    ("base DP", "base", "none"),
    ("DiffOG (dataset)", "dataset", "diffog"),
    ("DiffOG (refine)", "refine", "diffog"),
    ("constraint clipping", "base", "clip"),
    ("penalty optimization", "base", "penalty"),
)


def run(checkpoints: dict[str, str], seeds: list[int], n_action_steps: list[int | None], overlap: bool,
        workers: int | None, max_steps: int, methods: list[str] | None = None) -> list[dict]:
    rows = []
    for n in n_action_steps:
        for name, which, refiner in METHODS:
            if which not in checkpoints or (methods and name not in methods):
                continue
            settings = RolloutSettings(refiner, n, overlap, max_steps=max_steps)
            t0 = time.perf_counter()
            summary = evaluate(checkpoints[which], seeds, settings, workers=workers)
            summary.update(method=name, checkpoint=checkpoints[which], wall_s=time.perf_counter() - t0)
            print(f"{name:22s} n_action_steps={n}: success {summary['success_rate']:.2f} {summary['failures']}",
                  flush=True)
            rows.append(summary)
    return rows


def markdown(rows: list[dict]) -> str:
    lines = ["| execution | method | success | failure modes | velocity max | velocity std | acceleration max "
             "| acceleration std | inference (s) | refinement (s) |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        n = r["n_action_steps"]
        failures = ", ".join(f"{k} {v}" for k, v in sorted(r["failures"].items(), key=lambda kv: -kv[1])
                             if k != "success") or "-"
        wins = r["failures"].get("success", 0)
        lines.append(f"| {n or 'checkpoint'} actions / inference | {r['method']} | {wins}/{r['episodes']} | "
                     f"{failures} | " + " | ".join(f"{r[k]:.3f}" for k in METRICS)
                     + f" | {r['inference_s']:.3f} | {r['refinement_s']:.4f} |")
    return "\n".join(lines) + "\n"


def plot(rows: list[dict], out: pathlib.Path) -> pathlib.Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    settings = sorted({r["n_action_steps"] or 0 for r in rows})
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    width = 0.8 / max(len(settings), 1)
    methods = list(dict.fromkeys(r["method"] for r in rows))
    for k, n in enumerate(settings):
        sel = {r["method"]: r for r in rows if (r["n_action_steps"] or 0) == n}
        x = np.arange(len(methods)) + k * width
        label = f"{n or 'default'} actions / inference"
        axes[0].bar(x, [sel[m]["success_rate"] if m in sel else np.nan for m in methods], width, label=label)
        axes[1].bar(x, [sel[m]["velocity_max"] if m in sel else np.nan for m in methods], width, label=label)
        axes[2].bar(x, [sel[m]["acceleration_max"] if m in sel else np.nan for m in methods], width, label=label)
    for ax, title in zip(axes, ("success rate", "velocity max (normalized / s)", "acceleration max (normalized / s²)")):
        ax.set_xticks(np.arange(len(methods)) + width * (len(settings) - 1) / 2, methods, rotation=25, ha="right")
        ax.set_title(title)
    axes[0].set_ylim(0, 1)
    axes[0].legend()
    fig.tight_layout()
    path = out / "comparison.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", required=True, help="base DP checkpoint (mode=base)")
    parser.add_argument("--refine", help="DiffOG checkpoint from refine training")
    parser.add_argument("--dataset", help="DiffOG checkpoint from dataset training")
    parser.add_argument("--episodes", type=int, default=50)
    parser.add_argument("--first-seed", type=int, default=100_000, help="held-out sim seeds (demos use 0, 1, ...)")
    parser.add_argument("--n-action-steps", type=int, nargs="+", default=[8, 1],
                        help="actions per inference to compare (8: the paper's setting, 1: receding horizon)")
    parser.add_argument("--overlap", action="store_true")
    parser.add_argument("--methods", nargs="+", choices=[m[0] for m in METHODS], default=None,
                        help="rows to run (default: every one whose checkpoint is given)")
    parser.add_argument("--max-steps", type=int, default=1200)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path("outputs/compare"))
    args = parser.parse_args(argv)
    checkpoints = {k: v for k, v in (("base", args.base), ("refine", args.refine), ("dataset", args.dataset)) if v}
    seeds = list(range(args.first_seed, args.first_seed + args.episodes))
    rows = run(checkpoints, seeds, args.n_action_steps, args.overlap, args.workers, args.max_steps, args.methods)
    args.out.mkdir(parents=True, exist_ok=True)
    table = markdown(rows)
    (args.out / "comparison.md").write_text(
        f"Seeds {seeds[0]}..{seeds[-1]} ({len(seeds)} episodes per row), {args.max_steps} control steps at 50 Hz, "
        f"overlap {args.overlap}. Metrics: executed commands at the policy's step spacing, normalized, "
        f"continuous joints.\n\n" + table)
    (args.out / "comparison.json").write_text(json.dumps(rows, indent=1, default=float))
    print(table)
    print(f"wrote {args.out / 'comparison.md'}, {plot(rows, args.out)}")


if __name__ == "__main__":
    main()
