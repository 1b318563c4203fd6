"""Rosbag recording and replay nodes (MCAP, via diffog.rostools.rosbag_io): `bag_recorder` writes the topics it
discovers, `bag_player` publishes a bag's messages at their recorded pace with /clock, so nodes run with
use_sim_time:=true see the recorded times (what `ros2 bag record` / `ros2 bag play --clock` do; rosbag2 has
no pip wheels here). The recorder stops on the first SIGINT / SIGTERM and ignores later ones (`ros2 launch`
without a terminal sends two), so the bag always closes whole."""
from __future__ import annotations

import importlib
import re
import time

import rclpy
from ament_index_python.packages import get_resource
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rclpy.time import Time
from rosgraph_msgs.msg import Clock

from diffog.rostools.rosbag_io import BagRecorder, bag_topics, interrupt_once, read_bag
from diffog_policy.node_common import spin_main

SKIP = ("/rosout", "/parameter_events", "/clock")


MSGTYPE = re.compile(r"^([a-z][a-z0-9_]*)/msg/([A-Z][A-Za-z0-9]*)$")


def message_class(msgtype: str):
    """The rclpy class of 'pkg/msg/Name'. A bag names the types, so only an interface package registered in the
    ament index (rosidl_interfaces, i.e. one that declares that message) is imported, never an arbitrary module.
    (rosidl_runtime_py's get_message does the import part, but has no pip wheel among the pinned ones.)"""
    m = MSGTYPE.match(msgtype)
    if m is None:
        raise ValueError(f"{msgtype!r} is not a message type name (package/msg/Name)")
    pkg, name = m.groups()
    try:
        declared, _ = get_resource("rosidl_interfaces", pkg)
    except LookupError:
        raise ValueError(f"{msgtype!r}: {pkg} is not an installed ROS interface package") from None
    if f"msg/{name}.msg" not in declared.split() and f"msg/{name}.idl" not in declared.split():
        raise ValueError(f"{msgtype!r}: {pkg} declares no message {name}")
    return getattr(importlib.import_module(f"{pkg}.msg"), name)


class BagRecorderNode(Node):
    """Records `topics` (all but ROS internals when empty) to the new MCAP bag `output`, subscribing to each topic
    as it appears; best-effort when any publisher is (cameras), reliable otherwise."""

    def __init__(self) -> None:
        super().__init__("bag_recorder")
        output = self.declare_parameter("output", "").value
        self.wanted = set(self.declare_parameter("topics", [""]).value) - {""}
        humble = self.declare_parameter("humble_compatible", False).value  # metadata Humble's rosbag2 reads
        if not output:
            raise ValueError("parameter 'output' (the bag directory to create) is required")
        self.bag = BagRecorder(output, humble=humble)
        self.subs = {}
        self.create_timer(0.2, self._discover)
        self.get_logger().info(f"recording {sorted(self.wanted) or 'all topics'} to {output}")

    def _discover(self) -> None:
        for topic, types in self.get_topic_names_and_types():
            if topic in self.subs or topic in SKIP or (self.wanted and topic not in self.wanted):
                continue
            pubs = self.get_publishers_info_by_topic(topic)
            if not pubs:
                continue
            best_effort = any(p.qos_profile.reliability == ReliabilityPolicy.BEST_EFFORT for p in pubs)
            qos = QoSProfile(depth=100, reliability=ReliabilityPolicy.BEST_EFFORT if best_effort
                             else ReliabilityPolicy.RELIABLE)
            self.bag.add_topic(topic, types[0])
            self.subs[topic] = self.create_subscription(
                message_class(types[0]), topic,
                lambda data, t=topic: self.bag.write(t, self.get_clock().now().nanoseconds, data), qos, raw=True)

    def destroy_node(self) -> None:
        self.bag.close()
        # stdout, not the ROS logger: on SIGINT the context is already shut down here
        print(f"[bag_recorder] wrote {self.bag.count} messages to {self.bag.path}", flush=True)
        super().destroy_node()


class BagPlayerNode(Node):
    """Publishes `topics` of `bag` (all when empty) at `rate` x the recorded pace, with /clock from the bag."""

    def __init__(self) -> None:
        super().__init__("bag_player")
        self.path = self.declare_parameter("bag", "").value
        wanted = set(self.declare_parameter("topics", [""]).value) - {""}
        self.rate = self.declare_parameter("rate", 1.0).value
        self.wait_s = self.declare_parameter("wait_for_subscribers_s", 0.0).value
        if not self.path or self.rate <= 0:
            raise ValueError("parameters 'bag' (a recorded bag) and a positive 'rate' are required")
        self.topics = {t: m for t, m in bag_topics(self.path).items() if (not wanted or t in wanted) and t not in SKIP}
        if not self.topics:
            raise KeyError(f"bag {self.path} has none of the topics {sorted(wanted)}")
        if missing := wanted - set(self.topics):
            self.get_logger().warning(f"bag {self.path} lacks {sorted(missing)}; playing the rest")
        self.pubs = {t: self.create_publisher(message_class(m), t, 100) for t, m in self.topics.items()}
        self.clock_pub = self.create_publisher(Clock, "/clock", 10)

    def play(self) -> int:
        deadline = time.monotonic() + self.wait_s  # until every topic has a subscriber (e.g. a loading policy)
        while time.monotonic() < deadline and any(p.get_subscription_count() == 0 for p in self.pubs.values()):
            time.sleep(0.1)
        start_wall, start_bag, n = None, None, 0
        for m in read_bag(self.path, self.topics):
            if start_wall is None:
                start_wall, start_bag = time.monotonic(), m.stamp_ns
            wait = start_wall + (m.stamp_ns - start_bag) * 1e-9 / self.rate - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            if not rclpy.ok():
                break
            self.clock_pub.publish(Clock(clock=Time(nanoseconds=m.stamp_ns).to_msg()))
            self.pubs[m.topic].publish(m.data)
            n += 1
        self.get_logger().info(f"played {n} messages from {self.path}")
        return n


def record_main(args=None) -> None:
    # before rclpy.init: rclpy's handlers chain to it; the first signal also shuts rclpy down itself, so the
    # executor stops (the discovery timer runs Python in the main thread every 0.2 s, where the handler runs)
    interrupt_once(first_raises=False, on_first=rclpy.try_shutdown)
    spin_main(BagRecorderNode, args)


def play_main(args=None) -> None:
    rclpy.init(args=args)
    try:
        node = BagPlayerNode()
        node.play()
        node.destroy_node()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if rclpy.ok():
            rclpy.shutdown()


if __name__ == "__main__":
    record_main()
