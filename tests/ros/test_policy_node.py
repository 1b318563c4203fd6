"""The policy node in its own process over DDS, with a tiny random checkpoint: live observations give finite,
limit-respecting commands; a NaN joint state (dropped), a stale camera and the e-stop each make it hold."""
import subprocess
import time

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy", reason="run through `make test` (needs env.sh)")
from std_srvs.srv import SetBool  # noqa: E402

from diffog.rostools.graph_runner import find_executable  # noqa: E402
from diffog.robot.safety import JointLimits  # noqa: E402
from tests.core.deploy.tiny_checkpoint import CAMERA, write_tiny_checkpoint  # noqa: E402
from tests.ros.policy_feeder import TOPICS, PolicyFeeder  # noqa: E402

pytestmark = pytest.mark.ros
LIMITS = JointLimits.from_description()


def nan_position(fields):
    fields["position"][1] = float("nan")


class Harness(PolicyFeeder):
    """The shared feeder, plus the e-stop client and waiting helpers."""

    def __init__(self, ctx):
        super().__init__(ctx, CAMERA, "policy_node_test")
        self.estop = self.node.create_client(SetBool, "/policy/estop")

    def wait_for_commands(self, timeout=60.0):
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if len(self.commands_since(t0)) > 20:
                return
            time.sleep(0.1)
        raise AssertionError("the policy node sent no commands")

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
        h.close(ctx)
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
        print(out)


@pytest.fixture
def live(harness):
    harness.corrupt, harness.camera_on = None, True
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
    chunk = live.chunks_since(0)[-1]
    assert chunk.refiner == "diffog" and len(chunk.refined_chunk) == chunk.horizon * 14
    assert np.all(np.isfinite(chunk.refined_chunk)) and len(chunk.past_action) == 14
    d = live.diagnostics_since(0)[-1]
    assert {"observation_age_s", "inference_s", "refinement_s", "publish_s", "achieved_rate_hz"} <= set(d)


def test_nan_joint_state_is_dropped_and_holds(live):
    """The NaN message adds no observation (the node logs and drops it): the follower's inputs go stale."""
    live.corrupt = nan_position
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
        while time.monotonic() - t0 < 10 and (not live.chunks_since(0) or live.chunks_since(0)[-1].refiner != "clip"):
            time.sleep(0.1)
        assert live.chunks_since(0)[-1].refiner == "clip"
        bad = set_refiner("smooth")
        assert not bad.successful and "unknown refiner" in bad.reason
    finally:
        set_refiner("diffog")
