"""Camera backends: clear errors for missing devices, and frames (here from a video file) stamped at capture."""
import time

import numpy as np
import pytest

import cv2

from diffog.hardware.cameras import CameraError, OpenCVCamera, RealSenseCamera, open_camera


def test_realsense_without_pyrealsense2_is_a_clear_error():
    try:
        import pyrealsense2  # noqa: F401
        pytest.skip("pyrealsense2 is installed here")
    except ImportError:
        pass
    with pytest.raises(CameraError, match="needs pyrealsense2"):
        RealSenseCamera("cam_high", "123456")


def test_realsense_wheel_without_its_binary_is_a_clear_error(monkeypatch):
    import sys
    import types

    monkeypatch.setitem(sys.modules, "pyrealsense2", types.ModuleType("pyrealsense2"))  # imports, holds nothing
    with pytest.raises(CameraError, match="needs pyrealsense2 with librealsense.*AttributeError"):
        RealSenseCamera("cam_high")


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


def write_video(path, n=6, size=(24, 32)):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (size[1], size[0]))
    for k in range(n):
        writer.write(np.full((*size, 3), 40 * k, np.uint8))
    writer.release()
    return path


def test_a_video_file_plays_as_a_camera_with_frames_stamped_at_capture(tmp_path):
    cam = open_camera("opencv", "cam_low", device=str(write_video(tmp_path / "cam.avi")), width=32, height=24)
    t0 = time.time()
    frames = [cam.read() for _ in range(6)]
    assert all(f.image.shape == (24, 32, 3) and f.image.dtype == np.uint8 for f in frames)
    assert frames[-1].image.mean() > frames[0].image.mean() and t0 <= frames[0].stamp <= time.time()
    with pytest.raises(CameraError, match="delivered no frame"):
        cam.read()
    cam.close()


def test_the_sim_is_not_a_camera_backend():
    with pytest.raises(ValueError, match="sim node serves"):
        open_camera("sim", "cam_high")
