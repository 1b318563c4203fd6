"""Sampler windows, min-max normalizer, episode split and the chunk dataset over EpisodeWriter files."""
import numpy as np
import pytest
import torch

from diffog.robot import load_robot_description
from diffog.data.aloha_hdf5 import list_episodes, write_episode
from diffog.data.dataset import ChunkDataset, split_episodes
from diffog.data.normalizer import MinMaxNormalizer
from diffog.data.sampler import SequenceSampler


def test_sampler_pads_episode_edges_by_repeating_edge_frames():
    s = SequenceSampler([20], horizon=16, n_obs_steps=2, n_action_steps=8)
    # starts run from -(n_obs-1) to L - horizon + (n_action-1): 1 + 4 + 7 + 1 windows
    assert len(s) == 20 - 16 + 7 + 1 + 1
    ep, first = s.frame_indices(0)
    assert ep == 0 and first[:3].tolist() == [0, 0, 1]
    _, last = s.frame_indices(len(s) - 1)
    assert last[1] == 12 and last[-7:].tolist() == [19] * 7  # the last executed action is the final one


def test_sampler_keeps_one_window_for_short_episodes_and_rejects_bad_sizes():
    s = SequenceSampler([3, 30], horizon=16, n_obs_steps=2, n_action_steps=8)
    assert [s.frame_indices(i)[0] for i in range(len(s))].count(0) >= 1
    with pytest.raises(ValueError, match="n_action_steps"):
        SequenceSampler([30], horizon=16, n_obs_steps=2, n_action_steps=16)


def test_normalizer_maps_range_to_unit_interval_and_round_trips():
    x = np.stack([np.linspace(-2, 4, 50), np.full(50, 0.3), np.linspace(0, 1e-2, 50)], axis=1)
    norm = MinMaxNormalizer.fit({"action": x})
    y = norm.normalize("action", torch.tensor(x))
    assert y[:, 0].min() == -1 and y[:, 0].max() == 1
    assert torch.allclose(y[:, 1], torch.zeros(50)), "a constant dimension is centred, not divided by ~0"
    assert y[:, 2].abs().max() < 0.06, "a 1 cm range spans the minimum span (0.2), not the whole output range"
    assert torch.allclose(norm.unnormalize("action", y), torch.tensor(x, dtype=torch.float32), atol=1e-6)
    again = MinMaxNormalizer.from_state_dict(norm.state_dict())
    assert torch.equal(again.normalize("action", torch.tensor(x)), y)


def test_a_tiny_data_range_never_maps_onto_the_full_output_range():
    # an idle joint (constant), one that sags by 2 mrad, and one that moves 1 rad
    x = np.stack([np.full(50, 0.4), 0.4 + np.linspace(0, 2e-3, 50), np.linspace(-0.5, 0.5, 50)], axis=1)
    norm = MinMaxNormalizer.fit({"action": x, "qpos": x}, min_span={"action": 0.2, "qpos": 0.2})
    assert norm.span("action").tolist() == pytest.approx([0.2, 0.2, 1.0])
    # the policy's whole output range [-1, 1] is at most +-min_span/2 around the data on the flat joints
    swing = norm.unnormalize("action", torch.tensor([[-1.0, -1.0, -1.0], [1.0, 1.0, 1.0]]))
    assert (swing[1] - swing[0]).tolist() == pytest.approx([0.2, 0.2, 1.0])
    # 0.02 rad of error on a near-constant input reads as 0.2 in normalized units, not ~20
    off = norm.normalize("qpos", torch.tensor([[0.42, 0.421, 0.0]]))
    assert off[0, :2].abs().max() < 0.25
    # observations far outside the data are clipped to the margin; actions are not
    far = torch.tensor([[5.0, 5.0, 5.0]])
    assert norm.normalize_observation("qpos", far).max() == norm.obs_clip == 1.5
    assert norm.normalize("action", far).max() > 40
    again = MinMaxNormalizer.from_state_dict(norm.state_dict())
    assert torch.equal(again.span("action"), norm.span("action")) and again.obs_clip == 1.5


