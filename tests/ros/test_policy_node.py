"""The policy node in its own process over DDS, with a tiny random checkpoint: live observations give finite,
limit-respecting commands; a NaN joint state (dropped), a stale camera and the e-stop each make it hold."""
import subprocess
import threading
import time

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy", reason="run through `make test` (needs env.sh)")
from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from diffog_msgs.msg import ActionChunk  # noqa: E402
from interbotix_xs_msgs.msg import JointGroupCommand, JointSingleCommand  # noqa: E402
from sensor_msgs.msg import Image, JointState  # noqa: E402
from std_srvs.srv import SetBool  # noqa: E402

from diffog.deploy.aloha_topics import AlohaTopics  # noqa: E402
from diffog.rostools.graph_runner import find_executable  # noqa: E402
from diffog.robot.safety import JointLimits  # noqa: E402
from tests.core.deploy.tiny_checkpoint import CAMERA, write_tiny_checkpoint  # noqa: E402

pytestmark = pytest.mark.ros
TOPICS = AlohaTopics.load()
LIMITS = JointLimits.from_description()
START = [0.0, -0.96, 1.16, 0.0, -0.3, 0.0]
NAMES = [*TOPICS.arm_joints, "gripper", "left_finger", "right_finger"]


class Harness:
    """Feeds the node joint states (50 Hz) and camera frames (25 Hz) stamped now, and records what it sends."""

    def __init__(self, ctx):
        self.node = rclpy.create_node("policy_node_test", context=ctx)
        self.nan = False
        self.camera_on = True
        self.lock = threading.Lock()
        self.commands: list[tuple[float, str, list[float]]] = []
        self.chunks: list[ActionChunk] = []
        self.diagnostics: list[dict] = []
        self.joint_pubs = {f: self.node.create_publisher(JointState, TOPICS.topic("joint_states", arm_ns=f), 10)
                           for f in TOPICS.followers}
        self.image_pub = self.node.create_publisher(Image, TOPICS.topic("camera_image", camera=CAMERA), 10)
        for f in TOPICS.followers:
            self.node.create_subscription(JointGroupCommand, TOPICS.topic("arm_group_command", arm_ns=f),
                                          lambda m, f=f: self._cmd(f, list(m.cmd)), 50)
            self.node.create_subscription(JointSingleCommand, TOPICS.topic("gripper_command", arm_ns=f),
                                          lambda m, f=f: self._cmd(f + "/gripper", [m.cmd]), 50)
        self.node.create_subscription(ActionChunk, "/policy/action_chunk", self.chunks.append, 10)
        self.node.create_subscription(DiagnosticArray, "/diagnostics", lambda m: self.diagnostics.append(
            {"t": time.monotonic(), **{kv.key: kv.value for kv in m.status[0].values}}), 10)
        self.estop = self.node.create_client(SetBool, "/policy/estop")
        self.node.create_timer(0.02, self._joints)
        self.node.create_timer(0.04, self._image)
        self.executor = rclpy.executors.SingleThreadedExecutor(context=ctx)
        self.executor.add_node(self.node)
        threading.Thread(target=self.executor.spin, daemon=True).start()

    def _cmd(self, topic, values):
        with self.lock:
            self.commands.append((time.monotonic(), topic, values))

    def _joints(self):
        stamp = self.node.get_clock().now().to_msg()
        for f, pub in self.joint_pubs.items():
            pos = [*START, 0.5, 0.04, -0.04]
            if self.nan and f == "follower_left":
                pos[1] = float("nan")
            msg = JointState(name=NAMES, position=pos)
            msg.header.stamp = stamp
            pub.publish(msg)

    def _image(self):
        if self.camera_on:
            msg = Image(height=24, width=32, encoding="rgb8", step=96, data=bytes(24 * 32 * 3))
            msg.header.stamp = self.node.get_clock().now().to_msg()
            self.image_pub.publish(msg)

    def commands_since(self, t):
        with self.lock:
            return [c for c in self.commands if c[0] >= t]

    def wait_for_commands(self, timeout=60.0):
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if len(self.commands_since(t0)) > 20:
                return
            time.sleep(0.1)
        raise AssertionError("the policy node sent no commands")

    def hold_reasons_since(self, t):
        return [d["hold_reason"] for d in self.diagnostics if d["t"] >= t and d["hold_reason"]]

    def holds(self, t_fault, grace=1.5, window=1.0):
        """True when commands stop within `grace` s of the fault and stay stopped for `window` s."""
        time.sleep(grace + window)
        return not self.commands_since(t_fault + grace)


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    ckpt = write_tiny_checkpoint(tmp_path_factory.mktemp("policy") / "tiny.pt")
    exe = find_executable("diffog_policy", "policy_node")
    proc = subprocess.Popen([str(exe), "--ros-args", "-p", f"checkpoint:={ckpt}", "-p", "n_action_steps:=1",
                             "-p", "observation_timeout_s:=0.3"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    ctx = rclpy.Context()
    rclpy.init(context=ctx)
    h = Harness(ctx)
    try:
        yield h
    finally:
        h.executor.shutdown()
        h.node.destroy_node()
        rclpy.shutdown(context=ctx)
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
        print(out)


@pytest.fixture
def live(harness):
    harness.nan, harness.camera_on = False, True
    harness.wait_for_commands()
    return harness


def test_commands_are_finite_and_within_the_joint_limits(live):
    t0 = time.monotonic()
    time.sleep(1.5)
    cmds = live.commands_since(t0)
    arms = np.array([c[2] for c in cmds if not c[1].endswith("gripper")])
    grippers = np.array([c[2][0] for c in cmds if c[1].endswith("gripper")])
    assert len(arms) > 40 and len(grippers) > 40  # two arms at ~50 Hz
    assert np.all(np.isfinite(arms)) and np.all(np.isfinite(grippers))
    assert np.all((arms >= LIMITS.lower[:6]) & (arms <= LIMITS.upper[:6]))
    g = TOPICS.gripper
    assert np.all((grippers >= g.joint_close - 1e-6) & (grippers <= g.joint_open + 1e-6))
    chunk = live.chunks[-1]
    assert chunk.refiner == "diffog" and len(chunk.refined_chunk) == chunk.horizon * 14
    assert np.all(np.isfinite(chunk.refined_chunk)) and len(chunk.past_action) == 14
    d = live.diagnostics[-1]
    assert {"observation_age_s", "inference_s", "refinement_s", "publish_s", "achieved_rate_hz"} <= set(d)


def test_nan_joint_state_is_dropped_and_holds(live):
    """The NaN message adds no observation (the node logs and drops it): the follower's inputs go stale."""
    live.nan = True
    t_fault = time.monotonic()
    assert live.holds(t_fault), "commands continued after a NaN joint state"
    assert any("stale observation: follower_left" in r for r in live.hold_reasons_since(t_fault))


def test_stale_camera_holds(live):
    live.camera_on = False
    t_fault = time.monotonic()
    assert live.holds(t_fault), "commands continued with a stale camera"
    assert any(f"stale observation: {CAMERA}" in r for r in live.hold_reasons_since(t_fault))


def test_estop_holds_until_released(live):
    fut = live.estop.call_async(SetBool.Request(data=True))
    t_fault = time.monotonic()
    while not fut.done() and time.monotonic() - t_fault < 10:
        time.sleep(0.05)
    assert fut.result().success
    assert live.holds(t_fault)
    live.estop.call_async(SetBool.Request(data=False))
    live.wait_for_commands(timeout=10.0)


def test_refiner_switches_at_run_time_and_unknown_names_are_refused(live):
    from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
    from rcl_interfaces.srv import SetParameters

    client = live.node.create_client(SetParameters, "/policy/set_parameters")

    def set_refiner(name):
        value = ParameterValue(type=ParameterType.PARAMETER_STRING, string_value=name)
        fut = client.call_async(SetParameters.Request(parameters=[Parameter(name="refiner", value=value)]))
        t0 = time.monotonic()
        while not fut.done() and time.monotonic() - t0 < 10:
            time.sleep(0.05)
        return fut.result().results[0]

    assert client.wait_for_service(timeout_sec=10)
    try:
        assert set_refiner("clip").successful
        t0 = time.monotonic()
        while time.monotonic() - t0 < 10 and (not live.chunks or live.chunks[-1].refiner != "clip"):
            time.sleep(0.1)
        assert live.chunks[-1].refiner == "clip"
        bad = set_refiner("smooth")
        assert not bad.successful and "unknown refiner" in bad.reason
    finally:
        set_refiner("diffog")
