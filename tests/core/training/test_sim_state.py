"""Object poses recovered by replaying sim episodes, and the closed-loop sim rollout."""
import h5py
import numpy as np
import pytest

from diffog.data.aloha_hdf5 import read_episode
from diffog.data.object_poses import object_poses, replay_object_poses
from diffog.policy import load_policy
from diffog.sim import make_env
from diffog.sim.demo import run_demo
from diffog.sim.make_dataset import write_demo
from diffog.training.rollout import rollout


@pytest.fixture(scope="module")
def sim_episode(tmp_path_factory):
    demo = run_demo("transfer_cube", seed=3)
    return write_demo(demo, tmp_path_factory.mktemp("sim"))


def test_replay_recovers_object_poses_of_a_recorded_sim_episode(sim_episode):
    ep = read_episode(sim_episode, cameras=[])
    poses = replay_object_poses(ep)
    env = make_env("transfer_cube", seed=3)
    start = object_poses(env)
    env.close()
    assert poses.shape == (len(ep), start.size) and np.array_equal(poses[0], start)
    assert np.abs(poses[-1] - poses[0]).max() > 0.01, "the demo moves the cube"


def test_replay_refuses_an_episode_that_does_not_reproduce(sim_episode, tmp_path):
    tampered = tmp_path / "episode_0.hdf5"
    tampered.write_bytes(sim_episode.read_bytes())
    with h5py.File(tampered, "r+") as f:
        f["observations/qpos"][10, 0] += 0.1
    with pytest.raises(ValueError, match="diverges .* frame 10"):
        replay_object_poses(read_episode(tampered, cameras=[]))


def test_rollout_runs_policy_steps_in_the_sim_and_reports_metrics(base_run):
    policy = load_policy(base_run["checkpoint"], seed=0)
    result = rollout(policy, "transfer_cube", seed=5, max_steps=20)
    assert result["steps"] == 20 and result["success"] is False  # a policy trained on synthetic data
    assert np.isfinite(result["velocity_max"]) and result["inference_s"] > 0
