"""Teleop node: ALOHA leader -> follower teleoperation at 50 Hz, a thin ROS shell over
diffog.hardware.teleop.Teleoperator.

Backends per role (parameters `leader_backend`, `follower_backend`):
  interbotix  the arm's xs_sdk node (or the sim node): /<arm>/joint_states, commands/*, torque/reboot/mode services
              (through interbotix_xs_modules when it imports, else those topics directly; logged at start)
  dynamixel   the arm's serial bus directly (aloha.yaml `ports`, `motor_ids`, `baudrate`) through dynamixel-sdk;
              this node then publishes the arm's /<arm>/joint_states and, for followers, the commands it sends on
              /<arm>/commands/*, so the recorder hears the same topics either way.
Sequence (ALOHA's record_episodes.py): modes and torque, every arm to the start pose, leader grippers free;
close both leader grippers to start; leaders torque off; followers track the leaders within joint limits and a
maximum step per tick. Any failed read or write holds the followers (nothing is sent that tick) and is logged.
"""
from __future__ import annotations

import time

import rclpy
from interbotix_xs_msgs.msg import JointGroupCommand, JointSingleCommand
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from sensor_msgs.msg import JointState
from std_msgs.msg import Header

from diffog.deploy.rate_loop import RateLoop
from diffog.hardware.dynamixel_arm import DynamixelArm
from diffog.hardware.robot import Arm, ArmState, Bimanual, RobotError
from diffog.hardware.teleop import Phase, Teleoperator
from diffog_policy.interbotix_arm import arm_topics
from diffog_policy.interbotix_library_arm import make_xs_arms
from diffog_policy.node_common import robot_description, spinning_in_background, stamp_from_s

PARAMETERS = {
    "leader_backend": "interbotix",     # interbotix | dynamixel
    "follower_backend": "interbotix",   # interbotix | dynamixel
    "rate_hz": 0.0,                     # 0 = aloha.yaml control_rate_hz
    "dynamixel_retries": 3,             # tries per bus exchange before a servo counts as not answering
    "robot_description": "",            # aloha.yaml; "" = the shipped one
}


class MirroredArm(Arm):
    """A directly driven (Dynamixel) arm that also publishes what is read from and sent to it on the xs_sdk
    topics, as the arm's xs_sdk node would."""

    def __init__(self, node: Node, arm: Arm, interface: dict):
        super().__init__(arm.name)
        topic = arm_topics(interface, arm.name)
        self.arm = arm
        self.states = node.create_publisher(JointState, topic["joint_states"], 10)
        self.group = node.create_publisher(JointGroupCommand, topic["arm_group_command"], 10)
        self.single = node.create_publisher(JointSingleCommand, topic["gripper_command"], 10)

    def read(self) -> ArmState:
        s = self.arm.read()
        stamp = stamp_from_s(s.stamp)
        self.states.publish(JointState(header=Header(stamp=stamp), name=list(Arm.JOINTS),
                                       position=s.position.tolist(), velocity=s.velocity.tolist(),
                                       effort=s.effort.tolist()))
        return s

    def command_arm(self, positions) -> None:
        self.arm.command_arm(positions)
        self.group.publish(JointGroupCommand(name="arm", cmd=[float(x) for x in positions]))

    def command_gripper(self, position: float) -> None:
        self.arm.command_gripper(position)
        self.single.publish(JointSingleCommand(name=self.GRIPPER, cmd=float(position)))

    def set_torque(self, enable: bool, target: str = "all") -> None:
        self.arm.set_torque(enable, target)

    def set_operating_mode(self, mode: str, target: str = "all") -> None:
        self.arm.set_operating_mode(mode, target)

    def reboot(self, target: str = "all", enable_torque: bool = False) -> None:
        self.arm.reboot(target, enable_torque)

    def close(self) -> None:
        self.arm.close()


class TeleopNode(Node):
    def __init__(self) -> None:
        super().__init__("teleop")
        p = {k: self.declare_parameter(k, v).value for k, v in PARAMETERS.items()}
        d = robot_description(p["robot_description"])
        self.description = d
        ros = d.ros_interface
        roles = {"leader": (ros.leaders, p["leader_backend"]), "follower": (ros.followers, p["follower_backend"])}
        self.bots = {}
        # all Interbotix-backed arms at once: the library builds every arm before it starts its node
        self.xs_arms = make_xs_arms(self, [n for names, b in roles.values() if b == "interbotix" for n in names], d)
        for role, (names, backend) in roles.items():
            arms = [self._make_arm(name, backend, d, p["dynamixel_retries"]) for name in names]
            self.bots[role] = Bimanual(dict(zip(d.arms, arms)), role, d)
        self.rate_hz = p["rate_hz"] or d.control_rate_hz
        self.teleop = Teleoperator(self.bots["leader"], self.bots["follower"], d, dt=1.0 / self.rate_hz)
        self.loop: RateLoop | None = None

    def _make_arm(self, name: str, backend: str, d: dict, retries: int):
        if backend == "interbotix":
            return self.xs_arms[name]
        if backend == "dynamixel":
            arm = DynamixelArm(name, d.ports[name], d.motor_ids, baudrate=d.baudrate, retries=retries)
            return MirroredArm(self, arm, d.ros_interface)
        raise ValueError(f"unknown backend {backend!r} for {name}; expected interbotix or dynamixel")

    def run(self, connect_timeout_s: float = 30.0) -> None:
        """Wait for every arm to answer, prepare (blocking, off the executor), then tick at rate_hz on a RateLoop
        thread."""
        deadline = time.monotonic() + connect_timeout_s
        for bots in self.bots.values():
            for arm in bots.arms.values():
                while True:
                    try:
                        arm.read()
                        break
                    except RobotError:
                        if time.monotonic() > deadline:
                            raise
                        time.sleep(0.1)
        self.get_logger().info("moving every arm to the start pose")
        self.teleop.prepare()
        self.get_logger().info("close both leader grippers to start")
        self.loop = RateLoop(self.rate_hz, self._tick, on_error=self._on_error)
        self.loop.start()

    def _tick(self) -> None:
        for arm in self.bots["follower"].arms.values():
            if isinstance(arm, MirroredArm):  # nobody else publishes a directly driven follower's joint_states
                arm.read()
        was = self.teleop.phase
        self.teleop.tick()
        if was is Phase.WAITING and self.teleop.phase is Phase.RUNNING:
            self.get_logger().info("started: leaders torqued off, followers tracking")

    def _on_error(self, e: BaseException) -> None:
        kind = "robot" if isinstance(e, RobotError) else "input"
        self.get_logger().error(f"{kind} error, followers hold: {e}", throttle_duration_sec=1.0)

    def destroy_node(self) -> None:
        # a tick is a few bus exchanges; one stuck on a dead port is abandoned (the arm's lock then waits for it
        # before the port closes), so the node stops well inside launch's SIGINT grace period
        if self.loop is not None:
            self.loop.stop(timeout=1.0)
        for bots in self.bots.values():
            bots.close()
        super().destroy_node()


def main(args=None) -> None:
    rclpy.init(args=args)
    node = TeleopNode()
    try:
        with spinning_in_background(node, threads=2) as spinner:
            try:
                node.run()
                spinner.join()  # until shutdown
            except RobotError as e:
                node.get_logger().fatal(f"teleop cannot start: {e}")
                raise SystemExit(1) from e
    except (KeyboardInterrupt, ExternalShutdownException):
        pass


if __name__ == "__main__":
    main()
