"""Open-loop replay of a recorded run: its observations go into the policy node (launch/graphs.yaml `replay`:
bag_player with /clock, policy_node, bag_recorder, each its own process) and the commands the policy sends now
are compared, by recorded time, with the commands in the bag.

    python -m diffog.rostools.replay RECORDED_BAG --checkpoint checkpoints/...pt [--refiner diffog] [--out DIR]
"""
from __future__ import annotations

import argparse
import json
import pathlib
import sys

from diffog.deploy.aloha_topics import AlohaTopics
from diffog.rostools.graph_runner import GraphProcess, load_graphs
from diffog.rostools.rosbag_io import bag_topics, command_series, compare_series


def command_topics(topics: AlohaTopics | None = None) -> list[str]:
    t = topics or AlohaTopics.load()
    return [t.topic(k, arm_ns=f) for f in t.followers for k in ("arm_group_command", "gripper_command")]


def replay(bag: pathlib.Path, checkpoint: str, output: pathlib.Path, refiner: str = "diffog",
           timeout_s: float | None = None, log=sys.stdout) -> dict[str, dict[str, float]]:
    """Run the replay graph; per command topic, how far the new commands are from the recorded ones."""
    graph = load_graphs()["replay"]
    args = {"bag": str(bag), "output": str(output), "checkpoint": checkpoint, "refiner": refiner}
    codes = GraphProcess(graph, args, log=log).start().wait(timeout_s)
    if codes["bag_player"] != 0 or not output.exists():
        raise RuntimeError(f"the replay did not finish cleanly: exit codes {codes}")
    recorded = bag_topics(bag)
    return {topic: compare_series(*command_series(bag, topic), *command_series(output, topic))
            for topic in command_topics() if topic in recorded}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("bag", type=pathlib.Path)
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--refiner", default="diffog")
    ap.add_argument("--out", type=pathlib.Path, default=None, help="the new bag (default: BAG.replay)")
    a = ap.parse_args(argv)
    out = a.out or a.bag.with_name(a.bag.name + ".replay")
    print(json.dumps(replay(a.bag, a.checkpoint, out, a.refiner), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
