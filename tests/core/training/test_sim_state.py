"""Object poses recorded in sim episodes, failure modes from the physics state, and the closed-loop sim rollout
through the deploy runtime."""
import json

import mujoco
import numpy as np
import pytest

from diffog.data.aloha_hdf5 import read_episode
from diffog.data.dataset import ChunkDataset
from diffog.evaluation.failures import FailureWatch
from diffog.evaluation.sim_rollout import RolloutSettings, evaluate
from diffog.sim import make_env
from diffog.sim.demo import run_demo
from diffog.sim.make_dataset import write_demo


@pytest.fixture(scope="module")
def sim_episode(tmp_path_factory):
    demo = run_demo("transfer_cube", seed=3)
    return write_demo(demo, tmp_path_factory.mktemp("sim"))


def test_sim_episodes_record_the_object_poses_before_each_action(sim_episode):
    ep = read_episode(sim_episode, cameras=[])
    poses = ep.extras["object_poses"]
    env = make_env("transfer_cube", seed=3)
    start = env.object_poses()
    env.close()
    assert poses.shape == (len(ep), start.size) and np.allclose(poses[0], start)
    assert np.abs(poses[-1] - poses[0]).max() > 0.01, "the demo moves the cube"
    ds = ChunkDataset([sim_episode], horizon=4, n_obs_steps=2, n_action_steps=2, lowdim_keys=["qpos", "object_poses"])
    assert ds[0]["obs"]["object_poses"].shape == (2, start.size)


def test_an_episode_without_object_poses_names_what_to_do(tmp_path):
    from tests.core.training.conftest import synth_episode

    path = synth_episode(tmp_path, seed=0)
    with pytest.raises(KeyError, match="object_poses.*make_dataset"):
        ChunkDataset([path], horizon=4, n_obs_steps=2, n_action_steps=2, lowdim_keys=["qpos", "object_poses"])


def _place(env, body, pos, tilt=0.0):
    adr = env.model.jnt_qposadr[env.model.body(body).jntadr[0]]
    env.data.qpos[adr:adr + 3] = pos
    env.data.qpos[adr + 3:adr + 7] = [np.cos(tilt / 2), np.sin(tilt / 2), 0.0, 0.0]
    mujoco.mj_forward(env.model, env.data)


def test_failure_modes_come_from_the_physics_state():
    env = make_env("move_stack", seed=1)
    try:
        watch = FailureWatch(env)
        watch.update()
        assert watch.mode(False, False) == "missed grasp (cup)"
        assert watch.mode(False, True) == "diverged" and watch.mode(True, False) == "success"
        cup, spoon = env.body_pos("cup"), env.body_pos("spoon")
        _place(env, "cup", cup + [0, 0, 0.08])
        _place(env, "spoon", spoon + [0, 0, 0.08])
        watch.update()
        assert watch.mode(False, False) == "timeout"  # carried, spoon on top, but not on the coaster
        _place(env, "spoon", [spoon[0], spoon[1], 0.01])
        watch.update()
        assert watch.mode(False, False) == "spoon fell during the carry"
        _place(env, "cup", cup, tilt=np.pi / 2)
        watch.update()
        assert watch.mode(False, False) == "knocked over (cup)"
    finally:
        env.close()


def test_rollout_runs_the_deploy_runtime_in_the_sim(base_run):
    steps = 40
    # a loose safety filter: the synthetic policy's gripper jumps 0 -> 1 (grippers are not step-bounded)
    loose = dict(max_steps=steps, step_scale=100.0)
    every = evaluate(base_run["checkpoint"], [5], RolloutSettings("clip", 1, **loose), workers=1)
    chunks = evaluate(base_run["checkpoint"], [5], RolloutSettings("clip", 8, **loose), workers=1)
    strict = evaluate(base_run["checkpoint"], [5], RolloutSettings("none", 8, max_steps=steps, step_scale=0.01),
                      workers=1)
    run = every["runs"][0]
    assert run["steps"] == steps and not run["success"] and run["failure"] == "missed grasp (box)"
    assert run["velocity_max"] > 0 and run["inference_s"] > 0 and run["holds"] == 0
    # the one execution setting: one action per inference replans every policy step (dt = 1 control step here)
    assert run["inferences"] == steps and chunks["runs"][0]["inferences"] == steps // 8
    # the safety filter is in the loop: steps beyond its limit are refused and the arms hold
    assert strict["runs"][0]["holds"] > 0 and strict["runs"][0]["velocity_max"] == 0.0


def test_comparison_command_writes_a_table_and_plots(base_run, tmp_path):
    from diffog.evaluation.compare import main as compare

    out = tmp_path / "cmp"
    compare(["--base", base_run["checkpoint"], "--episodes", "1", "--first-seed", "7", "--max-steps", "16",
             "--n-action-steps", "8", "--workers", "1", "--methods", "base DP", "constraint clipping",
             "--out", str(out)])
    table = (out / "comparison.md").read_text()
    rows = [line for line in table.splitlines() if line.startswith("| 8 actions")]
    assert [r.split(" | ")[1] for r in rows] == ["base DP", "constraint clipping"]
    assert all("0/1" in r and "missed grasp (box) 1" in r for r in rows)
    assert (out / "comparison.png").stat().st_size > 1000 and len(json.loads((out / "comparison.json").read_text())) == 2
