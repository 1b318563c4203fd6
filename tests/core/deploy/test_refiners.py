import numpy as np
import pytest
import torch

from diffog.robot import load_robot_description
from diffog.data.normalizer import MinMaxNormalizer
from diffog.deploy.refiners import ChunkRefiner
from diffog.refine import DiffOGLayer, continuous_dims_from_names

T, D, BOUND = 6, 14, 0.05
DIMS = continuous_dims_from_names(load_robot_description().action_joint_names)
# robot units: joints span [-2, 2] rad (normalized = x / 2), grippers [0, 1]
NORM = MinMaxNormalizer({"action": (torch.tensor([-2.0] * 6 + [0.0] + [-2.0] * 6 + [0.0]),
                                    torch.tensor([2.0] * 6 + [1.0] + [2.0] * 6 + [1.0]))})
LO, HI = torch.full((len(DIMS),), -BOUND, dtype=torch.float64), torch.full((len(DIMS),), BOUND, dtype=torch.float64)


def make(name: str) -> ChunkRefiner:
    layer = DiffOGLayer(T, D, DIMS, -BOUND, BOUND, q_mode="identity") if name == "diffog" else None
    return ChunkRefiner(name, NORM, DIMS, LO, HI, layer)


@pytest.fixture
def jumpy():
    """A chunk whose joints step 0.4 rad (0.2 normalized, 4x the bound) and whose grippers jump."""
    raw = np.zeros((T, D))
    raw[:, DIMS] = 0.4 * np.arange(1, T + 1)[:, None] * np.where(np.arange(len(DIMS)) % 2, 1, -1)
    raw[:, [6, 13]] = [[0.0, 1.0]] * 3 + [[1.0, 0.0]] * 3
    return raw, np.zeros(D)


def test_none_returns_the_raw_chunk_and_reports_its_steps(jumpy):
    raw, past = jumpy
    out, stats = make("none")(raw, past)
    np.testing.assert_allclose(out.numpy(), raw, atol=1e-6)
    assert stats["refiner"] == "none"  # published with the chunk, so a run-time switch never mislabels one
    assert stats["max_step_before"] == pytest.approx(0.2, rel=1e-5) == stats["max_step_after"]
    assert stats["max_constraint_violation"] == pytest.approx(0.15, rel=1e-4)


@pytest.mark.parametrize("name", ["clip", "penalty", "diffog"])
def test_refiners_bring_steps_from_the_past_action_within_the_bound(jumpy, name):
    torch.set_num_threads(1)
    raw, past = jumpy
    out, stats = make(name)(raw, past)
    out = out.numpy()
    steps = np.abs(np.diff(np.vstack([past, out])[:, DIMS], axis=0)) / 2.0  # normalized units
    tol = {"clip": 1e-6, "penalty": 0.01, "diffog": 1e-5}[name]  # penalty stops at Table VIII's tolerance
    assert steps.max() <= BOUND + tol
    assert stats["max_step_after"] <= BOUND + tol < stats["max_step_before"]
    np.testing.assert_allclose(out[:, [6, 13]], raw[:, [6, 13]], atol=1e-6)  # grippers pass through


def test_diffog_needs_a_layer_and_unknown_names_are_refused():
    with pytest.raises(ValueError, match="base policy"):
        ChunkRefiner("diffog", NORM, DIMS, LO, HI, None)
    with pytest.raises(ValueError, match="unknown refiner"):
        ChunkRefiner("smooth", NORM, DIMS, LO, HI)
