"""CLI: train, resume, evaluate and export Diffusion Policy + DiffOG checkpoints.

  python -m diffog.training train task=move_stack policy=state mode=dataset data.dir=DIR [hydra overrides]
  python -m diffog.training train mode=refine mode.base_checkpoint=runs/base/last.ckpt data.dir=DIR
  python -m diffog.training resume runs/x/last.ckpt [training.num_steps=40000 ...]
  python -m diffog.training evaluate runs/x/last.ckpt [data.dir=DIR]
  python -m diffog.training export runs/x/last.ckpt checkpoints/x.ckpt   (drops the training state)
  python -m diffog.training rollout checkpoints/x.ckpt --episodes 20 [--refiner none|clip|penalty|diffog]
      [--n-action-steps N] [--overlap]   (closed loop in the sim through the deploy runtime; --raw = none)
Multi-GPU / multi-process: torchrun --nproc_per_node N -m diffog.training train ... (same arguments).
"""
from __future__ import annotations

import argparse
import json
import sys

from hydra.errors import HydraException
from omegaconf.errors import OmegaConfBaseException

from diffog.policy.checkpoint import read_checkpoint, save_checkpoint
from diffog.training.config import apply_overrides, compose_config


def main(argv: list[str] | None = None) -> int:
    try:
        return _run(argv)
    except (HydraException, OmegaConfBaseException, FileNotFoundError, ValueError) as e:
        # configuration and data problems (a missing base checkpoint, NaN in an episode, another robot's
        # checkpoint): one clear line instead of a traceback
        print(f"error: {type(e).__name__}: {e}", file=sys.stderr)
        return 2


def _run(argv: list[str] | None) -> int:
    parser = argparse.ArgumentParser(prog="python -m diffog.training", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("train", help="train from scratch").add_argument("overrides", nargs="*")
    for name, text in (("resume", "continue a run from its checkpoint"), ("evaluate", "offline metrics")):
        p = sub.add_parser(name, help=text)
        p.add_argument("checkpoint")
        p.add_argument("overrides", nargs="*", help="dot-list config overrides, e.g. data.dir=...")
    p = sub.add_parser("export", help="copy a checkpoint without its training state (smaller, not resumable)")
    p.add_argument("checkpoint")
    p.add_argument("output")
    p = sub.add_parser("rollout", help="success rate, failure modes and trajectory metrics in the MuJoCo sim, "
                                       "through the deploy runtime (controller, refiner, streamer, safety filter)")
    p.add_argument("checkpoint")
    p.add_argument("--episodes", type=int, default=20)
    p.add_argument("--first-seed", type=int, default=100_000, help="sim seeds (demos use 0, 1, ...)")
    p.add_argument("--max-steps", type=int, default=1200, help="control steps (50 Hz) per episode")
    p.add_argument("--refiner", metavar="none|clip|penalty|diffog", default=None,
                   help="default: diffog, or none for a base policy")
    p.add_argument("--raw", action="store_true", help="the DP's raw chunk (same as --refiner none)")
    p.add_argument("--n-action-steps", type=int, default=None, help="actions executed per inference "
                   "(default: the checkpoint's; 1 replans every policy step)")
    p.add_argument("--overlap", action="store_true", help="infer while the chunk's end still executes")
    p.add_argument("--step-scale", type=float, default=3.0, help="safety filter: max step per command as a "
                   "multiple of the velocity limit (the sim graphs use 3)")
    p.add_argument("--workers", type=int, default=None, help="processes (default: one per core)")
    args = parser.parse_args(argv)

    from diffog.training.trainer import train  # torch and friends load only once arguments parse

    if args.command == "train":
        summary = train(compose_config(args.overrides))
    elif args.command == "resume":
        payload = read_checkpoint(args.checkpoint)
        summary = train(apply_overrides(payload["config"], args.overrides), resume=payload)
    elif args.command == "evaluate":
        from diffog.training.evaluate import evaluate_checkpoint

        payload = read_checkpoint(args.checkpoint)
        payload["config"] = apply_overrides(payload["config"], args.overrides)
        summary = evaluate_checkpoint(payload, device=payload["config"].device)
    elif args.command == "rollout":
        from diffog.deploy.refiners import REFINERS
        from diffog.evaluation.sim_rollout import RolloutSettings, evaluate

        refiner = "none" if args.raw else args.refiner
        if refiner is not None and refiner not in REFINERS:
            raise ValueError(f"unknown refiner {refiner!r}; choose one of {REFINERS}")
        if refiner is None:
            refiner = "none" if read_checkpoint(args.checkpoint)["policy_config"].mode.name == "base" else "diffog"
        settings = RolloutSettings(refiner, args.n_action_steps, args.overlap, args.step_scale, args.max_steps)
        seeds = range(args.first_seed, args.first_seed + args.episodes)
        summary = evaluate(args.checkpoint, seeds, settings, workers=args.workers)
    else:
        payload = read_checkpoint(args.checkpoint)
        save_checkpoint(args.output, weights=payload["weights"], normalizer_state=payload["normalizer"],
                        config=payload["config"], joint_names=payload["joint_names"], robot=payload["robot"],
                        info=payload.get("info"))
        summary = {"exported": args.output}
    summary.pop("losses", None)
    print(json.dumps(summary, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
