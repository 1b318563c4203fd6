"""Success rate of each task's scripted demonstrator over seeds 0..N-1 (the README's demo success numbers).

    python -m diffog.sim.measure_demos --seeds 50 [--tasks move_stack ...] [--variability] [--jerk 0.04]

`--jerk A` runs the same paths with a chunked policy's jerk (offsets up to A rad held 8 steps) on the arm joints
while a gripper is closed: the smoothness claim, measured.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
from tqdm import tqdm

from diffog.sim.demo import execute, run_demo, scripted_actions
from diffog.sim.env import SimulationError, make_env
from diffog.sim.tasks import TASKS
from diffog.sim.trajectory import Variability, inject_jerk

JERK_CHUNK = 8  # steps an offset is held: a Diffusion Policy chunk executed open loop


def jerky_demo_succeeds(task: str, seed: int, amplitude: float, variability: Variability | None) -> bool:
    env = make_env(task, seed=seed)
    try:
        actions = scripted_actions(env, variability, np.random.default_rng([seed, 1]))
        holding = (actions[:, 6] < 0.5) | (actions[:, 13] < 0.5)
        jerky = inject_jerk(actions, amplitude, JERK_CHUNK, np.random.default_rng([seed, 2]), mask=holding)
        return execute(env, jerky).success
    except SimulationError as e:  # thrown objects can make the physics diverge: the episode is lost, say so
        tqdm.write(f"{task} seed {seed}: {e}")
        return False
    finally:
        env.close()


def measure(task: str, seeds: int, variability: Variability | None, jerk: float = 0.0) -> list[int]:
    """The seeds whose demo failed."""
    def ok(s: int) -> bool:
        if jerk > 0:
            return jerky_demo_succeeds(task, s, jerk, variability)
        return run_demo(task, s, variability=variability).success
    return [s for s in tqdm(range(seeds), desc=task, leave=False) if not ok(s)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    parser.add_argument("--seeds", type=int, default=50)
    parser.add_argument("--variability", action="store_true", help="human-like speed changes and jitter")
    parser.add_argument("--jerk", type=float, default=0.0, help="inject chunked jerk of this amplitude (rad)")
    args = parser.parse_args(argv)
    variability = Variability() if args.variability else None
    for task in args.tasks:
        t0 = time.monotonic()
        failed = measure(task, args.seeds, variability, args.jerk)
        rate = 1 - len(failed) / args.seeds
        print(f"{task}: {args.seeds - len(failed)}/{args.seeds} = {rate:.0%} "
              f"(variability={'on' if variability else 'off'}, jerk={args.jerk} rad, {time.monotonic() - t0:.0f} s) "
              f"failed seeds: {failed}",
              flush=True)


if __name__ == "__main__":
    main()
