"""Benchmark: can the episode recorder keep ALOHA's 50 Hz with four 480x640 cameras on this machine?

Feeds EpisodeRecorder (background writer thread, streaming HDF5 flushed every 0.5 s, fletcher32 checksums) as fast
as it takes frames and times until the episode is published, raw and JPEG (ALOHA's COMPRESS), and again without
checksums (what they cost). The reference, in the same run, is ALOHA's own way: all frames buffered in memory and
written at the end into pre-sized datasets with h5py. Printed: frames/s, the ratio to the reference, and the
headroom over the 50 Hz it must hold (>1 keeps up).
"""
from __future__ import annotations

import argparse
import tempfile
import time

import cv2
import h5py
import numpy as np

from diffog.data.recorder import EpisodeRecorder

ARMS = ["follower_left", "follower_right"]
CAMERAS = ["cam_high", "cam_low", "cam_left_wrist", "cam_right_wrist"]
RATE_HZ = 50.0


def frames(n: int, h: int, w: int) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x * 255 // w, y * 255 // h, (x + y) * 255 // (w + h)], -1).astype(np.uint8)
    return [np.clip(base.astype(int) + rng.integers(-8, 8, base.shape), 0, 255).astype(np.uint8) for _ in range(n)]


def recorder_fps(directory: str, images: list[np.ndarray], compress: bool, checksums: bool = True) -> float:
    rec = EpisodeRecorder(directory, ARMS, CAMERAS, rate_hz=RATE_HZ, compress=compress, max_age_s=1e9,
                          checksums=checksums)
    rec.start()
    t0 = time.perf_counter()
    for k, img in enumerate(images):
        now = k / RATE_HZ
        for arm in ARMS:
            rec.joint_state(arm, now, np.zeros(7), np.zeros(7), np.zeros(7))
            rec.arm_command(arm, now, np.zeros(6))
            rec.gripper_command(arm, now, 0.5)
        for cam in CAMERAS:
            rec.image(cam, now, img)
        if not rec.tick(now):
            raise RuntimeError("the benchmark dropped a frame; raise recorder.QUEUE_FRAMES")
    summary = rec.stop()
    return summary.frames / (time.perf_counter() - t0)


def aloha_bulk_fps(directory: str, images: list[np.ndarray], compress: bool) -> float:
    """tonyzhaozh/aloha record_episodes.py: encode (when compressing), then one h5py write at the end."""
    t0 = time.perf_counter()
    data = {c: images for c in CAMERAS}
    if compress:
        param = [int(cv2.IMWRITE_JPEG_QUALITY), 50]
        data = {c: [cv2.imencode(".jpg", im, param)[1] for im in v] for c, v in data.items()}
        pad = max(len(b) for v in data.values() for b in v)
        data = {c: np.stack([np.pad(b.ravel(), (0, pad - len(b))) for b in v]) for c, v in data.items()}
    else:
        data = {c: np.stack(v) for c, v in data.items()}
    with h5py.File(f"{directory}/aloha.hdf5", "w", rdcc_nbytes=1024 ** 2 * 2) as f:
        for c, arr in data.items():
            f.create_dataset(f"observations/images/{c}", data=arr, chunks=(1, *arr.shape[1:]))
        for key in ("observations/qpos", "observations/qvel", "observations/effort", "action"):
            f.create_dataset(key, data=np.zeros((len(images), 14)))
    return len(images) / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--width", type=int, default=640)
    args = parser.parse_args()
    images = frames(args.frames, args.height, args.width)
    print(f"{args.frames} frames, {len(CAMERAS)} cameras {args.height}x{args.width}")
    for compress in (False, True):
        with tempfile.TemporaryDirectory() as d:
            ours = recorder_fps(d, images, compress)
            bare = recorder_fps(d, images, compress, checksums=False)
            ref = aloha_bulk_fps(d, images, compress)
        print(f"{'jpeg' if compress else 'raw ':4}: recorder {ours:7.1f} frames/s ({bare:7.1f} without checksums), "
              f"ALOHA-style bulk write {ref:7.1f} frames/s, ratio {ours / ref:5.2f}, headroom over {RATE_HZ:g} Hz "
              f"{ours / RATE_HZ:5.2f}x")


if __name__ == "__main__":
    main()
