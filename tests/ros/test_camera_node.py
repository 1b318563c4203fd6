"""The camera node: frames (a video file played as the camera) as Image and CompressedImage stamped at capture;
a missing camera ends it clearly."""
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy", reason="run through `make test` (needs env.sh)")
from sensor_msgs.msg import CompressedImage, Image  # noqa: E402

pytestmark = pytest.mark.ros
NODE = [sys.executable, "-m", "diffog_policy.camera_node", "--ros-args"]


def test_missing_usb_camera_exits_with_a_clear_error():
    out = subprocess.run([*NODE, "-p", "backend:=opencv", "-p", "device:=/dev/video_missing", "-p",
                          "camera:=cam_low"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 1
    assert "no video device at '/dev/video_missing'" in out.stdout + out.stderr


def test_camera_publishes_raw_and_jpeg_images(tmp_path):
    video = tmp_path / "cam.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (32, 24))
    for k in range(400):  # 80 s at 5 fps: longer than the test waits
        writer.write(np.full((24, 32, 3), (k * 7) % 255, np.uint8))
    writer.release()
    proc = subprocess.Popen([*NODE, "-p", "backend:=opencv", "-p", f"device:={video}", "-p", "camera:=cam_high",
                             "-p", "width:=32", "-p", "height:=24", "-p", "fps:=5.0", "-p", "compressed:=true"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    ctx = rclpy.Context()
    rclpy.init(context=ctx)
    node = rclpy.create_node("camera_test", context=ctx)
    executor = rclpy.executors.SingleThreadedExecutor(context=ctx)
    executor.add_node(node)
    raw, jpeg = [], []
    topic = "/cam_high/camera/color/image_rect_raw"
    node.create_subscription(Image, topic, raw.append, 10)
    node.create_subscription(CompressedImage, f"{topic}/compressed", jpeg.append, 10)
    try:
        deadline = time.monotonic() + 60
        while not (raw and jpeg) and time.monotonic() < deadline and proc.poll() is None:
            executor.spin_once(timeout_sec=0.1)
        received = time.time()
    finally:
        node.destroy_node()
        rclpy.shutdown(context=ctx)
        proc.terminate()
        try:
            out = proc.communicate(timeout=30)[0]
        except subprocess.TimeoutExpired:
            proc.kill()
            out = proc.communicate()[0]
    assert raw and jpeg, out
    msg = raw[-1]
    assert (msg.height, msg.width, msg.encoding, msg.step) == (24, 32, "rgb8", 96)
    stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
    assert received - 30 < stamp <= received  # stamped at capture, on the wall clock
    image = np.frombuffer(bytes(msg.data), np.uint8).reshape(24, 32, 3)
    assert image.shape == (24, 32, 3)
    decoded = cv2.imdecode(np.frombuffer(bytes(jpeg[-1].data), np.uint8), cv2.IMREAD_COLOR)
    assert decoded.shape == (24, 32, 3) and jpeg[-1].format.startswith("rgb8; jpeg")
