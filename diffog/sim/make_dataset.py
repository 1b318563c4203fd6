"""Write scripted sim demonstrations as ALOHA-layout HDF5 episodes (sim flag set), N per task.

    python -m diffog.sim.make_dataset data/sim --episodes 50 [--tasks move_stack ...] [--render 240 320]
        [--cameras cam_high cam_left_wrist] [--variability] [--compress]

Episodes land in <out>/sim_<task>/episode_<i>.hdf5 ("sim" in the folder name, as ACT's sim data sets, which is how
LeRobot's ALOHA importer tells raw sim images from JPEG rows). A seed whose demo fails is skipped (and counted), so every
episode is a success; each file records its seed, so `run_demo(task, seed)` reproduces it, and the objects'
poses before each action (/observations/object_poses, which ALOHA's readers ignore) for state-only policies.
"""
from __future__ import annotations

import argparse
import os
import pathlib

from tqdm import tqdm

from diffog.robot import load_robot_description
from diffog.data.aloha_hdf5 import EpisodeWriter
from diffog.sim.demo import Demo, run_demo
from diffog.sim.env import DT
from diffog.sim.tasks import TASKS
from diffog.sim.trajectory import Variability


def write_demo(demo: Demo, directory: str | os.PathLike, compress: bool = False, **metadata) -> pathlib.Path:
    """One demo as an episode file through the shared writer; returns its path."""
    cameras = list(demo.images)
    robot = load_robot_description()
    meta = {"robot": robot.robot, "task": demo.task, "seed": demo.seed, "joint_names": robot.action_joint_names,
            "dt": DT, "source": "diffog.sim scripted demonstrator", **metadata}
    with EpisodeWriter(directory, cameras, compress=compress, sim=True, metadata=meta) as writer:
        for t in range(len(demo.action)):
            stamp = t * DT  # sim time: every stream is sampled at the same instant
            writer.add(demo.qpos[t], demo.qvel[t], demo.effort[t], demo.action[t],
                       {c: demo.images[c][t] for c in cameras},
                       {"qpos": stamp, "action": stamp, **{c: stamp for c in cameras}},
                       {"object_poses": demo.object_poses[t]})
        return writer.close()


def dataset_dir(out: str | os.PathLike, task: str) -> pathlib.Path:
    return pathlib.Path(out) / f"sim_{task}"


def make_dataset(out: str | os.PathLike, tasks: list[str], episodes: int, render_size: tuple[int, int] | None,
                 cameras: list[str] | None, variability: Variability | None, compress: bool,
                 first_seed: int = 0, max_failures: int = 20) -> dict[str, list[pathlib.Path]]:
    written: dict[str, list[pathlib.Path]] = {}
    for task in tasks:
        paths, failures, seed = [], 0, first_seed
        with tqdm(total=episodes, desc=task) as bar:
            while len(paths) < episodes:
                demo = run_demo(task, seed, variability=variability, render_size=render_size, cameras=cameras)
                seed += 1
                if not demo.success:
                    failures += 1
                    if failures > max_failures:
                        raise RuntimeError(f"{task}: {failures} failed demos; the demonstrator is broken")
                    continue
                paths.append(write_demo(demo, dataset_dir(out, task), compress=compress,
                                        variability=variability is not None))
                bar.update()
        written[task] = paths
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=pathlib.Path)
    parser.add_argument("--episodes", type=int, default=50)
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    parser.add_argument("--render", nargs=2, type=int, metavar=("H", "W"), default=None,
                        help="record camera images of this size (rendering costs: benchmarks/README.md)")
    parser.add_argument("--cameras", nargs="+", default=None, help="real camera names (default: all four)")
    parser.add_argument("--variability", action="store_true", help="human-like speed changes and hand jitter")
    parser.add_argument("--compress", action="store_true", help="JPEG images, as ALOHA's recorder")
    parser.add_argument("--first-seed", type=int, default=0)
    args = parser.parse_args(argv)
    written = make_dataset(args.out, args.tasks, args.episodes, tuple(args.render) if args.render else None,
                           args.cameras, Variability() if args.variability else None, args.compress, args.first_seed)
    for task, paths in written.items():
        print(f"{task}: {len(paths)} episodes in {dataset_dir(args.out, task)}")


if __name__ == "__main__":
    main()
