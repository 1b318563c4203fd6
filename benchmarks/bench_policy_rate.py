"""Policy tick rate in the sim over ROS: the sim ALOHA and the policy node (launch/graphs.yaml's move_stack_sim,
without its episode runner and recorder) run for --seconds of sim time; the policy's /diagnostics give every
tick's latency breakdown. Prints the achieved rate (sim time) as a ratio of the target, how fast the sim ran
against the wall (the sim owns the clock and slows down when the CPU cannot keep up), and each latency part
(wall seconds) as a share of the target period: above 1 in total means real-time operation at the target rate
is out of reach on this machine.

    python benchmarks/bench_policy_rate.py [--seconds 20] [--n-action-steps 1] [--refiner diffog]

The target rate is one inference per n_action_steps policy steps (1: receding horizon, 1/dt = 6 Hz for move_stack).
"""
from __future__ import annotations

import argparse
import sys
import threading
import time

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray

from diffog.robot import load_robot_description
from diffog.rostools.graph_runner import Graph, GraphProcess, load_graphs
from diffog.deploy.deployed_policy import resolve_checkpoint, sim_camera_params
from diffog.policy.checkpoint import read_checkpoint

PARTS = ("observation_age_s", "inference_s", "refinement_s", "publish_s", "total_s")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--graph", default="move_stack_sim")
    ap.add_argument("--seconds", type=float, default=20.0, help="sim seconds to measure")
    ap.add_argument("--n-action-steps", type=int, default=1, help="chunk actions per inference")
    ap.add_argument("--refiner", default="diffog")
    ap.add_argument("--checkpoint", default=None, help="default: the graph's")
    a = ap.parse_args(argv)
    full = load_graphs()[a.graph]
    nodes = [n for n in full.nodes if n.executable not in ("episode_runner", "bag_recorder")]
    graph = Graph(full.name, full.launch_file, full.arguments, nodes)
    policy = next(n.fqn for n in nodes if n.executable == "policy_node")
    checkpoint = a.checkpoint or full.arguments["checkpoint"]
    params = {policy: {"n_action_steps": str(a.n_action_steps)}, "aloha_sim": sim_camera_params(checkpoint)}
    task = read_checkpoint(resolve_checkpoint(checkpoint))["policy_config"].task
    a.rate = 1.0 / (a.n_action_steps * task.frame_skip / load_robot_description().control_rate_hz)

    rclpy.init()
    node = rclpy.create_node("bench_policy_rate")
    ticks: list[tuple[float, float, dict]] = []  # (wall, policy clock = sim time, values)
    node.create_subscription(DiagnosticArray, "/diagnostics", lambda m: [
        ticks.append((time.monotonic(), m.header.stamp.sec + m.header.stamp.nanosec * 1e-9,
                       {kv.key: kv.value for kv in s.values}))
        for s in m.status if s.name.startswith(f"{policy}:")], 100)
    threading.Thread(target=rclpy.spin, args=(node,), daemon=True).start()
    args = {"refiner": a.refiner, **({"checkpoint": a.checkpoint} if a.checkpoint else {})}
    run = GraphProcess(graph, args, params, log=open("/dev/null", "w")).start()
    try:
        t_wait = time.monotonic()
        while not any(not d["hold_reason"] for _, _, d in ticks):  # the first chunk: policy loaded, sim running
            if time.monotonic() - t_wait > 180:
                raise TimeoutError("the policy published no chunk within 180 s")
            time.sleep(0.1)
        start = len(ticks)
        t_wait = time.monotonic()
        while len(ticks) <= start or ticks[-1][1] - ticks[start][1] < a.seconds:
            if time.monotonic() - t_wait > 20 * a.seconds + 60:
                raise TimeoutError("the sim clock stalled")
            time.sleep(0.1)
        window = ticks[start:]
    finally:
        run.stop()
        node.destroy_node()
        rclpy.shutdown()
    chunks = [d for _, _, d in window if not d["hold_reason"]]
    wall, sim = window[-1][0] - window[0][0], window[-1][1] - window[0][1]
    achieved = (len(window) - 1) / sim
    print(f"policy over {wall:.1f} s wall / {sim:.1f} s sim time ({a.refiner}): {len(window)} ticks, "
          f"{len(chunks)} chunks, {len(window) - len(chunks)} holds; sim ran at {sim / wall:.2f} x real time")
    print(f"achieved rate {achieved:.2f} Hz (sim time) / target {a.rate:.2f} Hz = {achieved / a.rate:.2f}")
    period = 1.0 / a.rate
    print(f"{'per tick':22s}{'mean (s)':>10s}{'p95 (s)':>10s}{'x period':>10s}")
    for part in PARTS:
        v = np.array([float(d[part]) for d in chunks])  # wall seconds
        print(f"{part:22s}{v.mean():10.4f}{np.percentile(v, 95):10.4f}{v.mean() / period:10.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
