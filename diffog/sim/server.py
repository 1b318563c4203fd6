"""The simulated ALOHA behind the real robot's interface, without ROS: what the sim node publishes each tick and
does with each xs_sdk command. Commands go through the sim backend of the robot interface (diffog.hardware)."""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from diffog.robot import load_robot_description
from diffog.hardware.robot import Arm, RobotError
from diffog.hardware.sim_arm import SimRobot
from diffog.sim.env import make_env

JOINT_STATE_NAMES = (*Arm.JOINTS, "left_finger", "right_finger")  # xs_sdk's joint_states for a vx300s


@dataclasses.dataclass(frozen=True)
class JointStateFields:
    name: tuple[str, ...]
    position: list[float]
    velocity: list[float]
    effort: list[float]


class SimServer:
    """One sim episode served as the follower arms (`followers`, e.g. follower_left) and cameras of aloha.yaml."""

    def __init__(self, task: str, seed: int = 0, render_size: tuple[int, int] | None = None,
                 cameras: Sequence[str] | None = None):
        d = load_robot_description()
        self.followers = list(d.ros_interface.followers)
        self.env = make_env(task, seed=seed, render_size=render_size, cameras=cameras)
        self.seed = seed
        self._connect()

    def _connect(self) -> None:
        self.robot = SimRobot(self.env)  # its target starts at the present pose: the arms hold still
        self.arms: dict[str, Arm] = dict(zip(self.followers, self.robot.arms.values()))

    @property
    def time(self) -> float:
        """Simulated seconds since the episode began."""
        return float(self.env.data.time)

    def step(self) -> None:
        self.robot.step()

    def reset(self, seed: int | None = None) -> None:
        """A new episode (the next seed when none is given); the arms hold the start pose."""
        self.seed = self.seed + 1 if seed is None else seed
        self.env.reset(self.seed)
        self._connect()

    def arm(self, arm_ns: str) -> Arm:
        try:
            return self.arms[arm_ns]
        except KeyError:
            raise RobotError(f"unknown arm {arm_ns!r}; the sim serves {self.followers}") from None

    def joint_state(self, arm_ns: str) -> JointStateFields:
        """An xs_sdk joint_states message's fields: 6 joints and the gripper (rad), then the fingers (m)."""
        s = self.arm(arm_ns).read()
        half, half_v = float(s.finger_position), float(s.finger_velocity)
        return JointStateFields(JOINT_STATE_NAMES, [*map(float, s.position), half, -half],
                                [*map(float, s.velocity), half_v, -half_v], [*map(float, s.effort), 0.0, 0.0])

    def command_group(self, arm_ns: str, group: str, cmd: Sequence[float]) -> None:
        """xs_sdk JointGroupCommand: group "arm" (6 joints) or "all" (6 joints then the gripper, rad)."""
        arm = self.arm(arm_ns)
        if group == "arm":
            arm.command_arm(cmd)
        elif group == "all":
            if len(cmd) != len(Arm.JOINTS):
                raise ValueError(f"{arm_ns}: group 'all' takes {len(Arm.JOINTS)} commands, got {len(cmd)}")
            arm.command_gripper(cmd[6])  # validates first, so a bad gripper value moves nothing
            arm.command_arm(cmd[:6])
        else:
            raise ValueError(f"{arm_ns}: unknown joint group {group!r}; the sim has 'arm' and 'all'")

    def command_single(self, arm_ns: str, joint: str, cmd: float) -> None:
        """xs_sdk JointSingleCommand: the gripper (rad) or one arm joint (rad)."""
        arm = self.arm(arm_ns)
        if joint == Arm.GRIPPER:
            arm.command_gripper(cmd)
        elif joint in Arm.ARM_JOINTS:
            goal = np.asarray(self.robot.target[self._arm_slice(arm_ns)][:6]).copy()
            goal[Arm.ARM_JOINTS.index(joint)] = cmd
            arm.command_arm(goal)
        else:
            raise ValueError(f"{arm_ns}: unknown joint {joint!r}; the sim has {Arm.JOINTS}")

    def _arm_slice(self, arm_ns: str) -> slice:
        k = self.followers.index(arm_ns)
        return slice(7 * k, 7 * k + 7)

    def images(self) -> dict[str, np.ndarray]:
        """One RGB frame per served camera (empty without a render size)."""
        return self.env.images()

    def success(self) -> bool:
        return self.env.success()

    def close(self) -> None:
        self.env.close()
