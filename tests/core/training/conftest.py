"""Small synthetic ALOHA episodes written through EpisodeWriter: smooth joint motions whose course depends on
an initial 'object position' that the first frames reveal, so a policy has something learnable."""
import pathlib

import numpy as np
import pytest

from diffog.robot import load_robot_description
from diffog.data.aloha_hdf5 import write_episode

CAMERA = "cam_high"


def synth_episode(directory: pathlib.Path, seed: int, length: int = 40, image_size=(24, 32)) -> pathlib.Path:
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 1, length + 1)[:, None]
    goal = rng.uniform(-0.5, 0.5, 14)
    traj = goal * np.sin(np.pi * t) + 0.1 * np.arange(14) / 14
    traj[:, [6, 13]] = (t > 0.5).astype(float)  # grippers open half way
    qpos, action = traj[:-1], traj[1:]
    h, w = image_size
    frame = np.zeros((length, h, w, 3), np.uint8)
    frame[..., 0] = np.uint8(255 * (goal[0] + 0.5))  # the image shows where the motion heads
    frame[:, :, : w // 2, 1] = np.linspace(0, 255, length, dtype=np.uint8)[:, None, None]
    return write_episode(directory, qpos, np.zeros_like(qpos), np.zeros_like(qpos), action, {CAMERA: frame},
                         sim=True, metadata={"joint_names": load_robot_description().action_joint_names, "task": "synthetic"})


@pytest.fixture(scope="session")
def episode_dir(tmp_path_factory) -> pathlib.Path:
    d = tmp_path_factory.mktemp("episodes")
    for seed in range(6):
        synth_episode(d, seed)
    return d


@pytest.fixture(scope="session")
def camera() -> str:
    return CAMERA


@pytest.fixture(scope="session")
def overrides():
    return tiny_overrides


def tiny_overrides(data_dir, run_dir, *extra) -> list[str]:
    """A few-thousand-parameter state policy on the synthetic episodes, fast enough for a unit test."""
    return ["task=transfer_cube", "policy=tiny", "policy.lowdim_keys=[qpos]", f"data.dir={data_dir}",
            f"run_dir={run_dir}", "data.val_ratio=0.34", "training.batch_size=16", "training.lr=1e-3",
            "training.lr_warmup_steps=5", "training.log_every=5", "training.val_every=1000",
            "training.checkpoint_every=1000", "training.val_batches=2", "training.num_threads=1",
            "policy.num_inference_steps=4", "layer.q_head=compact", "layer.transformer.d_model=16",
            "layer.transformer.d_ff=32", "layer.transformer.rank=2", *extra]


@pytest.fixture(scope="session")
def base_run(episode_dir, tmp_path_factory):
    """One short base-DP training run shared by the tests that need a trained checkpoint."""
    from diffog.training.config import compose_config
    from diffog.training.trainer import train

    run = tmp_path_factory.mktemp("base_run")
    summary = train(compose_config(tiny_overrides(episode_dir, run, "mode=base", "training.num_steps=300",
                                                   "training.lr=3e-3")))
    return summary
