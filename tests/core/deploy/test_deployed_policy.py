import numpy as np
import pytest

from diffog.deploy.controller import PolicyController
from diffog.deploy.observation import Observation, ObservationMatcher
from diffog.deploy.config import DeployConfig
from diffog.deploy.deployed_policy import load_deployed_policy, sim_camera_params
from diffog.robot.safety import JointLimits, SafetyFilter
from tests.core.deploy.tiny_checkpoint import CAMERA, write_tiny_checkpoint

START = np.array([0.0, -0.96, 1.16, 0.0, -0.3, 0.0, 0.5] * 2)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return write_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.pt")


def history(n=2, value=START):
    img = np.full((48, 64, 3), 100, np.uint8)  # camera frames larger than the policy's: resized on the way
    return [Observation(stamp=0.1 * k, qpos=value.copy(), streams={CAMERA: img}) for k in range(n)]


@pytest.mark.parametrize("refiner", ["none", "clip", "penalty", "diffog"])
def test_every_refiner_gives_a_finite_chunk_within_the_step_bound(checkpoint, refiner):
    import torch
    torch.set_num_threads(1)
    p = load_deployed_policy(DeployConfig(str(checkpoint), refiner=refiner, ddim_steps=2), seed=0)
    assert p.streams == [CAMERA] and p.n_obs_steps == 2 and p.dt == pytest.approx(0.16)
    raw = p.infer(history())
    assert raw.shape == (15, 14) and np.all(np.isfinite(raw))
    past = START + 0.01
    refined, stats = p.refine(raw, past)
    assert refined.shape == raw.shape and np.all(np.isfinite(refined))
    # a one-arm policy (move_stack: the right arm) leaves the left arm at its last command
    assert p.policy_joint_names == p.joint_names[7:]
    np.testing.assert_array_equal(refined[:, :7], np.tile(past[:7], (15, 1)))
    if refiner == "none":
        np.testing.assert_allclose(refined[:, 7:], raw[:, 7:], atol=1e-5)
    else:
        assert stats["max_step_after"] <= 0.05 + 0.011  # bound, plus penalty's Table VIII tolerance
        assert stats["max_step_after"] < stats["max_step_before"]  # a random policy jumps far beyond it


def test_diffog_refiner_refuses_a_base_checkpoint(tmp_path):
    path = write_tiny_checkpoint(tmp_path / "base.pt", mode="base")
    with pytest.raises(ValueError, match="base policy"):
        load_deployed_policy(DeployConfig(str(path), refiner="diffog"))
    assert load_deployed_policy(DeployConfig(str(path), refiner="clip")).refiner == "clip"


def test_controller_streams_limit_respecting_commands_from_the_real_policy(checkpoint):
    p = load_deployed_policy(DeployConfig(str(checkpoint), refiner="diffog"), seed=0)
    matcher = ObservationMatcher({"follower_left": slice(0, 7), "follower_right": slice(7, 14)}, p.streams,
                                 tolerance_s=0.03, timeout_s=0.5)
    limits = JointLimits.from_description()
    c = PolicyController(p.infer, p.refine, matcher, SafetyFilter(limits, 0.02), p.dt, p.execution,
                         p.n_obs_steps)
    for k in range(10):
        c.add_observation("follower_left", k * 0.02, START[:7])
        c.add_observation("follower_right", k * 0.02, START[7:])
        c.add_observation(CAMERA, k * 0.02, np.zeros((24, 32, 3), np.uint8))
    r = c.plan(0.2)
    assert r.hold_reason == ""
    cmds = [c.command(0.2 + 0.02 * k) for k in range(20)]
    assert all(x is not None and np.all((x >= limits.lower) & (x <= limits.upper)) for x in cmds)


def test_the_sim_renders_exactly_the_policys_cameras(checkpoint, tmp_path):
    assert sim_camera_params(checkpoint) == {"cameras": f"[{CAMERA}]", "render_height": "24", "render_width": "32"}
    state = write_tiny_checkpoint(tmp_path / "state.pt", object_pose_dim=5)
    assert sim_camera_params(state) == {"render_height": "0", "render_width": "0"}
