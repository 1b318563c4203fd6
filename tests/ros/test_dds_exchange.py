"""Two ROS 2 nodes in separate processes exchange diffog_msgs messages and a service call over DDS."""
import pathlib
import subprocess
import sys
import time

import pytest

rclpy = pytest.importorskip("rclpy", reason="run through `make test` (needs env.sh)")
from diffog_msgs.msg import ActionChunk, RefinementStats  # noqa: E402
from diffog_msgs.srv import StartEpisode  # noqa: E402

pytestmark = pytest.mark.ros
RESPONDER = pathlib.Path(__file__).parent / "nodes" / "chunk_stats_responder.py"


def test_action_chunk_and_service_round_trip_between_processes():
    proc = subprocess.Popen([sys.executable, str(RESPONDER), "--max-chunks", "3", "--timeout", "60"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    ctx = rclpy.Context()
    rclpy.init(context=ctx)
    node = rclpy.create_node("dds_test_client", context=ctx)
    try:
        pub = node.create_publisher(ActionChunk, "action_chunk", 10)
        stats = []
        node.create_subscription(RefinementStats, "refinement_stats", stats.append, 10)
        client = node.create_client(StartEpisode, "start_episode")
        executor = rclpy.executors.SingleThreadedExecutor(context=ctx)
        executor.add_node(node)

        assert client.wait_for_service(timeout_sec=30.0), "responder's service never appeared over DDS"
        future = client.call_async(StartEpisode.Request(task_name="move_stack", note="hello"))
        executor.spin_until_future_complete(future, timeout_sec=10.0)
        reply = future.result()
        assert reply.success and reply.path == "/tmp/move_stack/episode_0.hdf5" and reply.message == "hello"

        # raw steps of 0.5 and 0.25 in joint b; refined halves them
        raw = [0.0, 0.0, 0.0, 0.5, 0.0, 0.75]
        refined = [0.0, 0.0, 0.0, 0.25, 0.0, 0.375]
        deadline = time.monotonic() + 30.0
        sec = 0
        while len({s.header.stamp.sec for s in stats}) < 3 and time.monotonic() < deadline:
            sec += 1
            msg = ActionChunk(joint_names=["a", "b"], dt=0.25, horizon=3, refiner="diffog",
                              raw_chunk=raw, refined_chunk=refined, past_action=[0.0, 0.0])
            msg.header.stamp.sec = sec
            pub.publish(msg)
            executor.spin_once(timeout_sec=0.2)
        assert stats, "no RefinementStats came back over DDS"
        s = stats[-1]
        assert s.refiner == "diffog" and s.backend == "responder" and s.solver_iterations == 3
        assert s.max_step_before == pytest.approx(0.5) and s.max_step_after == pytest.approx(0.25)
    finally:
        node.destroy_node()
        rclpy.shutdown(context=ctx)
        try:
            out, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
    assert proc.returncode == 0, out
