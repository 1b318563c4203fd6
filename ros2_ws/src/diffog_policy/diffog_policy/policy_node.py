"""Policy node: Diffusion Policy + a chosen refiner (none / clip / penalty / diffog) driving the ALOHA followers.

A thin ROS shell over diffog.deploy.PolicyController: subscriptions feed its observation matcher, a RateLoop
thread off the executor (joint-state callbacks never wait) starts an inference whenever the controller says the
next chunk is due (`n_action_steps` actions per inference; with `overlap_inference` early enough to hide the
latency), and a `command_rate_hz` timer streams the refined chunk through the safety filter to the Interbotix
xs_sdk command topics. The sim evaluation (diffog.evaluation) runs the same controller.

Topics (names from aloha.yaml `ros_interface`, identical on the real robot and the sim):
  in   /<follower>/joint_states (sensor_msgs/JointState), /<cam>/camera/color/image_rect_raw (sensor_msgs/Image),
       and for state-based sim policies <state_topic_prefix><key> (std_msgs/Float64MultiArray, e.g. object_poses)
  out  /<follower>/commands/joint_group (arm), /<follower>/commands/joint_single (gripper),
       ~/action_chunk (diffog_msgs/ActionChunk), ~/refinement_stats (diffog_msgs/RefinementStats),
       /diagnostics (latency breakdown, hold reason, achieved rate)
  srv  ~/estop (std_srvs/SetBool): true stops commanding and planning, false resumes.

Holding: on a stale, unmatched or non-finite observation, a non-finite chunk, an unsafe command or the e-stop,
the node sends nothing further; the last command sent stays the servos' goal, so the arms hold still. A malformed
input (JointState fields of mismatched lengths, unknown or missing joints, NaN; a wrong-sized or NaN state vector;
an undecodable image) is dropped with a throttled log: no observation is added, so the inputs go stale and it holds.
Shutdown: SIGINT/SIGTERM stop it within about half a second, also mid-inference (the inference is abandoned).
Torque on shutdown: the node never changes torque. It stops commanding, and the arms stay torqued at the last
goal (a ViperX with torque off falls under gravity); park them (sleep pose) before turning torque off.
"""
from __future__ import annotations

import os
import sys
from collections import deque

# One OpenBLAS thread, set before numpy loads it: the batch-1 DiffOG solve factors ~200x200 matrices, where a
# second thread competing with the sim and camera processes made refinement 3x slower (bench_policy_rate).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from diffog_msgs.msg import ActionChunk, RefinementStats
from interbotix_xs_msgs.msg import JointGroupCommand, JointSingleCommand
from rcl_interfaces.msg import SetParametersResult
from rclpy.node import Node
from rclpy.parameter import Parameter
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Float64MultiArray, Header
from std_srvs.srv import SetBool

from diffog.deploy.aloha_topics import AlohaTopics
from diffog.deploy.config import DeployConfig
from diffog.deploy.controller import PlanResult
from diffog.deploy.deployed_policy import build_controller, load_deployed_policy
from diffog.deploy.rate_loop import RateLoop, rate_hz
from diffog.robot import UnsafeCommand, finite_vector
from diffog_policy.image_input import decode_image
from diffog_policy.node_common import clock_now_s, robot_description, spin_main, stamp_from_s, stamp_to_s

PARAMETERS = {
    "checkpoint": "",              # policy checkpoint (.pt); required
    "device": "cpu",
    "refiner": "diffog",           # none | clip | penalty | diffog
    "ddim_steps": 0,               # 0: the checkpoint's
    "n_action_steps": 0,           # chunk actions executed per inference; 0: the checkpoint's (1: receding horizon)
    "overlap_inference": False,    # infer the next chunk while the current one ends, instead of holding meanwhile
    "command_rate_hz": 0.0,        # 0: aloha.yaml control_rate_hz
    "stamp_tolerance_s": 0.05,     # joint states and images of one observation lie this close
    "observation_timeout_s": 0.5,  # older inputs: hold
    "step_scale": 1.0,             # max command step = step_scale * velocity limit / command rate
    "robot_description": "",       # aloha.yaml; "" = the one shipped with aloha_bringup
    "state_topic_prefix": "/aloha_sim/",  # sim-only inputs of state policies (object_poses) on <prefix><key>
}
STOP_JOIN_S = 0.5  # how long shutdown waits for the planning thread's tick in progress


