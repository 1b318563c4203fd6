"""The checkpoints in checkpoints/ load for this robot and give DiffOG chunks within their step bound, through
the deploy runtime that drives the robot (a one-arm move_stack policy leaves the other arm where it is)."""
import numpy as np
import pytest
import torch

from diffog import REPO_ROOT
from diffog.deploy.observation import Observation
from diffog.deploy.deployed_policy import load_deployed_policy

SHIPPED = sorted(p.name for p in (REPO_ROOT / "checkpoints").glob("*.ckpt"))


def test_checkpoints_are_shipped():
    assert {"move_stack_state_diffog.ckpt", "move_stack_image_diffog.ckpt", "move_stack_image_diffog_refine.ckpt",
            "arrange_desk_state_diffog.ckpt"} <= set(SHIPPED)


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_checkpoint_loads_and_refines_within_its_bound(name):
    path = REPO_ROOT / "checkpoints" / name
    assert path.stat().st_size < 50e6
    policy = load_deployed_policy(path, seed=0)
    bound = torch.as_tensor(policy.config.task.refine.bound_values, dtype=torch.float32)
    assert policy.model.layer is not None
    assert bound.numel() in (1, len([n for n in policy.policy_joint_names if "gripper" not in n]))
    mid = {k: policy.normalizer.unnormalize(k, torch.zeros(policy.normalizer.dim(k))).numpy()  # mid-range values
           for k in policy.lowdim_keys}
    qpos = np.zeros(14)
    qpos[policy.index] = mid["qpos"]
    rng = np.random.default_rng(0)
    streams = {k: v for k, v in mid.items() if k != "qpos"}
    streams.update({c: rng.integers(0, 255, (*policy.image_size, 3), dtype=np.uint8) for c in policy.cameras})
    history = [Observation(stamp=policy.dt * k, qpos=qpos, streams=streams) for k in range(policy.n_obs_steps)]
    raw = policy.infer(history)
    refined, stats = policy.refine(raw, qpos)
    assert raw.shape == refined.shape == (policy.chunk_length, 14) and stats["converged"]
    idle = [i for i in range(14) if i not in policy.index]
    np.testing.assert_array_equal(refined[:, idle], np.tile(qpos[idle], (len(refined), 1)))
    n = policy.normalizer.normalize("action", torch.tensor(np.vstack([qpos, refined])[:, policy.index],
                                                           dtype=torch.float32))
    dims = [i for i, j in enumerate(policy.policy_joint_names) if "gripper" not in j]
    assert torch.all(n[1:, dims].sub(n[:-1, dims]).abs() <= bound + 1e-5)
