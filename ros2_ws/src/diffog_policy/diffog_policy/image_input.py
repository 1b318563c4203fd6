"""Decoding of incoming sensor_msgs/Image for the nodes that consume camera streams."""
import numpy as np
from rclpy.node import Node
from sensor_msgs.msg import Image

from diffog.deploy.aloha_topics import image_from_msg_fields


def decode_image(node: Node, camera: str, msg: Image) -> np.ndarray | None:
    """The image as HxWx3 uint8, or None (logged, throttled) when its encoding or size cannot be used."""
    try:
        return image_from_msg_fields(msg.encoding, msg.height, msg.width, msg.step, bytes(msg.data))
    except ValueError as e:
        node.get_logger().error(f"{camera}: {e}", throttle_duration_sec=5.0)
        return None
