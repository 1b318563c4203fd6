"""Camera node: one camera (RealSense, or USB through OpenCV) published as sensor_msgs/Image on
aloha.yaml's camera_image topic (e.g. /cam_high/camera/color/image_rect_raw, as ALOHA's RealSense launch names
it), stamped at capture, and optionally as sensor_msgs/CompressedImage (JPEG) on <topic>/compressed.

A thin ROS shell over diffog.hardware.cameras. A missing camera ends the node at start with the backend's
message; a camera that stops delivering is reported (throttled) and read again at every tick.
"""
from __future__ import annotations

import cv2
import numpy as np
from rclpy.node import Node
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from diffog.hardware.cameras import CameraError, open_camera
from diffog_policy.node_common import robot_description, spin_main, stamp_from_s

PARAMETERS = {
    "camera": "cam_high",          # one of aloha.yaml `cameras`; names the topic and the frame_id
    "backend": "realsense",        # realsense | opencv (the sim node serves the sim's cameras)
    "device": "",                  # realsense: serial number ("" = the only one); opencv: /dev/videoN
    "width": 640,
    "height": 480,
    "fps": 30.0,
    "compressed": False,           # also publish JPEG CompressedImage on <topic>/compressed
    "jpeg_quality": 90,
    "robot_description": "",
}


class CameraNode(Node):
    def __init__(self) -> None:
        super().__init__("camera")
        p = {k: self.declare_parameter(k, v).value for k, v in PARAMETERS.items()}
        d = robot_description(p["robot_description"])
        self.name = p["camera"]
        if self.name not in d.cameras:
            raise ValueError(f"unknown camera {self.name!r}; aloha.yaml has {d.cameras}")
        self.camera = open_camera(p["backend"], self.name, device=p["device"], width=p["width"], height=p["height"],
                                  fps=p["fps"])
        topic = d.ros_interface.camera_image.format(camera=self.name)
        self.image_pub = self.create_publisher(Image, topic, 2)
        self.compressed_pub = self.create_publisher(CompressedImage, f"{topic}/compressed", 2) \
            if p["compressed"] else None
        self.jpeg_params = [int(cv2.IMWRITE_JPEG_QUALITY), int(p["jpeg_quality"])]
        # Captures run on the executor's thread (the node serves nothing else): device reads pace it.
        self.create_timer(1.0 / p["fps"], self._capture)
        self.get_logger().info(f"{self.name}: {p['backend']} {p['width']}x{p['height']}@{p['fps']} on {topic}")

    def _capture(self) -> None:
        try:
            frame = self.camera.read()
        except CameraError as e:
            self.get_logger().error(str(e), throttle_duration_sec=2.0)
            return
        if not self.context.ok():  # shut down (SIGINT/SIGTERM) while the frame was captured
            return
        header = Header(stamp=stamp_from_s(frame.stamp), frame_id=f"{self.name}_color_optical_frame")
        img = np.ascontiguousarray(frame.image)
        self.image_pub.publish(Image(header=header, height=img.shape[0], width=img.shape[1], encoding="rgb8",
                                     is_bigendian=0, step=3 * img.shape[1], data=img.tobytes()))
        if self.compressed_pub is not None:
            ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(img, cv2.COLOR_RGB2BGR), self.jpeg_params)
            if ok:  # image_transport's format string for a JPEG of an rgb8 image
                self.compressed_pub.publish(CompressedImage(header=header, format="rgb8; jpeg compressed bgr8",
                                                            data=jpeg.tobytes()))

    def destroy_node(self) -> None:
        self.camera.close()
        super().destroy_node()


def main(args=None) -> None:
    spin_main(CameraNode, args, fatal=(CameraError, ValueError), logger="camera")


if __name__ == "__main__":
    main()
