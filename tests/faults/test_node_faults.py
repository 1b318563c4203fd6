"""Node faults: malformed messages sent to running nodes, and SIGINT in the middle of an inference.

A JointState whose fields do not line up (name vs position, velocity or effort lengths), with a NaN position or
with an unknown joint is dropped by the policy node (logged, throttled): no observation is added, the inputs go
stale and the arms hold; the node stays alive and resumes when good messages return. The teleop node's
Interbotix arms drop the same messages, so its followers hold. SIGINT while an inference runs stops the policy
node well inside launch's grace period, with the exit code of a normal stop."""
import math
import signal
import threading
import time

import numpy as np
import pytest
import torch

from diffog.deploy.rate_loop import RateLoop
from diffog.hardware.robot import Arm, ArmState
from tests.core.deploy.tiny_checkpoint import CAMERA, write_tiny_checkpoint

try:
    import rclpy
    from sensor_msgs.msg import JointState

    from diffog.robot.safety import JointLimits
    from diffog.rostools.graph_runner import find_executable
    from tests.ros.node_processes import output, spawn, stop
    from tests.ros.policy_feeder import PolicyFeeder, good_fields
except ImportError:  # core-only environment: the ROS tests skip, the RateLoop one runs
    rclpy = None

needs_ros = pytest.mark.skipif(rclpy is None, reason="run through `make test` (needs env.sh)")
START = [0.0, -0.96, 1.16, 0.0, -0.3, 0.0]
LEFT = "follower_left"


def _nan_position(f):
    f["position"][1] = math.nan


def _unknown_joint(f):
    f["name"][0] = "turret"


# each corrupts one field of every joint_states message of follower_left
CORRUPTIONS = {
    "name_position_lengths": lambda f: f["position"].pop(),
    "velocity_length": lambda f: f.update(velocity=f["velocity"][:5]),
    "effort_length": lambda f: f["effort"].append(0.0),
    "nan_position": _nan_position,
    "unknown_joint": _unknown_joint,
}


def wait_until(predicate, what: str, proc=None, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"{what}: the node exited with {proc.returncode}\n{output(proc)}")
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: timed out" + (f"\n{output(proc)}" if proc is not None else ""))
        time.sleep(0.05)


def unsafe(commands, limits) -> int:
    """Commands that are non-finite or outside the joint limits."""
    n = 0
    for _, topic, values in commands:
        v = np.asarray(values, dtype=np.float64)
        if not np.all(np.isfinite(v)):
            n += 1
        elif not topic.endswith("gripper") and np.any((v < limits.lower[:6] - 1e-6) | (v > limits.upper[:6] + 1e-6)):
            n += 1
    return n


@pytest.fixture(scope="module")
def feeder():
    if rclpy is None:
        pytest.skip("run through `make test` (needs env.sh)")
    ctx = rclpy.Context()
    rclpy.init(context=ctx)
    f = PolicyFeeder(ctx, CAMERA, "fault_feeder")
    try:
        yield f
    finally:
        f.close(ctx)


def policy_args(ckpt, *extra):
    return [str(find_executable("diffog_policy", "policy_node")), "--ros-args", "-p", f"checkpoint:={ckpt}",
            "-p", "n_action_steps:=1", *extra]


@pytest.fixture(scope="class")
def policy(feeder, tmp_path_factory):
    """A policy node (tiny random checkpoint) for one class of tests: stopped before the next node starts."""
    tmp = tmp_path_factory.mktemp("policy_faults")
    ckpt = write_tiny_checkpoint(tmp / "tiny.pt")
    proc = spawn(tmp / "policy.log", *policy_args(ckpt, "-p", "observation_timeout_s:=0.3"))
    try:
        yield proc
    finally:
        print(stop(proc))


