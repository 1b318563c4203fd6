"""Episode runner: closed-loop evaluation of the policy node against the simulated ALOHA over ROS.

For every episode (seeds `first_seed`, +1, ..., held out from the training seeds) and every refiner in `modes`, so
each refiner meets the same scenes: e-stop the policy, switch its `refiner` parameter, reset the sim to the seed,
release the policy (it re-anchors to the measured position), and run until the sim reports success or
`episode_timeout_s` of the node's clock (sim time with use_sim_time). What the policy sent on the follower command
topics is scored with diffog.deploy.episodes; the per-episode results and per-mode summaries go to `output` (JSON).
The node exits when done, so a graph can mark it required (the run ends with it).
"""
from __future__ import annotations

import json
import pathlib
import threading
import time

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from interbotix_xs_msgs.msg import JointGroupCommand, JointSingleCommand
from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
from rcl_interfaces.srv import SetParameters
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from std_msgs.msg import Bool
from std_srvs.srv import SetBool, Trigger

from diffog.data.normalizer import MinMaxNormalizer
from diffog.deploy.aloha_topics import AlohaTopics
from diffog.deploy.episodes import executed_metrics, summarize
from diffog.deploy.deployed_policy import resolve_checkpoint
from diffog.policy.checkpoint import read_checkpoint
from diffog.robot import finite_vector
from diffog_policy.node_common import call_service, clock_now_s, spinning_in_background

PARAMETERS = {
    "checkpoint": "",               # the policy's checkpoint: its normalizer and step (dt) scale the metrics
    "modes": ["none", "diffog"],    # refiners to compare
    "episodes": 3,                  # per mode
    "episode_timeout_s": 40.0,
    "settle_s": 1.0,                # wall seconds after a reset before the policy is released
    "first_seed": 1000,             # sim seeds first_seed .. first_seed + episodes - 1 (training used 0 ..)
    "policy": "/policy",            # the policy node's name
    "sim": "/aloha_sim",            # the sim node: its `seed` parameter, ~/reset (std_srvs/Trigger), ~/success
    "output": "",                   # JSON results; required
}
LATENCY_KEYS = ("inference_s", "refinement_s", "observation_age_s", "achieved_rate_hz")  # from policy diagnostics


