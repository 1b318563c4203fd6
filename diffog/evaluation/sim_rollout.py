"""Episodes in the sim driven by the deploy runtime, exactly as the policy node drives the robot.

Each 50 Hz control step: the sim robot's arms are read through the robot interface (`Bimanual` over `SimRobot`),
their qpos, the cameras and other streams go into the PolicyController's observation matcher stamped with sim
time; when the chunk is due (`Execution`: how many actions per inference, overlap) the controller infers and
refines; its command passes the safety filter and goes to the arms; the sim steps. The sim waits for the
policy (lockstep), so inference takes no sim time.
"""
from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch

from diffog.deploy.aloha_topics import AlohaTopics
from diffog.deploy.config import DeployConfig
from diffog.deploy.deployed_policy import DeployedPolicy, build_controller, load_deployed_policy, resolve_checkpoint
from diffog.deploy.episodes import executed_metrics
from diffog.evaluation.failures import FailureWatch
from diffog.hardware.robot import Bimanual
from diffog.hardware.sim_arm import SimRobot
from diffog.policy.checkpoint import read_checkpoint
from diffog.robot import UnsafeCommand
from diffog.sim import make_env
from diffog.sim.env import DT, SimulationError

METRICS = ("velocity_max", "velocity_std", "acceleration_max", "acceleration_std")  # paper VIII-B


@dataclass(frozen=True)
class RolloutSettings:
    """What the runtime is asked to do: the refiner, how chunks execute, the safety filter's step scale."""

    refiner: str = "diffog"
    n_action_steps: int | None = None  # None: the checkpoint's
    overlap: bool = False
    step_scale: float = 3.0  # the sim graphs' setting: a jerky base policy acts (and fails) rather than holds
    max_steps: int = 1200    # control steps (50 Hz)

    def deploy_config(self, checkpoint: str) -> DeployConfig:
        """The policy node's deployment, lockstepped with the sim: every stream is stamped at the same instant."""
        return DeployConfig(checkpoint=str(checkpoint), refiner=self.refiner, n_action_steps=self.n_action_steps,
                            overlap=self.overlap, step_scale=self.step_scale, stamp_tolerance_s=DT / 2)


def load(checkpoint: str, settings: RolloutSettings) -> DeployedPolicy:
    return load_deployed_policy(settings.deploy_config(checkpoint), seed=0)


def run_episode(policy: DeployedPolicy, task: str, seed: int, settings: RolloutSettings) -> dict:
    """One episode from `seed`: success, failure mode, holds, timings and the executed trajectory's metrics
    (the commands at the policy's step spacing, normalized, continuous joints; as the ROS episode runner).
    The policy's sampling noise is seeded from `seed`: a result does not depend on which process ran it."""
    policy.reseed(seed)
    env = make_env(task, seed=seed, render_size=policy.image_size if policy.cameras else None,
                   cameras=policy.cameras or None)
    description = policy.description
    robot = SimRobot(env, description)
    arms = Bimanual(robot.arms, "follower", description)
    slices = AlohaTopics.load(description).qpos_slices()
    controller = build_controller(policy)
    frame_every = max(1, round(policy.dt / DT))
    watch = FailureWatch(env)
    commands, plans, holds, inference_s, refine_s = [], 0, 0, [], []
    success = diverged = False
    step = 0
    try:
        for step in range(settings.max_steps):
            now = step * DT
            qpos = arms.observe()[0]
            for name, sl in slices.items():
                controller.add_observation(name, now, qpos[sl])
            for key in policy.lowdim_streams:  # the sim's object poses, for state policies
                controller.add_observation(key, now, env.object_poses())
            # the command first, as the node's command timer would: a chunk whose last action goes out now is
            # followed by the next one in the same tick, so the arms never wait a tick between chunks
            try:
                cmd = controller.command(now)
            except UnsafeCommand:
                holds, cmd = holds + 1, None
            if cmd is not None:
                arms.command(cmd)
            due = controller.plan_due(now)
            if policy.cameras and (due or step % frame_every == 0):
                for cam in policy.cameras:
                    controller.add_observation(cam, now, env.render(cam))
            if due:
                try:
                    result = controller.plan(now)
                except Exception:  # noqa: BLE001 - as the node's tick error handler: hold, try again next tick
                    controller.hold()
                    result = None
                if result is None or result.hold_reason:
                    holds += 1
                else:
                    plans += 1
                    inference_s.append(result.latency.inference_s)
                    refine_s.append(result.latency.refinement_s)
            commands.append(robot.target.copy())
            try:
                robot.step()
            except SimulationError:
                diverged = True
                break
            watch.update()
            if env.success():
                success = True
                break
    finally:
        env.close()
    out = {"seed": seed, "success": success, "failure": watch.mode(success, diverged), "diverged": diverged,
           "steps": step + 1, "inferences": plans, "holds": holds,
           "inference_s": float(np.mean(inference_s)) if inference_s else float("nan"),
           "refinement_s": float(np.mean(refine_s)) if refine_s else float("nan"),
           **dict.fromkeys(METRICS, float("nan")), **executed_metrics(DT * np.arange(len(commands)), np.array(commands), policy.dt,
                                             policy.normalizer, policy.policy_joint_names, policy.index)}
    return out


_WORKER: dict = {}


def _init_worker(checkpoint: str, settings: RolloutSettings) -> None:
    torch.set_num_threads(1)  # one process per core: threads would only compete
    _WORKER["policy"] = load(checkpoint, settings)
    _WORKER["settings"] = settings


def _run_seed(task: str, seed: int) -> dict:
    return run_episode(_WORKER["policy"], task, seed, _WORKER["settings"])


def evaluate(checkpoint: str, seeds: Iterable[int], settings: RolloutSettings, task: str | None = None,
             workers: int | None = None) -> dict:
    """Episodes over `seeds` in `workers` processes (default: one per core), summarized: success rate, failure
    modes, holds and the mean trajectory metrics; `runs` holds each episode."""
    seeds = list(seeds)
    task = task or read_checkpoint(resolve_checkpoint(checkpoint))["policy_config"].task.name
    workers = max(1, min(workers or os.cpu_count() or 1, len(seeds)))
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # inherited by the workers, as the policy node sets it
    if workers == 1:
        _init_worker(checkpoint, settings)
        runs = [_run_seed(task, s) for s in seeds]
    else:
        with ProcessPoolExecutor(workers, multiprocessing.get_context("spawn"), _init_worker,
                                 (checkpoint, settings)) as pool:
            runs = list(pool.map(_run_seed, [task] * len(seeds), seeds))
    return summarize(task, runs, settings)


def summarize(task: str, runs: Sequence[dict], settings: RolloutSettings) -> dict:
    failures: dict[str, int] = {}
    for r in runs:
        failures[r["failure"]] = failures.get(r["failure"], 0) + 1
    metric_keys = (*METRICS, "inference_s", "refinement_s", "steps", "holds")
    return {"task": task, "refiner": settings.refiner, "n_action_steps": settings.n_action_steps,
            "overlap": settings.overlap, "episodes": len(runs),
            "success_rate": float(np.mean([r["success"] for r in runs])), "failures": failures,
            "diverged": int(sum(r["diverged"] for r in runs)),
            **{k: float(np.nanmean([r[k] for r in runs])) for k in metric_keys}, "runs": list(runs)}
