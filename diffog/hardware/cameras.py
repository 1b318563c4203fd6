"""Camera backends: Intel RealSense (pyrealsense2, imported only when used) and USB cameras through OpenCV (the
sim's cameras are rendered by the sim node, which steps the scene). Each returns RGB HxWx3 uint8 frames stamped at capture (seconds, the wall clock ROS uses)."""
from __future__ import annotations

import abc
import dataclasses
import time

import cv2
import numpy as np


class CameraError(RuntimeError):
    """The camera is missing, busy or stopped delivering frames."""


@dataclasses.dataclass(frozen=True)
class Frame:
    image: np.ndarray   # HxWx3 uint8, RGB
    stamp: float        # s since the epoch, at capture


class Camera(abc.ABC):
    def __init__(self, name: str, width: int, height: int, fps: float):
        if width <= 0 or height <= 0 or fps <= 0:
            raise ValueError(f"camera {name}: width, height and fps must be positive, got {width}x{height}@{fps}")
        self.name, self.width, self.height, self.fps = name, width, height, fps

    @abc.abstractmethod
    def read(self) -> Frame:
        """The next frame; CameraError when none comes."""

    def close(self) -> None:
        """Release the device."""


class RealSenseCamera(Camera):
    """A RealSense colour stream (ALOHA uses D405s), chosen by serial number ("" = the only one connected)."""

    def __init__(self, name: str, serial: str = "", width: int = 640, height: int = 480, fps: float = 30,
                 timeout_s: float = 1.0):
        super().__init__(name, width, height, fps)
        try:
            import pyrealsense2 as rs
            rs.pipeline, rs.config  # noqa: B018 - a wheel without its binary imports as an empty namespace
        except (ImportError, AttributeError) as e:
            raise CameraError(f"camera {name}: the realsense backend needs pyrealsense2 with librealsense "
                              f"(pip install pyrealsense2; not available for every platform): {e!r}") from e
        self._rs = rs
        self._timeout_ms = int(timeout_s * 1000)
        config = rs.config()
        if serial:
            config.enable_device(serial)
        config.enable_stream(rs.stream.color, width, height, rs.format.rgb8, int(fps))
        self._pipeline = rs.pipeline()
        try:
            self._pipeline.start(config)
        except RuntimeError as e:
            raise CameraError(f"camera {name}: no RealSense {serial or '(any)'} at {width}x{height}@{fps}: {e}") from e

    def read(self) -> Frame:
        try:
            frames = self._pipeline.wait_for_frames(self._timeout_ms)
        except RuntimeError as e:
            raise CameraError(f"camera {self.name}: no frame within {self._timeout_ms} ms: {e}") from e
        color = frames.get_color_frame()
        # with global time on (the default) the device stamp is on the host clock, in ms
        global_time = color.get_frame_timestamp_domain() == self._rs.timestamp_domain.global_time
        stamp = color.get_timestamp() / 1000.0 if global_time else time.time()
        return Frame(np.asanyarray(color.get_data()).copy(), stamp)

    def close(self) -> None:
        self._pipeline.stop()


class OpenCVCamera(Camera):
    """A USB (UVC) camera through OpenCV's V4L2 backend: `device` is /dev/videoN or its index; any other path is
    played as a video file (a recorded camera, e.g. to check a pipeline without hardware)."""

    def __init__(self, name: str, device: str | int = 0, width: int = 640, height: int = 480, fps: float = 30):
        super().__init__(name, width, height, fps)
        self.device = device
        v4l2 = isinstance(device, int) or str(device).isdigit() or str(device).startswith("/dev/")
        self._cap = cv2.VideoCapture(int(device) if str(device).isdigit() else device,
                                     cv2.CAP_V4L2 if v4l2 else cv2.CAP_ANY)
        if not self._cap.isOpened():
            self._cap.release()
            raise CameraError(f"camera {name}: no video device at {device!r}")
        self._cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        self._cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        self._cap.set(cv2.CAP_PROP_FPS, fps)

    def read(self) -> Frame:
        if not self._cap.grab():
            raise CameraError(f"camera {self.name}: {self.device!r} delivered no frame")
        stamp = time.time()  # grab() returns when the frame is captured; decoding comes after
        ok, bgr = self._cap.retrieve()
        if not ok:
            raise CameraError(f"camera {self.name}: could not decode a frame from {self.device!r}")
        if bgr.shape[:2] != (self.height, self.width):
            bgr = cv2.resize(bgr, (self.width, self.height), interpolation=cv2.INTER_AREA)
        return Frame(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), stamp)

    def close(self) -> None:
        self._cap.release()


def open_camera(backend: str, name: str, *, device: str = "", width: int = 640, height: int = 480,
                fps: float = 30) -> Camera:
    """A camera by backend name: "realsense" (device = serial) or "opencv" (device = /dev/videoN). The sim's
    cameras are served by the sim node, which renders the scene it steps."""
    if backend == "realsense":
        return RealSenseCamera(name, device, width, height, fps)
    if backend == "opencv":
        return OpenCVCamera(name, device or 0, width, height, fps)
    raise ValueError(f"unknown camera backend {backend!r}; expected realsense or opencv (the sim node serves the "
                     "sim's cameras)")
