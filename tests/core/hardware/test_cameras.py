"""Camera backends: clear errors for missing devices, and frames from the sim stamped at capture."""
import time

import numpy as np
import pytest

from diffog.hardware.cameras import CameraError, OpenCVCamera, RealSenseCamera, SimCamera, open_camera


def test_realsense_without_pyrealsense2_is_a_clear_error():
    try:
        import pyrealsense2  # noqa: F401
        pytest.skip("pyrealsense2 is installed here")
    except ImportError:
        pass
    with pytest.raises(CameraError, match="needs pyrealsense2"):
        RealSenseCamera("cam_high", "123456")


def test_missing_usb_camera_is_a_clear_error():
    with pytest.raises(CameraError, match="no video device at '/dev/video_missing'"):
        OpenCVCamera("cam_low", "/dev/video_missing")
    with pytest.raises(CameraError, match="no video device"):
        open_camera("opencv", "cam_low", device="/dev/video_missing")


def test_bad_parameters():
    with pytest.raises(ValueError, match="unknown camera backend"):
        open_camera("webcam", "cam_low")
    with pytest.raises(ValueError, match="positive"):
        OpenCVCamera("cam_low", "/dev/video_missing", width=0)


def test_sim_camera_renders_small_stamped_frames():
    sim = pytest.importorskip("diffog.sim")
    env = sim.make_env("transfer_cube", seed=0, render_size=(24, 32), cameras=["cam_high"])
    try:
        cam = open_camera("sim", "cam_high", env=env)
        t0 = time.time()
        frame = cam.read()
        assert frame.image.shape == (24, 32, 3) and frame.image.dtype == np.uint8 and frame.image.std() > 0
        assert t0 <= frame.stamp <= time.time()
        with pytest.raises(CameraError, match="renders"):
            SimCamera("cam_low", env)
    finally:
        env.close()
    with pytest.raises(CameraError, match="without render_size"):
        SimCamera("cam_high", sim.make_env("transfer_cube", seed=0))
