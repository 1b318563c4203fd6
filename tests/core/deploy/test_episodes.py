import numpy as np
import pytest
import torch

from diffog.robot import load_robot_description
from diffog.data.normalizer import MinMaxNormalizer
from diffog.deploy.episodes import executed_metrics, resample, summarize

NORM = MinMaxNormalizer({"action": (torch.full((14,), -1.0), torch.full((14,), 1.0))})  # identity


def test_resample_interpolates_at_the_policy_step():
    t = np.array([0.0, 0.1, 0.35])
    v = np.array([[0.0], [1.0], [1.5]])
    np.testing.assert_allclose(resample(t, v, 0.1)[:, 0], [0.0, 1.0, 1.2, 1.4])


def test_metrics_of_a_constant_velocity_path_ignore_grippers():
    t = np.arange(0, 2.0, 0.02)
    cmd = np.zeros((len(t), 14))
    cmd[:, :6] = 0.3 * t[:, None]           # 0.3 rad/s on the left arm joints
    cmd[:, 6] = (t > 1.0).astype(float)     # a gripper snap must not count
    m = executed_metrics(t, cmd, 0.16, NORM, load_robot_description().action_joint_names, range(14))
    assert m["velocity_max"] == pytest.approx(0.3 * 6 / 12, rel=1e-4)  # averaged over 12 continuous joints
    assert m["acceleration_max"] == pytest.approx(0.0, abs=1e-4)


def test_a_path_shorter_than_three_steps_has_no_metrics():
    t = np.array([0.0, 0.1, 0.2])
    assert executed_metrics(t, np.zeros((3, 14)), 0.16, NORM, load_robot_description().action_joint_names, range(14)) == {}


def test_summary_averages_numbers_and_success_over_the_episodes_that_have_them():
    runs = [{"seed": 0, "success": True, "commands": 10},
            {"seed": 1, "success": False, "commands": 20, "velocity_max": 3.0},
            {"seed": 2, "success": False, "commands": 30, "velocity_max": 1.0}]
    assert summarize(runs) == {"episodes": 3, "success_rate": pytest.approx(1 / 3), "commands": 20.0,
                               "velocity_max": 2.0}