def test_normalizer_settings_are_validated():
    with pytest.raises(ValueError, match="min_span"):
        MinMaxNormalizer.fit({"action": np.zeros((3, 2))}, min_span={"action": 0.0})
    with pytest.raises(ValueError, match="obs_clip"):
        MinMaxNormalizer.fit({"action": np.zeros((3, 2))}, obs_clip=float("nan"))


def test_normalizer_rejects_nan_wrong_width_and_unknown_streams():
    with pytest.raises(ValueError, match="NaN"):
        MinMaxNormalizer.fit({"action": np.array([[0.0], [np.nan]])})
    norm = MinMaxNormalizer.fit({"action": np.zeros((3, 14))})
    with pytest.raises(ValueError, match="expects 14"):
        norm.normalize("action", torch.zeros(2, 7))
    with pytest.raises(KeyError, match="object_poses"):
        norm.normalize("object_poses", torch.zeros(2, 7))


def test_split_is_by_whole_episode_and_deterministic(episode_dir):
    paths = list_episodes(episode_dir)
    train, val = split_episodes(paths, 0.34, seed=3)
    assert len(val) == 2 and not set(train) & set(val) and sorted(train + val) == sorted(paths)
    assert split_episodes(paths, 0.34, seed=3) == (train, val)
    assert split_episodes(paths[:1], 0.5)[0] == paths[:1], "a single episode stays in training"


def test_dataset_windows_hold_observation_history_images_and_action_chunk(episode_dir, camera):
    paths = list_episodes(episode_dir)[:2]
    ds = ChunkDataset(paths, horizon=16, n_obs_steps=2, n_action_steps=8, cameras=[camera], image_size=(12, 16),
                      joint_names=load_robot_description().action_joint_names)
    item = ds[5]
    assert item["obs"]["qpos"].shape == (2, 14) and item["action"].shape == (16, 14)
    img = item["obs"][f"image/{camera}"]
    assert img.shape == (2, 3, 12, 16) and img.dtype == torch.uint8
    # window 5 starts at frame 4: its first action is the action of frame 4
    from diffog.data.aloha_hdf5 import read_episode

    ep = read_episode(paths[0], cameras=[])
    assert np.allclose(item["action"][0].numpy(), ep.action[4]) and np.allclose(item["obs"]["qpos"][1], ep.qpos[5])


def test_frame_skip_uses_every_frame_once_across_phases(episode_dir):
    paths = list_episodes(episode_dir)[:1]
    ds = ChunkDataset(paths, horizon=4, n_obs_steps=2, n_action_steps=2, frame_skip=4)
    assert len(ds.actions) == 4 and sum(len(a) for a in ds.actions) == 40
    full = ChunkDataset(paths, horizon=4, n_obs_steps=2, n_action_steps=2).actions[0]
    assert np.array_equal(ds.actions[1], full[1::4])


def test_dataset_rejects_nan_actions_and_other_joint_layouts(tmp_path):
    q = np.zeros((20, 14))
    bad_dir, other_dir = tmp_path / "bad", tmp_path / "other"
    path = write_episode(bad_dir, q, q, q, q)
    import h5py

    with h5py.File(path, "r+") as f:  # corrupt after writing: EpisodeWriter itself refuses NaN
        f["action"][3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        ChunkDataset([path], horizon=4, n_obs_steps=2, n_action_steps=2)
    names = [f"joint_{i}" for i in range(14)]
    other = write_episode(other_dir, q, q, q, q, metadata={"joint_names": names})
    with pytest.raises(ValueError, match="not among the recorded"):
        ChunkDataset([other], horizon=4, n_obs_steps=2, n_action_steps=2, joint_names=load_robot_description().action_joint_names)
