"""Success rate of each task's scripted demonstrator over seeds 0..N-1 (the README's demo success numbers).

    python -m diffog.sim.measure_demos --seeds 50 [--tasks move_stack ...] [--variability]
"""
from __future__ import annotations

import argparse
import time

from tqdm import tqdm

from diffog.sim.demo import run_demo
from diffog.sim.tasks import TASKS
from diffog.sim.trajectory import Variability


def measure(task: str, seeds: int, variability: Variability | None) -> list[int]:
    """The seeds whose demo failed."""
    return [s for s in tqdm(range(seeds), desc=task, leave=False)
            if not run_demo(task, s, variability=variability).success]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    parser.add_argument("--seeds", type=int, default=50)
    parser.add_argument("--variability", action="store_true", help="human-like speed changes and jitter")
    args = parser.parse_args(argv)
    variability = Variability() if args.variability else None
    for task in args.tasks:
        t0 = time.monotonic()
        failed = measure(task, args.seeds, variability)
        rate = 1 - len(failed) / args.seeds
        print(f"{task}: {args.seeds - len(failed)}/{args.seeds} = {rate:.0%} "
              f"(variability={'on' if variability else 'off'}, {time.monotonic() - t0:.0f} s) failed seeds: {failed}",
              flush=True)


if __name__ == "__main__":
    main()
