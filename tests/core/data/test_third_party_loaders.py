"""Our episodes through loader code that mirrors the ALOHA ecosystem's own: ACT's EpisodicDataset, ALOHA's
compressed-image loading (ACT++ / aloha visualize_episodes) and openpi's ALOHA -> LeRobot converter, whose
`add_frame` refuses a feature whose dtype or shape differs from the declared one."""
import cv2
import h5py
import numpy as np
import pytest

from diffog.data.aloha_hdf5 import write_episode
from diffog.sim.make_dataset import dataset_dir

T, H, W = 5, 24, 32
CAMS = ("cam_high", "cam_left_wrist")


def episode(tmp_path, compress):
    rng = np.random.default_rng(0)
    images = {c: rng.integers(0, 255, (T, H, W, 3), dtype=np.uint8) for c in CAMS}
    return write_episode(tmp_path, *(rng.normal(size=(T, 14)) for _ in range(4)), images, compress=compress, sim=True)


def act_episodic_dataset_item(path, start_ts=2):
    """act/utils.py EpisodicDataset.__getitem__ (raw images), as the original ACT reads an episode."""
    with h5py.File(path, "r") as root:
        is_sim = root.attrs["sim"]
        original_action_shape = root["/action"].shape
        qpos = root["/observations/qpos"][start_ts]
        image_dict = {cam: root[f"/observations/images/{cam}"][start_ts] for cam in CAMS}
        action = root["/action"][start_ts:] if is_sim else root["/action"][max(0, start_ts - 1):]
    all_cam_images = np.stack([image_dict[cam] for cam in CAMS], axis=0)
    return original_action_shape, qpos, all_cam_images, action


def aloha_compressed_images(path):
    """ALOHA's loaders of compressed episodes: every camera's padded rows stacked with np.array, then decoded."""
    with h5py.File(path, "r") as root:
        padded = np.array([root[f"/observations/images/{cam}"][()] for cam in CAMS])  # (cams, T, L)
    return {cam: np.array([cv2.imdecode(row, 1) for row in padded[i]]) for i, cam in enumerate(CAMS)}


def lerobot_add_frame_check(frame: dict, features: dict):
    """lerobot validate_frame: each value's dtype and shape must be the declared feature's."""
    for key, value in frame.items():
        spec = features[key]
        if np.dtype(spec["dtype"]) != value.dtype:
            raise ValueError(f"The feature '{key}' of dtype '{value.dtype}' is not of the expected dtype "
                             f"'{spec['dtype']}'.")
        if tuple(spec["shape"]) != value.shape:
            raise ValueError(f"The feature '{key}' of shape '{value.shape}' does not have the expected shape")


def test_original_act_loader_reads_raw_episodes(tmp_path):
    shape, qpos, images, action = act_episodic_dataset_item(episode(tmp_path, compress=False))
    assert shape == (T, 14) and qpos.shape == (14,) and qpos.dtype == np.float32
    assert images.shape == (2, H, W, 3) and images.dtype == np.uint8 and action.shape == (T - 2, 14)


def test_aloha_stacks_and_decodes_compressed_cameras(tmp_path):
    decoded = aloha_compressed_images(episode(tmp_path, compress=True))
    assert all(v.shape == (T, H, W, 3) for v in decoded.values())


@pytest.mark.parametrize("compress", [False, True])
def test_openpi_lerobot_conversion_accepts_our_streams(tmp_path, compress):
    path = episode(tmp_path, compress)
    features = {"observation.state": {"dtype": "float32", "shape": (14,)},
                "action": {"dtype": "float32", "shape": (14,)},
                **{f"observation.images.{c}": {"dtype": "uint8", "shape": (H, W, 3)} for c in CAMS}}
    with h5py.File(path, "r") as ep:  # openpi convert_aloha_data_to_lerobot.py load_raw_episode_data
        state, action = ep["/observations/qpos"][:], ep["/action"][:]
        imgs = {c: (ep[f"/observations/images/{c}"][:] if ep[f"/observations/images/{c}"].ndim == 4 else
                    np.array([cv2.cvtColor(cv2.imdecode(r, 1), cv2.COLOR_BGR2RGB) for r in ep[f"/observations/images/{c}"]]))
                for c in CAMS}
    for i in range(T):
        lerobot_add_frame_check({"observation.state": state[i], "action": action[i],
                                 **{f"observation.images.{c}": imgs[c][i] for c in CAMS}}, features)


def test_sim_data_sets_say_sim_in_their_folder_name(tmp_path):
    # LeRobot's ALOHA importer reads raw sim images only from a folder whose name says "sim"
    assert "sim" in dataset_dir(tmp_path, "move_stack").name
