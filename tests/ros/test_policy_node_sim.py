"""Closed loop over ROS: launch/graphs.yaml's move_stack_sim graph (sim ALOHA owning the clock, policy node,
bag recorder, episode runner) with tiny random image and state checkpoints, one short episode per refiner. The
runner resets the sim, switches the refiner, scores what the policy sent and ends the graph; the bag holds the
chunks."""
import io
import json

import numpy as np
import pytest

pytest.importorskip("rclpy", reason="run through `make test` (needs env.sh)")

from diffog.rostools.graph_runner import GraphProcess, load_graphs  # noqa: E402
from diffog.rostools.rosbag_io import project_typestore, read_bag  # noqa: E402
from tests.core.deploy.tiny_checkpoint import write_tiny_checkpoint  # noqa: E402

pytestmark = pytest.mark.ros


def object_pose_dim(task: str = "move_stack") -> int:
    from diffog.sim import make_env

    env = make_env(task, seed=0)
    try:
        return len(env.object_poses())
    finally:
        env.close()


@pytest.mark.parametrize("inputs", ["image", "state"])
def test_episode_runner_compares_refiners_in_the_sim_over_ros(tmp_path, inputs):
    """image: qpos + the sim's rendered cam_high; state: qpos + the sim's object poses topic."""
    ckpt = write_tiny_checkpoint(tmp_path / "tiny.pt", object_pose_dim=object_pose_dim() if inputs == "state" else 0)
    results, bag = tmp_path / "results.json", tmp_path / "bag"
    log = io.StringIO()
    graph = load_graphs()["move_stack_sim"]
    args = {"checkpoint": str(ckpt), "episodes": "1", "output": str(results), "bag": str(bag)}
    params = {"episode_runner": {"modes": "[none,diffog]", "episode_timeout_s": "3.0", "settle_s": "0.5"}}
    codes = GraphProcess(graph, args, params, log=log).start().wait(duration=240)
    assert codes == dict.fromkeys(codes, 0), log.getvalue()[-5000:]  # every node ran and shut down cleanly

    out = json.loads(results.read_text())
    assert [(r["mode"], r["seed"]) for r in out["runs"]] == [("none", 1000), ("diffog", 1000)]  # paired scenes
    assert set(out["summary"]) == {"none", "diffog"}
    diffog = out["runs"][1]
    assert diffog["commands"] > 20 and diffog["success"] is False  # a random policy does not stack cups
    assert np.isfinite([diffog["velocity_max"], diffog["acceleration_std"], diffog["inference_s"]]).all()
    store = project_typestore()
    refiners = {store.deserialize_cdr(m.data, m.msgtype).refiner for m in read_bag(bag, ["/policy/action_chunk"])}
    assert refiners == {"none", "diffog"}
