"""The simulated ALOHA on the real robot's ROS interface: per follower arm the xs_sdk topics and services
(joint_states, commands/joint_group, commands/joint_single, torque_enable, reboot_motors, set_operating_modes),
and the cameras on their RealSense topics, all named by aloha.yaml `ros_interface`.

A thin shell over diffog.sim.server.SimServer. Time: with `publish_clock` the sim is the clock, publishing /clock
each step (run the other nodes with use_sim_time) and stepping at `real_time_factor` x real time (0: as fast as it
can); without it, it steps on a wall timer at 50 Hz and stamps with wall time. Bad commands are logged and dropped:
the arms keep their last good goal. Extra services: ~/reset (std_srvs/Trigger, next seed, or the `seed` parameter
when it was set since) and ~/success (std_msgs/Bool, published each step), ~/object_poses (std_msgs/Float64MultiArray each step: the objects' poses
as SimAloha.object_poses lays them out, for state-based policies).
"""
from __future__ import annotations

import numpy as np
import rclpy
from builtin_interfaces.msg import Time as TimeMsg
from interbotix_xs_msgs.msg import JointGroupCommand, JointSingleCommand
from interbotix_xs_msgs.srv import OperatingModes, Reboot, TorqueEnable
from rcl_interfaces.msg import SetParametersResult
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Bool, Float64MultiArray, Header
from std_srvs.srv import Trigger

from diffog.robot import load_robot_description
from diffog.hardware.robot import RobotError
from diffog.sim.env import DT, SimulationError
from diffog.sim.server import SimServer

PARAMETERS = {
    "task": "move_stack",
    "seed": 0,
    "render_height": 0,          # 0: no cameras (a 480x640 frame costs ~0.18 s on a laptop CPU)
    "render_width": 0,
    "cameras": [""],             # real camera names; [""] = all of aloha.yaml `cameras`
    "camera_rate_hz": 10.0,
    "publish_clock": False,
    "real_time_factor": 1.0,     # with publish_clock; 0 = as fast as possible
}


def _stamp(seconds: float) -> TimeMsg:
    sec, nanosec = divmod(round(seconds * 1e9), 1_000_000_000)
    return TimeMsg(sec=int(sec), nanosec=int(nanosec))


