"""Each task: its scripted demo succeeds, survives the trip through an episode file and replays to success in a
fresh joint-space sim; the same demo stopped halfway (or never started) is a failure by the same check."""
import functools

import numpy as np
import pytest

from diffog.data.aloha_hdf5 import read_episode
from diffog.sim import TASKS, make_env
from diffog.sim.demo import execute, run_demo
from diffog.sim.make_dataset import write_demo


@functools.cache
def demo(task):
    return run_demo(task, seed=7)


def replay(task, seed, actions):
    env = make_env(task, seed=seed)
    try:
        return execute(env, actions).success
    finally:
        env.close()


@pytest.mark.parametrize("task", TASKS)
def test_start_state_is_not_a_success(task):
    env = make_env(task, seed=7)
    assert not env.success()
    env.close()


@pytest.mark.parametrize("task", TASKS)
def test_recorded_demo_replays_to_success(task, tmp_path):
    d = demo(task)
    assert d.success
    path = write_demo(d, tmp_path)
    ep = read_episode(path)
    assert ep.sim and ep.metadata["task"] == task and ep.metadata["seed"] == 7
    np.testing.assert_array_equal(ep.action, d.action.astype(np.float32))  # float32 on disk, as ALOHA's
    np.testing.assert_allclose(ep.qpos[0], d.qpos[0], rtol=1e-6, atol=1e-7)
    assert replay(task, 7, ep.action)  # the recorded float32 actions still solve the task


@pytest.mark.parametrize("task", TASKS)
def test_demo_stopped_halfway_fails(task):
    actions = demo(task).action.copy()
    half = len(actions) // 2
    actions[half:] = actions[half]  # freeze mid-task
    assert not replay(task, 7, actions)
