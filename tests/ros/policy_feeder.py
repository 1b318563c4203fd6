"""A test node that feeds a policy node its inputs, stamped now (joint states 50 Hz, one camera 25 Hz), and records
what the node sends: commands, chunks and its diagnostics. Faults are set on it while it runs: `corrupt` edits
follower_left's JointState fields, `camera_on` / `paused` stop the camera / every input."""
import threading
import time

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from diffog_msgs.msg import ActionChunk
from interbotix_xs_msgs.msg import JointGroupCommand, JointSingleCommand
from sensor_msgs.msg import Image, JointState

from diffog.deploy.aloha_topics import AlohaTopics

TOPICS = AlohaTopics.load()
START = [0.0, -0.96, 1.16, 0.0, -0.3, 0.0]
NAMES = [*TOPICS.arm_joints, "gripper", "left_finger", "right_finger"]


def good_fields() -> dict:
    return {"name": list(NAMES), "position": [*START, 0.5, 0.04, -0.04], "velocity": [0.0] * 9, "effort": [0.0] * 9}


class PolicyFeeder:
    def __init__(self, ctx, camera: str, name: str = "policy_feeder"):
        self.node = rclpy.create_node(name, context=ctx)
        self.corrupt = None  # callable editing follower_left's fields in place
        self.camera_on, self.paused = True, False
        self.lock = threading.Lock()
        self.commands: list[tuple[float, str, list[float]]] = []
        self.chunks: list[tuple[float, ActionChunk]] = []
        self.diagnostics: list[dict] = []  # {"t": when heard, **the policy's key values}
        self.joint_pubs = {f: self.node.create_publisher(JointState, TOPICS.topic("joint_states", arm_ns=f), 10)
                           for f in TOPICS.followers}
        self.image_pub = self.node.create_publisher(Image, TOPICS.topic("camera_image", camera=camera), 10)
        for f in TOPICS.followers:
            self.node.create_subscription(JointGroupCommand, TOPICS.topic("arm_group_command", arm_ns=f),
                                          lambda m, f=f: self._record(self.commands, (f, list(m.cmd))), 50)
            self.node.create_subscription(JointSingleCommand, TOPICS.topic("gripper_command", arm_ns=f),
                                          lambda m, f=f: self._record(self.commands, (f + "/gripper", [m.cmd])), 50)
        self.node.create_subscription(ActionChunk, "/policy/action_chunk", lambda m: self._record(self.chunks, (m,)), 10)
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, 10)
        self.node.create_timer(0.02, self._publish_joints)
        self.node.create_timer(0.04, self._publish_image)
        self.executor = rclpy.executors.SingleThreadedExecutor(context=ctx)
        self.executor.add_node(self.node)
        threading.Thread(target=self.executor.spin, daemon=True).start()

    def _record(self, log, item):
        with self.lock:
            log.append((time.monotonic(), *item))

    def _on_diagnostics(self, msg):
        for s in msg.status:
            if s.name.startswith("policy"):
                with self.lock:
                    self.diagnostics.append({"t": time.monotonic(), **{kv.key: kv.value for kv in s.values}})

    def _publish_joints(self):
        if self.paused:
            return
        stamp = self.node.get_clock().now().to_msg()
        for f, pub in self.joint_pubs.items():
            fields = good_fields()
            if f == "follower_left" and self.corrupt is not None:
                self.corrupt(fields)
            msg = JointState(**fields)
            msg.header.stamp = stamp
            pub.publish(msg)

    def _publish_image(self):
        if self.camera_on and not self.paused:
            msg = Image(height=24, width=32, encoding="rgb8", step=96, data=bytes(24 * 32 * 3))
            msg.header.stamp = self.node.get_clock().now().to_msg()
            self.image_pub.publish(msg)

    def commands_since(self, t):
        with self.lock:
            return [c for c in self.commands if c[0] >= t]

    def chunks_since(self, t):
        with self.lock:
            return [m for when, m in self.chunks if when >= t]

    def diagnostics_since(self, t):
        with self.lock:
            return [d for d in self.diagnostics if d["t"] >= t]

    def hold_reasons_since(self, t):
        return [d["hold_reason"] for d in self.diagnostics_since(t) if d.get("hold_reason")]

    def close(self, ctx):
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.shutdown(context=ctx)
