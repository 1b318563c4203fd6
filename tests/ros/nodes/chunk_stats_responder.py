"""A second ROS process for the DDS test: answers each ActionChunk with RefinementStats computed from it,
and serves StartEpisode. Exits after `--max-chunks` chunks or `--timeout` seconds."""
import argparse
import time

import rclpy
from diffog_msgs.msg import ActionChunk, RefinementStats
from diffog_msgs.srv import StartEpisode


def max_step(flat, dims):
    rows = [flat[i:i + dims] for i in range(0, len(flat), dims)]
    return max((abs(b[j] - a[j]) for a, b in zip(rows, rows[1:]) for j in range(dims)), default=0.0)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-chunks", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args()

    rclpy.init()
    node = rclpy.create_node("chunk_stats_responder")
    pub = node.create_publisher(RefinementStats, "refinement_stats", 10)
    seen = []

    def on_chunk(msg: ActionChunk):
        dims = len(msg.joint_names)
        out = RefinementStats(header=msg.header, refiner=msg.refiner, backend="responder")
        out.max_step_before = max_step(list(msg.raw_chunk), dims)
        out.max_step_after = max_step(list(msg.refined_chunk), dims)
        out.solver_iterations = msg.horizon
        pub.publish(out)
        seen.append(msg.header.stamp.sec)

    def on_start(request, response):
        response.success = True
        response.path = f"/tmp/{request.task_name}/episode_0.hdf5"
        response.message = request.note
        response.frame_count = 0
        return response

    node.create_subscription(ActionChunk, "action_chunk", on_chunk, 10)
    node.create_service(StartEpisode, "start_episode", on_start)
    print("responder ready", flush=True)
    deadline = time.monotonic() + args.timeout
    while len(set(seen)) < args.max_chunks and time.monotonic() < deadline:
        rclpy.spin_once(node, timeout_sec=0.05)
    # keep answering briefly so the last stats message is delivered before the process exits
    end = time.monotonic() + 0.5
    while time.monotonic() < end:
        rclpy.spin_once(node, timeout_sec=0.05)
    node.destroy_node()
    rclpy.shutdown()


if __name__ == "__main__":
    main()
