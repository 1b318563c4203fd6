"""The move_stack checkpoints in checkpoints/ load for this robot and give bounded DiffOG chunks."""
import numpy as np
import pytest
import torch

from diffog.config import REPO_ROOT
from diffog.policy import load_policy

SHIPPED = ["move_stack_state_diffog.ckpt", "move_stack_image_diffog.ckpt"]


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_checkpoint_loads_and_refines_within_the_table_vii_bound(name):
    path = REPO_ROOT / "checkpoints" / name
    assert path.stat().st_size < 50e6
    policy = load_policy(path, seed=0)
    assert policy.config["task"]["name"] == "move_stack" and policy.config["task"]["refine"]["bound"] == 0.05
    assert policy.dt == pytest.approx(0.16) and policy.has_layer
    rng = np.random.default_rng(0)
    mid = {k: policy.normalizer.unnormalize(k, torch.zeros(policy.normalizer.dim(k))).numpy()  # mid-range values
           for k in policy.lowdim_keys}
    qpos = np.tile(mid["qpos"], (policy.n_obs_steps, 1))
    obs = {k: np.tile(v, (policy.n_obs_steps, 1)) for k, v in mid.items()}
    if policy.cameras:
        obs["images"] = {c: rng.integers(0, 255, (2, *policy.image_size, 3), dtype=np.uint8) for c in policy.cameras}
    raw, refined, stats = policy.predict_chunk(obs, past_action=qpos[-1])
    assert raw.shape == refined.shape == (policy.chunk_length, 14) and stats["converged"]
    n = policy.normalizer.normalize("action", torch.tensor(np.vstack([qpos[-1], refined]), dtype=torch.float32))
    dims = [i for i, j in enumerate(policy.joint_names) if "gripper" not in j]
    assert n[1:, dims].sub(n[:-1, dims]).abs().max() <= 0.05 + 1e-5