class SimNode(Node):
    def __init__(self) -> None:
        super().__init__("aloha_sim")
        p = {k: self.declare_parameter(k, v).value for k, v in PARAMETERS.items()}
        d = load_robot_description()
        ros = d.ros_interface
        size = (p["render_height"], p["render_width"]) if p["render_height"] > 0 and p["render_width"] > 0 else None
        cameras = [c for c in p["cameras"] if c] or list(d.cameras)
        self.server = SimServer(p["task"], seed=p["seed"], render_size=size, cameras=cameras)
        self.publish_clock = bool(p["publish_clock"])
        self.real_time_factor = float(p["real_time_factor"])
        self.camera_every = max(1, round(1.0 / (DT * p["camera_rate_hz"]))) if size else 0
        self.ticks = 0

        self.state_pubs = {}
        for arm_ns in self.server.followers:
            self.state_pubs[arm_ns] = self.create_publisher(JointState, ros.joint_states.format(arm_ns=arm_ns), 10)
            self.create_subscription(JointGroupCommand, ros.arm_group_command.format(arm_ns=arm_ns),
                                     lambda m, a=arm_ns: self._guard(a, "joint_group", self.server.command_group,
                                                                     a, m.name, list(m.cmd)), 10)
            self.create_subscription(JointSingleCommand, ros.gripper_command.format(arm_ns=arm_ns),
                                     lambda m, a=arm_ns: self._guard(a, "joint_single", self.server.command_single,
                                                                     a, m.name, m.cmd), 10)
            self.create_service(TorqueEnable, ros.torque_enable.format(arm_ns=arm_ns),
                                lambda req, res, a=arm_ns: self._answer(
                                    res, a, "torque_enable", lambda: self.server.arm(a).set_torque(req.enable, req.name)))
            self.create_service(Reboot, ros.reboot_motors.format(arm_ns=arm_ns),
                                lambda req, res, a=arm_ns: self._answer(
                                    res, a, "reboot_motors", lambda: self.server.arm(a).reboot(req.name, req.enable)))
            self.create_service(OperatingModes, ros.set_operating_modes.format(arm_ns=arm_ns),
                                lambda req, res, a=arm_ns: self._answer(
                                    res, a, "set_operating_modes",
                                    lambda: self.server.arm(a).set_operating_mode(req.mode, req.name)))
        self.image_pubs = {c: self.create_publisher(Image, ros.camera_image.format(camera=c), 2)
                           for c in (cameras if size else [])}
        self.clock_pub = self.create_publisher(Clock, "/clock", 10) if self.publish_clock else None
        self.success_pub = self.create_publisher(Bool, "~/success", 10)
        self.poses_pub = self.create_publisher(Float64MultiArray, "~/object_poses", 10)
        self.create_service(Trigger, "~/reset", self._on_reset)
        self.next_seed: int | None = None  # set through the `seed` parameter: the next reset's seed
        self.add_on_set_parameters_callback(self._on_set_parameters)
        period = DT
        if self.publish_clock:  # the sim owns time: run it faster or slower than the wall clock
            period = DT / self.real_time_factor if self.real_time_factor > 0 else 0.0
        self.create_timer(period, self._tick)
        self.get_logger().info(f"sim {p['task']} seed {p['seed']}: arms {self.server.followers}, cameras "
                               f"{list(self.image_pubs)} {size or ''}, clock {'/clock' if self.publish_clock else 'wall'}")

    def _now(self) -> TimeMsg:
        if self.publish_clock:
            return _stamp(self.ticks * DT)  # steps since start: never goes back when an episode restarts
        return self.get_clock().now().to_msg()

    def _guard(self, arm_ns: str, what: str, fn, *args) -> bool:
        try:
            fn(*args)
            return True
        except (RobotError, ValueError, TypeError) as e:
            self.get_logger().warning(f"{arm_ns}/{what} ignored, holding the last goal: {e}",
                                      throttle_duration_sec=1.0)
            return False

    def _answer(self, response, arm_ns: str, what: str, fn):
        # xs_sdk's services reply with an empty response; failures are logged, as xs_sdk does.
        self._guard(arm_ns, what, fn)
        return response

    def _on_set_parameters(self, params):
        """`seed` set at run time is the next reset's seed (paired episodes when comparing policies)."""
        for param in params:
            if param.name == "seed":
                if isinstance(param.value, bool) or not isinstance(param.value, int) or param.value < 0:
                    return SetParametersResult(successful=False,
                                               reason=f"seed must be a non-negative integer, got {param.value!r}")
                self.next_seed = int(param.value)
        return SetParametersResult(successful=True)

    def _on_reset(self, _request, response):
        try:
            self.server.reset(self.next_seed)
        except (SimulationError, ValueError) as e:  # reported to the caller; the node keeps serving
            self.get_logger().error(f"reset failed: {e}")
            response.success, response.message = False, f"reset failed: {e}"
            return response
        finally:
            self.next_seed = None
        response.success, response.message = True, f"episode reset with seed {self.server.seed}"
        return response

    def _tick(self) -> None:
        try:
            self.server.step()
        except SimulationError as e:  # nothing of the episode is left: start it again, arms holding the start pose
            self.get_logger().error(f"{e}; restarting the episode (seed {self.server.seed})")
            self.server.reset(self.server.seed)
        self.ticks += 1
        stamp = self._now()
        if self.clock_pub is not None:
            self.clock_pub.publish(Clock(clock=stamp))
        for arm_ns, pub in self.state_pubs.items():
            f = self.server.joint_state(arm_ns)
            pub.publish(JointState(header=Header(stamp=stamp), name=list(f.name), position=f.position,
                                   velocity=f.velocity, effort=f.effort))
        self.success_pub.publish(Bool(data=self.server.success()))
        self.poses_pub.publish(Float64MultiArray(data=self.server.env.object_poses().astype(float).tolist()))
        if self.camera_every and self.ticks % self.camera_every == 0:
            for cam, img in self.server.images().items():
                msg = Image(header=Header(stamp=stamp, frame_id=cam), height=img.shape[0], width=img.shape[1],
                            encoding="rgb8", step=3 * img.shape[1], data=np.ascontiguousarray(img).tobytes())
                self.image_pubs[cam].publish(msg)


def main(args=None) -> None:
    rclpy.init(args=args)
    node = SimNode()
    try:
        rclpy.spin(node)  # one thread: the MuJoCo render context lives on it
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except Exception:  # a tick publishing while SIGTERM tears the context down is not an error
        if rclpy.ok():
            raise
    finally:
        node.server.close()
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    main()