class EpisodeRunner(Node):
    def __init__(self) -> None:
        super().__init__("episode_runner")
        p = {k: self.declare_parameter(k, v).value for k, v in PARAMETERS.items()}
        if not p["output"] or not p["checkpoint"]:
            raise ValueError("parameters 'output' and 'checkpoint' are required")
        self.p = p
        payload = read_checkpoint(resolve_checkpoint(p["checkpoint"]))
        self.normalizer = MinMaxNormalizer.from_state_dict(payload["normalizer"])
        self.joint_names = list(payload["joint_names"])
        self.topics = AlohaTopics.load()
        self.dt = payload["policy_config"].task.frame_skip / self.topics.description.control_rate_hz
        self.lock = threading.Lock()
        self.latest: dict[str, np.ndarray] = {}
        self.rows: list[tuple[float, np.ndarray]] = []
        self.latency: list[dict[str, float]] = []
        self.success = False
        for f in self.topics.followers:
            self.create_subscription(JointGroupCommand, self.topics.topic("arm_group_command", arm_ns=f),
                                     lambda m, f=f: self._on_command(f, m), 50)
            self.create_subscription(JointSingleCommand, self.topics.topic("gripper_command", arm_ns=f),
                                     lambda m, f=f: self._on_gripper(f, m), 50)
        self.create_subscription(Bool, f"{p['sim']}/success", self._on_success, 10)
        self.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, 10)
        self.estop = self.create_client(SetBool, f"{p['policy']}/estop")
        self.policy_params = self.create_client(SetParameters, f"{p['policy']}/set_parameters")
        self.sim_params = self.create_client(SetParameters, f"{p['sim']}/set_parameters")
        self.reset = self.create_client(Trigger, f"{p['sim']}/reset")

    # --- what the policy does --------------------------------------------------------------------------------
    # Each message is checked before it is scored: a malformed one is dropped with a throttled log (the scores
    # would otherwise fail to stack, ending the run without results).
    def _drop(self, what: str, error: Exception) -> None:
        self.get_logger().error(f"dropped {what}: {error}", throttle_duration_sec=2.0)

    def _on_command(self, follower: str, msg: JointGroupCommand) -> None:
        try:
            if msg.name != "arm":
                raise ValueError(f"group {msg.name!r} is not 'arm'")
            arm = finite_vector(f"{follower} arm command", msg.cmd, len(self.topics.arm_joints))
        except ValueError as e:
            return self._drop(f"{follower} joint_group command", e)
        with self.lock:
            self.latest[follower] = arm
            if follower == self.topics.followers[-1] and len(self.latest) == 2 * len(self.topics.followers):
                row = np.concatenate([np.r_[self.latest[f], self.latest[f + "/gripper"]]
                                      for f in self.topics.followers])
                self.rows.append((self.now_s(), row))

    def _on_gripper(self, follower: str, msg: JointSingleCommand) -> None:
        try:
            if msg.name != "gripper":
                raise ValueError(f"joint {msg.name!r} is not 'gripper'")
            joint = finite_vector(f"{follower} gripper command", [msg.cmd], 1)[0]
        except ValueError as e:
            return self._drop(f"{follower} joint_single command", e)
        with self.lock:
            self.latest[follower + "/gripper"] = np.array([self.topics.gripper.joint_to_normalized(joint)])

    def _on_success(self, msg: Bool) -> None:
        self.success = self.success or msg.data

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.name.startswith(self.p["policy"].strip("/") + ":"):
                values = {kv.key: kv.value for kv in status.values}
                if not values.get("hold_reason"):
                    try:
                        numbers = finite_vector("latency", [float(values.get(k, "nan")) for k in LATENCY_KEYS],
                                                len(LATENCY_KEYS))
                    except ValueError as e:
                        self._drop(f"policy diagnostics (keys {LATENCY_KEYS})", e)
                        continue
                    latency = dict(zip(LATENCY_KEYS, map(float, numbers)))
                    with self.lock:
                        self.latency.append(latency)

    # --- the evaluation -------------------------------------------------------------------------------------
    def now_s(self) -> float:
        return clock_now_s(self)

    def call(self, client, request, what: str, timeout: float = 30.0):
        try:
            return call_service(client, request, timeout)
        except TimeoutError as e:
            raise TimeoutError(f"{what}: {e}") from e

    def set_parameter(self, client, name: str, value: ParameterValue) -> None:
        request = SetParameters.Request(parameters=[Parameter(name=name, value=value)])
        result = self.call(client, request, f"set {name}").results[0]
        if not result.successful:
            raise RuntimeError(f"{client.srv_name} refused {name}: {result.reason}")

    def episode(self, mode: str, seed: int) -> dict:
        self.call(self.estop, SetBool.Request(data=True), "e-stop")
        self.set_parameter(self.policy_params, "refiner",
                           ParameterValue(type=ParameterType.PARAMETER_STRING, string_value=mode))
        self.set_parameter(self.sim_params, "seed", ParameterValue(type=ParameterType.PARAMETER_INTEGER,
                                                                   integer_value=seed))
        reply = self.call(self.reset, Trigger.Request(), "sim reset")
        if not reply.success:
            raise RuntimeError(f"sim reset failed: {reply.message}")
        time.sleep(self.p["settle_s"])
        with self.lock:
            self.rows, self.latency, self.success = [], [], False
        t0 = self.now_s()
        self.call(self.estop, SetBool.Request(data=False), "release")
        while not self.success and self.now_s() - t0 < self.p["episode_timeout_s"]:
            time.sleep(0.05)
        duration = self.now_s() - t0
        self.call(self.estop, SetBool.Request(data=True), "e-stop")
        with self.lock:
            rows, latency = list(self.rows), list(self.latency)
        run = {"mode": mode, "seed": seed, "success": self.success,
               "duration_s": duration, "commands": len(rows)}
        if rows:
            times, cmds = np.array([r[0] for r in rows]), np.stack([r[1] for r in rows])
            run.update(executed_metrics(times, cmds, self.dt, self.normalizer, self.joint_names,
                                        self.topics.description.joint_indices(self.joint_names)))
        if latency:
            run.update({k: float(np.mean([x[k] for x in latency])) for k in latency[0]})
        self.get_logger().info(f"{mode} seed {seed}: success={run['success']} in {duration:.1f} s, "
                               f"{len(rows)} commands")
        return run

    def run(self) -> dict:
        seeds = range(self.p["first_seed"], self.p["first_seed"] + self.p["episodes"])
        runs = [self.episode(mode, seed) for seed in seeds for mode in self.p["modes"]]
        results = {"runs": runs, "summary": {m: summarize([r for r in runs if r["mode"] == m])
                                             for m in self.p["modes"]}}
        out = pathlib.Path(self.p["output"])
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=2))
        self.get_logger().info(f"wrote {out}")
        return results


def main(args=None) -> None:
    rclpy.init(args=args)
    try:
        node = EpisodeRunner()
        with spinning_in_background(node):
            node.run()
    except (KeyboardInterrupt, ExternalShutdownException):
        raise SystemExit(130)
    finally:
        rclpy.try_shutdown()  # also when the node could not be built


if __name__ == "__main__":
    main()