class PolicyNode(Node):
    def __init__(self) -> None:
        super().__init__("policy")
        self.loop: RateLoop | None = None  # set last: a constructor that fails leaves nothing running
        p = {k: self.declare_parameter(k, v).value for k, v in PARAMETERS.items()}
        description = robot_description(p["robot_description"])
        self.topics = AlohaTopics.load(description)
        deploy = DeployConfig.from_parameters({**p, "overlap": p["overlap_inference"]})  # validated here
        self.policy = load_deployed_policy(deploy, description)
        command_rate = deploy.command_rate_hz or description.control_rate_hz
        self.controller = build_controller(self.policy)

        self.arm_pubs, self.gripper_pubs = [], []
        for f in self.topics.followers:
            self.create_subscription(JointState, self.topics.topic("joint_states", arm_ns=f),
                                     lambda m, f=f: self._on_joint_state(f, m), 10)
            self.arm_pubs.append(self.create_publisher(
                JointGroupCommand, self.topics.topic("arm_group_command", arm_ns=f), 10))
            self.gripper_pubs.append(self.create_publisher(
                JointSingleCommand, self.topics.topic("gripper_command", arm_ns=f), 10))
        for cam in self.policy.cameras:
            self.create_subscription(Image, self.topics.topic("camera_image", camera=cam),
                                     lambda m, c=cam: self._on_image(c, m), 2)
        for key in self.policy.lowdim_streams:  # e.g. the sim's object poses; no real robot topic carries them
            self.create_subscription(Float64MultiArray, p["state_topic_prefix"] + key,
                                     lambda m, k=key: self._on_state(k, m), 10)
        self.chunk_pub = self.create_publisher(ActionChunk, "~/action_chunk", 10)
        self.stats_pub = self.create_publisher(RefinementStats, "~/refinement_stats", 10)
        self.diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.create_service(SetBool, "~/estop", self._on_estop)
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self.create_timer(1.0 / command_rate, self._on_command_tick)
        self.plan_times: deque[float] = deque(maxlen=50)  # when the last chunks were planned: the policy rate
        # the planning thread looks at the command rate whether the next chunk is due
        self.loop = RateLoop(command_rate, self._on_policy_tick, on_error=self._on_tick_error, clock=self.now_s)
        self.loop.start()
        e = self.policy.execution
        self.get_logger().info(f"policy ready: refiner={self.policy.refiner} n_action_steps={e.n_action_steps} "
                               f"overlap={e.overlap} cameras={self.policy.cameras} commands at {command_rate} Hz")

    def now_s(self) -> float:
        return clock_now_s(self)

    # Every input is checked before it reaches the controller: a malformed message is dropped (logged, throttled)
    # and adds no observation, so if no good one follows, the inputs go stale and the arms hold.
    def _on_joint_state(self, follower: str, msg: JointState) -> None:
        try:
            qpos = self.topics.arm_qpos(msg.name, msg.position, msg.velocity, msg.effort)
        except ValueError as e:
            self.get_logger().error(f"{follower}: dropped joint_states: {e}", throttle_duration_sec=2.0)
            return
        self.controller.add_observation(follower, stamp_to_s(msg.header.stamp), qpos)

    def _on_image(self, camera: str, msg: Image) -> None:
        img = decode_image(self, camera, msg)
        if img is not None:
            self.controller.add_observation(camera, stamp_to_s(msg.header.stamp), img)

    def _on_state(self, key: str, msg: Float64MultiArray) -> None:
        try:
            value = finite_vector(f"{key} (std_msgs/Float64MultiArray)", msg.data, self.policy.normalizer.dim(key))
        except ValueError as e:
            self.get_logger().error(f"dropped {key}: {e}", throttle_duration_sec=2.0)
            return
        # unstamped: stamped on receipt, which lies within a step of the sim's joint states on the sim clock
        self.controller.add_observation(key, self.now_s(), value.astype(np.float32))

    def _on_policy_tick(self) -> None:
        now = self.now_s()
        if not self.controller.plan_due(now):
            return
        result = self.controller.plan(now, clock=self.now_s)
        if not self.context.ok() or (self.loop is not None and self.loop.stopping):
            return  # shut down (SIGINT/SIGTERM) during the inference: publish nothing
        self.plan_times.append(now)
        if result.fault:  # rclpy ties a severity to each logging call site, hence two calls
            self.get_logger().error(f"holding: {result.hold_reason}", throttle_duration_sec=2.0)
        elif result.hold_reason:
            self.get_logger().warning(f"holding: {result.hold_reason}", throttle_duration_sec=2.0)
        else:
            with result.latency.timing("publish_s"):
                self._publish_chunk(result)
        self._publish_diagnostics(result)

    def _on_tick_error(self, error: BaseException) -> None:
        self.controller.hold()
        self.get_logger().error(f"policy tick failed, holding: {error!r}", throttle_duration_sec=2.0)

    def _publish_chunk(self, r: PlanResult) -> None:
        header = self._header(r.stamp)
        self.chunk_pub.publish(ActionChunk(
            header=header, joint_names=self.policy.joint_names, dt=float(self.policy.dt), horizon=len(r.raw),
            refiner=r.stats["refiner"], raw_chunk=r.raw.ravel().tolist(), refined_chunk=r.refined.ravel().tolist(),
            past_action=r.past_action.tolist()))
        s = r.stats
        self.stats_pub.publish(RefinementStats(
            header=header, refiner=s["refiner"], backend=str(s.get("backend", "")),
            solver_iterations=int(s.get("solver_iterations", 0)), converged=bool(s.get("converged", True)),
            solve_time_s=float(r.latency.refinement_s), active_constraints=int(s.get("active_constraints", 0)),
            max_constraint_violation=float(s.get("max_constraint_violation", 0.0)),
            max_step_before=float(s.get("max_step_before", 0.0)), max_step_after=float(s.get("max_step_after", 0.0))))

    def _publish_diagnostics(self, r: PlanResult) -> None:
        values = {**{k: f"{v:.6f}" for k, v in r.latency.as_dict().items()},
                  "refiner": self.policy.refiner, "achieved_rate_hz": f"{rate_hz(self.plan_times):.3f}",
                  "hold_reason": r.hold_reason}
        status = DiagnosticStatus(level=DiagnosticStatus.WARN if r.hold_reason else DiagnosticStatus.OK,
                                  name=f"{self.get_name()}: policy tick", hardware_id="aloha",
                                  message=r.hold_reason or "chunk published",
                                  values=[KeyValue(key=k, value=v) for k, v in values.items()])
        self.diag_pub.publish(DiagnosticArray(header=self._header(self.now_s()), status=[status]))

    def _on_command_tick(self) -> None:
        try:
            cmd = self.controller.command(self.now_s())
        except UnsafeCommand as e:
            self.get_logger().error(f"holding: {e}", throttle_duration_sec=2.0)
            return
        if cmd is None:
            return
        for sl, arm_pub, grip_pub in zip(self.topics.qpos_slices().values(), self.arm_pubs, self.gripper_pubs):
            arm, gripper = self.topics.arm_command(cmd[sl])
            arm_pub.publish(JointGroupCommand(name="arm", cmd=arm))
            grip_pub.publish(JointSingleCommand(name="gripper", cmd=gripper))

    def _on_set_parameters(self, params: list[Parameter]) -> SetParametersResult:
        """`refiner` switches at run time (ros2 param set /policy refiner clip); other parameters need a restart."""
        for param in params:
            if param.name == "refiner":
                try:
                    self.policy.set_refiner(param.value)
                except ValueError as e:
                    return SetParametersResult(successful=False, reason=str(e))
                self.get_logger().info(f"refiner is now {param.value}")
            elif param.name in PARAMETERS and param.name != "use_sim_time":
                return SetParametersResult(successful=False, reason=f"{param.name} is read at start only")
        return SetParametersResult(successful=True)

    def _on_estop(self, request: SetBool.Request, response: SetBool.Response) -> SetBool.Response:
        self.controller.set_estop(request.data)
        response.success = True
        response.message = "e-stop engaged: holding" if request.data else "e-stop released"
        self.get_logger().warning(response.message)
        return response

    @staticmethod
    def _header(t: float) -> Header:
        return Header(stamp=stamp_from_s(t))

    def destroy_node(self) -> None:
        # An inference in progress is not waited for (it can take seconds, longer than launch's SIGINT grace
        # period): the planning thread is a daemon, publishes nothing once stopped, and ends with the process.
        if self.loop is not None:
            self.loop.stop(timeout=STOP_JOIN_S)
        super().destroy_node()


def main(args=None) -> None:
    built: list[PolicyNode] = []

    def make_node() -> PolicyNode:
        built.append(PolicyNode())
        return built[0]

    spin_main(make_node, args)
    if built and built[0].loop is not None and built[0].loop.running:
        # Stopped mid-inference: the node is destroyed and rclpy shut down, but the abandoned planning thread is
        # still inside torch, and finalizing the interpreter under it aborts in torch's C++ teardown ("terminate
        # called without an active exception", exit -6). Nothing is left to flush but Python's streams: leave now.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


if __name__ == "__main__":
    main()
