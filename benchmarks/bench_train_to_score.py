"""Time to a working policy on this machine: one command trains a state Diffusion Policy for move_stack from
scripted demos (human-like variability), keeping a checkpoint every --every steps; each is then run in the sim
through the deploy runtime on seeds kept for this benchmark (neither demo seeds 0.. nor the evaluation tables'
100000..). Prints training throughput and the training wall time at which --target success is first reached.

    python benchmarks/bench_train_to_score.py [--data data/sim_human] [--steps 3000] [--every 500]
        [--episodes 20] [--target 0.9] [--threads 2]
"""
from __future__ import annotations

import argparse
import json
import pathlib
import subprocess
import sys
import tempfile
import time

from diffog import REPO_ROOT
from diffog.policy.checkpoint import read_checkpoint

BENCH_SEEDS = 200_000
RECIPE = ["task=move_stack", "policy=state", "mode=base", "training.lr=1e-3", "training.lr_warmup_steps=200",
          "training.batch_size=64"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=pathlib.Path, default=REPO_ROOT / "data" / "sim_human")
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--every", type=int, default=500)
    ap.add_argument("--episodes", type=int, default=20)
    ap.add_argument("--target", type=float, default=0.9)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args(argv)
    data = a.data / "sim_move_stack"
    if not data.is_dir():
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "diffog.sim.make_dataset", str(a.data), "--episodes", "50",
                        "--tasks", "move_stack", "--variability"], check=True)
        print(f"demos: 50 in {time.perf_counter() - t0:.0f} s")
    run = pathlib.Path(tempfile.mkdtemp(prefix="train_to_score_"))
    cmd = [sys.executable, "-m", "diffog.training", "train", *RECIPE, f"data.dir={data}", f"run_dir={run}",
           f"training.num_steps={a.steps}", f"training.keep_every={a.every}", f"training.checkpoint_every={a.every}",
           f"training.num_threads={a.threads}"]
    print("training:", " ".join(cmd[1:]), flush=True)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    total = time.perf_counter() - t0
    summary = json.loads((run / "summary.json").read_text())
    print(f"trained {a.steps} steps in {total:.0f} s: {summary['samples_per_s']:.0f} samples/s (batch 64, "
          f"{a.threads} threads)")

    from diffog.evaluation.sim_rollout import RolloutSettings, evaluate

    seeds = range(BENCH_SEEDS, BENCH_SEEDS + a.episodes)
    print(f"{'step':>6s}{'train wall (s)':>16s}{'success':>10s}")
    for step in range(a.every, a.steps + 1, a.every):
        ckpt = run / f"step_{step}.ckpt"
        wall = read_checkpoint(ckpt)["info"]["wall_s"]
        result = evaluate(str(ckpt), seeds, RolloutSettings("none"))
        print(f"{step:6d}{wall:16.0f}{result['success_rate']:10.2f}", flush=True)
        if result["success_rate"] >= a.target:
            print(f"reached {a.target:.0%} after {step} steps, {wall:.0f} s of training "
                  f"({wall / 60:.1f} min; {summary['samples_per_s']:.0f} samples/s)")
            return 0
    print(f"did not reach {a.target:.0%} within {a.steps} steps")
    return 1


if __name__ == "__main__":
    sys.exit(main())
