"""The demonstrators' IK: reaches reachable grasp poses, stays on the unrolled-forearm branch, reports misses."""
import numpy as np
import pytest

from diffog.sim import make_env
from diffog.sim.ik import ArmIK
from diffog.sim.trajectory import aim_rotation, grip_rotation


@pytest.fixture(scope="module")
def model():
    env = make_env("transfer_cube", seed=0)
    yield env.model
    env.close()


@pytest.mark.parametrize("arm, pos, pitch", [("right", [0.1, 0.45, 0.05], np.pi / 2), ("left", [-0.1, 0.6, 0.2], 0.4),
                                             ("right", [-0.05, 0.4, 0.15], 1.1)])
def test_reaches_the_pose_from_the_start_pose(model, arm, pos, pitch):
    ik = ArmIK(model, arm)
    rot = aim_rotation(arm, pos, pitch)
    q, err = ik.solve(np.array(pos), rot, np.array([0.0, -0.96, 1.16, 0.0, -0.3, 0.0]))
    p, r = ik.forward(q)
    assert err < 1e-3 and np.allclose(p, pos, atol=1e-3) and np.allclose(r, rot, atol=5e-3)
    assert abs(q[3]) < np.pi / 2, "forearm rolled over to the mirrored branch"


def test_unreachable_pose_reports_its_error(model):
    _, err = ArmIK(model, "left").solve(np.array([0.5, 0.5, 0.3]), grip_rotation("left", pitch=np.pi / 2), np.zeros(6))
    assert err > 0.05
