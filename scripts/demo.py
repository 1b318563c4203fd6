"""`make demo`: move the stack in the MuJoCo sim through the whole ROS graph (sim ALOHA node, policy node, bag
recorder, episode runner; each its own process, started by diffog.rostools.graph_runner from launch/graphs.yaml),
with the shipped checkpoint, base policy vs DiffOG. Prints success and smoothness side by side and writes a PNG
of the raw vs refined joint trajectories from the recorded bag.

    python scripts/demo.py [--episodes 2] [--out outputs/demo] [--graph move_stack_sim]
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
import time

import numpy as np

from diffog import REPO_ROOT
from diffog.rostools import private_domain_id
from diffog.rostools.graph_runner import GraphProcess, load_graphs
from diffog.rostools.rosbag_io import project_typestore, read_bag
from diffog.deploy.deployed_policy import sim_camera_params

ROWS = [("success_rate", "success rate", "{:.2f}"), ("commands", "commands sent", "{:.0f}"),
        ("velocity_max", "velocity max", "{:.3f}"),
        ("velocity_std", "velocity std", "{:.3f}"), ("acceleration_max", "acceleration max", "{:.3f}"),
        ("acceleration_std", "acceleration std", "{:.3f}"), ("inference_s", "inference (s)", "{:.3f}"),
        ("refinement_s", "refinement (s)", "{:.3f}"), ("achieved_rate_hz", "policy rate (Hz)", "{:.2f}")]


def table(summary: dict[str, dict]) -> str:
    modes = list(summary)
    lines = [f"{'':20s}" + "".join(f"{m:>12s}" for m in modes)]
    for key, label, fmt in ROWS:
        cells = [fmt.format(summary[m][key]) if key in summary[m] else "-" for m in modes]
        lines.append(f"{label:20s}" + "".join(f"{c:>12s}" for c in cells))
    return "\n".join(lines)


def plot_chunks(bag: pathlib.Path, png: pathlib.Path, refiner: str = "diffog", title: str = "sim") -> int:
    """Raw vs refined chunks over the first `refiner` episode, each drawn until the next chunk was planned (the
    part that was executed), on the six joints that move most (a one-arm policy leaves the other arm still)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    store = project_typestore()
    chunks = [store.deserialize_cdr(m.data, m.msgtype) for m in read_bag(bag, ["/policy/action_chunk"])]
    chunks = [c for c in chunks if c.refiner == refiner]
    if not chunks:
        raise RuntimeError(f"{bag} holds no {refiner} chunks")
    t = np.array([c.header.stamp.sec + c.header.stamp.nanosec * 1e-9 for c in chunks])
    first_episode = np.concatenate([[0], np.flatnonzero(np.diff(t) > 2.0) + 1, [len(t)]])[:2]
    chunks, t = chunks[slice(*first_episode)], t[slice(*first_episode)] - t[first_episode[0]]
    names = list(chunks[0].joint_names)
    d, dt = len(names), float(chunks[0].dt)
    ends = [*t[1:], t[-1] + dt * (chunks[-1].horizon - 1)]
    pieces = []  # (times, raw, refined) of each chunk's executed part
    for c, start, end in zip(chunks, t, ends):
        k = np.arange(c.horizon)
        keep = start + k * dt <= end + 1e-6
        pieces.append((start + k[keep] * dt, np.asarray(c.raw_chunk).reshape(-1, d)[keep],
                       np.asarray(c.refined_chunk).reshape(-1, d)[keep]))
    ref_all = np.concatenate([p[2] for p in pieces])
    arm = [j for j, n in enumerate(names) if not n.endswith("gripper")]
    moving = sorted(sorted(arm, key=lambda j: -np.ptp(ref_all[:, j]))[:6])
    fig, axes = plt.subplots(2, 3, figsize=(13, 6), sharex=True)
    for j, ax in zip(moving, axes.flat):
        for i, (tt, raw, ref) in enumerate(pieces):
            ax.plot(tt, raw[:, j], color="tab:red", alpha=0.7, label="raw (Diffusion Policy)" if i == 0 else None)
            ax.plot(tt, ref[:, j], color="tab:blue", label=f"refined ({refiner})" if i == 0 else None)
        ax.set_title(names[j])
        ax.set_ylabel("rad")
    for ax in axes[-1]:
        ax.set_xlabel("time in episode (s)")
    axes[0, 0].legend(loc="best", fontsize=8)
    fig.suptitle(f"{title}: each chunk until the next one, raw vs refined by {refiner}")
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=100)
    return len(chunks)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--graph", default="move_stack_sim")
    ap.add_argument("--episodes", type=int, default=2, help="per mode")
    ap.add_argument("--out", type=pathlib.Path, default=REPO_ROOT / "outputs" / "demo")
    ap.add_argument("--checkpoint", default=None, help="default: the graph's (the shipped one)")
    ap.add_argument("--modes", default="none,diffog", help="refiners to compare: none, clip, penalty, diffog")
    a = ap.parse_args(argv)
    run_dir = a.out / time.strftime("%Y%m%d-%H%M%S")
    results, bag = run_dir / "results.json", run_dir / "bag"
    graph = load_graphs()[a.graph]
    # the sim serves the real robot's topics: on a robot PC it must not share the drivers' domain
    os.environ["ROS_DOMAIN_ID"] = str(private_domain_id())
    print(f"[demo] {a.graph}: {', '.join(n.fqn for n in graph.nodes)} -> {run_dir}", flush=True)
    checkpoint = a.checkpoint or graph.arguments["checkpoint"]
    args = {"output": str(results), "bag": str(bag), "episodes": str(a.episodes), "checkpoint": checkpoint,
            "refiner": a.modes.split(",")[0]}
    params = {"aloha_sim": sim_camera_params(checkpoint), "episode_runner": {"modes": f"[{a.modes}]"}}
    codes = GraphProcess(graph, args, params).start().wait()
    if not results.is_file():
        print(f"[demo] the episode runner wrote no results (exit codes {codes})", file=sys.stderr)
        return 1
    summary = json.loads(results.read_text())["summary"]
    print("\n" + table(summary) + "\n")
    png = run_dir / "raw_vs_refined.png"
    n = plot_chunks(bag, png, refiner=a.modes.split(",")[-1], title=a.graph)
    print(f"[demo] results: {results}\n[demo] bag: {bag}\n[demo] plot ({n} chunks): {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