@pytest.mark.ros
@needs_ros
class TestPolicyNodeDropsMalformedJointStates:
    @pytest.mark.parametrize("corruption", list(CORRUPTIONS))
    def test_node_stays_alive_and_holds_then_resumes(self, feeder, policy, fault, corruption):
        limits = JointLimits.from_description()
        feeder.corrupt = None
        t_live = time.monotonic()
        wait_until(lambda: len(feeder.commands_since(t_live)) > 20, "commands before the fault", policy)

        feeder.corrupt = CORRUPTIONS[corruption]
        t_fault, grace, window = time.monotonic(), 2.0, 1.5
        time.sleep(grace + window)
        late = feeder.commands_since(t_fault + grace)  # sent although follower_left's inputs were all bad
        fault.unsafe_commands += len(late) + unsafe(feeder.commands_since(t_fault), limits)
        assert policy.poll() is None, f"the policy node died of one bad message:\n{output(policy)}"
        assert not late, f"{len(late)} commands {window} s after follower_left's joint states went bad"
        assert any(f"stale observation: {LEFT}" in r for r in feeder.hold_reasons_since(t_fault)), \
            feeder.hold_reasons_since(t_fault)[-3:]
        wait_until(lambda: f"{LEFT}: dropped joint_states" in output(policy), "a log of the dropped message", policy,
                   timeout=10)

        feeder.corrupt = None  # good messages again: the node resumes by itself
        t_clear = time.monotonic()
        wait_until(lambda: len(feeder.commands_since(t_clear)) > 20, "commands after the fault cleared", policy)
        fault.unsafe_commands += unsafe(feeder.commands_since(t_clear), limits)
        assert fault.unsafe_commands == 0


def slow_checkpoint(path):
    """The tiny checkpoint with a diffusion schedule so long that one inference takes minutes."""
    payload = torch.load(write_tiny_checkpoint(path), weights_only=True)
    payload["config"]["policy"].update(num_train_timesteps=100_000, num_inference_steps=100_000)
    torch.save(payload, path)
    return path


@pytest.mark.ros
@needs_ros
def test_sigint_during_an_inference_stops_the_policy_node_within_2_s(feeder, tmp_path, fault):
    ckpt = slow_checkpoint(tmp_path / "slow.pt")
    feeder.paused, feeder.corrupt = True, None
    proc = spawn(tmp_path / "policy.log", *policy_args(ckpt))
    try:
        # up and holding for want of inputs, then inputs: the next tick starts an inference that does not end
        t_start = time.monotonic()
        wait_until(lambda: feeder.hold_reasons_since(t_start), "the node holding without inputs", proc)
        feeder.paused = False
        t_inputs = time.monotonic()
        wait_until(lambda: time.monotonic() - t_inputs > 2.0 and not feeder.diagnostics_since(time.monotonic() - 1.0),
                   "the planning thread busy in an inference (no ticks for 1 s)", proc, timeout=60)
        assert not feeder.chunks_since(t_start), "the inference ended before the SIGINT"

        t_sigint = time.monotonic()
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
        took = time.monotonic() - t_sigint
        print(f"stopped {took:.2f} s after SIGINT, exit code {proc.returncode}")
        fault.unsafe_commands += len(feeder.commands_since(t_sigint))
        assert took < 2.0 and proc.returncode == 0, f"exit {proc.returncode} after {took:.2f} s\n{output(proc)}"
        assert fault.unsafe_commands == 0
    finally:
        feeder.paused = False
        stop(proc)


class RecordingArm(Arm):
    """A follower that records what it is told."""

    def __init__(self, name):
        super().__init__(name)
        self.commands: list[tuple[float, str]] = []

    def read(self) -> ArmState:
        z = np.zeros(7)
        return ArmState(position=z, velocity=z, effort=z, stamp=time.time())

    def command_arm(self, positions):
        self.commands.append((time.monotonic(), "arm"))

    def command_gripper(self, position):
        self.commands.append((time.monotonic(), "gripper"))

    def set_torque(self, enable, target="all"):
        pass

    def set_operating_mode(self, mode, target="all"):
        pass

    def reboot(self, target="all", enable_torque=False):
        pass


@pytest.mark.ros
@needs_ros
@pytest.mark.parametrize("corruption", list(CORRUPTIONS))
def test_teleop_followers_hold_on_a_malformed_leader_joint_state(fault, corruption):
    """The teleop node's parts in one process: Interbotix leader arms on their joint_states topics, the
    Teleoperator ticking on a RateLoop. A malformed leader message is dropped in the subscription (the executor
    lives on), the leader reads go stale, each tick fails with RobotError and the followers get nothing."""
    from diffog.hardware.robot import Bimanual, RobotError
    from diffog.hardware.teleop import Phase, Teleoperator
    from diffog.robot import load_robot_description
    from diffog_policy.interbotix_arm import InterbotixArm, arm_topics

    d = load_robot_description()
    ctx = rclpy.Context()
    rclpy.init(context=ctx)
    node = rclpy.create_node("teleop_fault", context=ctx)
    corrupt = {"fn": None}
    pubs = {n: node.create_publisher(JointState, arm_topics(d.ros_interface, n)["joint_states"], 10)
            for n in d.ros_interface.leaders}

    def publish():
        for name, pub in pubs.items():
            fields = good_fields()
            if name == d.ros_interface.leaders[0] and corrupt["fn"] is not None:
                corrupt["fn"](fields)
            msg = JointState(**fields)
            msg.header.stamp = node.get_clock().now().to_msg()
            pub.publish(msg)

    node.create_timer(0.02, publish)
    leaders = Bimanual(dict(zip(d.arms, (InterbotixArm(node, n, d.ros_interface) for n in d.ros_interface.leaders))),
                       "leader", d)
    followers = Bimanual({side: RecordingArm(f"follower_{side}") for side in d.arms}, "follower", d)
    teleop = Teleoperator(leaders, followers, d)
    teleop.phase, teleop.last_command = Phase.RUNNING, np.tile([*START, 0.0], 2)  # prepared, tracking
    executor = rclpy.executors.SingleThreadedExecutor(context=ctx)
    executor.add_node(node)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    errors = []
    loop = RateLoop(d.control_rate_hz, teleop.tick, on_error=errors.append)
    sent = lambda t: [c for a in followers.arms.values() for c in a.commands if c[0] >= t]  # noqa: E731
    try:
        wait_until(lambda: _reads(leaders), "leader joint states", timeout=60)
        t0 = time.monotonic()
        loop.start()
        wait_until(lambda: len(sent(t0)) > 20, "followers tracking the leaders", timeout=60)

        corrupt["fn"] = CORRUPTIONS[corruption]
        t_fault, grace, window = time.monotonic(), 1.5, 1.0
        time.sleep(grace + window)
        late = sent(t_fault + grace)
        fault.unsafe_commands += len(late)
        assert spinner.is_alive(), "a subscription callback raised and ended the executor"
        assert not late, f"{len(late)} follower commands from malformed leader joint states"
        assert errors and all(isinstance(e, RobotError) and "no joint_states" in str(e) for e in errors), errors[-3:]

        corrupt["fn"] = None
        t_clear = time.monotonic()
        wait_until(lambda: len(sent(t_clear)) > 20, "followers tracking again", timeout=60)
        assert fault.unsafe_commands == 0
    finally:
        loop.stop()
        executor.shutdown()
        node.destroy_node()
        rclpy.shutdown(context=ctx)


def _reads(bimanual) -> bool:
    try:
        bimanual.read()
        return True
    except Exception:  # noqa: BLE001 - not yet
        return False


@pytest.mark.parametrize("rate", [math.nan, math.inf, 0.0, -50.0])
def test_rate_loop_refuses_a_nan_infinite_or_non_positive_rate(fault, rate):
    ticks = []
    with pytest.raises(ValueError, match="rate_hz must be a positive finite number"):
        RateLoop(rate, lambda: ticks.append(1), on_error=print)
    assert ticks == []  # nothing ran
