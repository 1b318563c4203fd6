"""Leader -> follower teleoperation as ALOHA's record_episodes.py does it: bring every arm to the start pose,
wait for the operator to close both leader grippers, torque the leaders off, then at each tick copy the leader
arm joints one to one and map the gripper through the leader/follower normalization. Every follower command is
clamped into the joint limits and moves no joint further than its velocity limit allows in one tick."""
from __future__ import annotations

import enum
import time

import numpy as np

from diffog.robot import JointLimits, RobotDescription, load_robot_description
from diffog.hardware.robot import Bimanual


class Phase(enum.Enum):
    IDLE = "idle"            # nothing sent yet
    WAITING = "waiting"      # at the start pose, leader grippers free: waiting for the start gesture
    RUNNING = "running"      # followers track the leaders


class Teleoperator:
    """Drive `followers` from `leaders` (both `Bimanual`). Call `prepare()` once, then `tick()` every `dt`."""

    def __init__(self, leaders: Bimanual, followers: Bimanual, description: RobotDescription | None = None,
                 dt: float | None = None):
        d = description or load_robot_description()
        cfg = d.teleop
        self.leaders, self.followers = leaders, followers
        self.dt = dt or 1.0 / d.control_rate_hz
        self.limits = JointLimits.from_description(d)
        self.max_step = self.limits.velocity * self.dt * cfg.max_step_scale
        self.start_threshold = cfg.start_gesture_close_threshold
        self.move_time_s = cfg.move_time_s
        self.start_arm_pose = np.asarray(d.start_pose[:6], dtype=np.float64)
        self.phase = Phase.IDLE
        self.last_command: np.ndarray | None = None

    def prepare(self, sleep=time.sleep) -> None:
        """ALOHA's opening ceremony: modes, torque on, all four arms to the start pose, leader grippers freed."""
        for arm in self.followers.arms.values():
            arm.reboot("gripper", enable_torque=True)
        for bots, gripper_mode in ((self.followers, "current_based_position"), (self.leaders, "position")):
            for arm in bots.arms.values():
                arm.set_operating_mode("position", "arm")
                arm.set_operating_mode(gripper_mode, "gripper")
                arm.set_torque(True)
        # leader grippers half open (ALOHA's MASTER_GRIPPER_JOINT_MID), follower grippers closed
        plan = [(self.leaders, np.tile([*self.start_arm_pose, 0.5], len(self.leaders.arms))),
                (self.followers, np.tile([*self.start_arm_pose, 0.0], len(self.followers.arms)))]
        starts = [bots.observe()[0] for bots, _ in plan]
        steps = max(1, int(round(self.move_time_s / self.dt)))
        for k in range(1, steps + 1):
            for (bots, goal), start in zip(plan, starts):
                bots.command(start + (goal - start) * k / steps)
            sleep(self.dt)
        self.last_command = plan[1][1]
        self.leaders.set_torque(False, "gripper")
        self.phase = Phase.WAITING

    def start_gesture(self, leader_gripper_joints: list[float]) -> bool:
        """Both leader grippers squeezed past the threshold (rad)."""
        return all(j < self.start_threshold for j in leader_gripper_joints)

    def follower_command(self, leader_qpos: np.ndarray) -> np.ndarray:
        """The 14-dim follower command (gripper normalized) for leader qpos (gripper normalized by the leader's
        constants), inside the joint limits and at most `max_step` from the last command."""
        target = np.clip(np.asarray(leader_qpos, dtype=np.float64), self.limits.lower, self.limits.upper)
        if self.last_command is not None:
            target = self.last_command + np.clip(target - self.last_command, -self.max_step, self.max_step)
        return target

    def tick(self) -> np.ndarray | None:
        """One control period: the command sent to the followers (ALOHA's action), or None while waiting."""
        if self.phase is Phase.IDLE:
            raise RuntimeError("call prepare() before tick()")
        states = self.leaders.read()
        if self.phase is Phase.WAITING:
            if not self.start_gesture([s.position[6] for s in states.values()]):
                return None
            self.leaders.set_torque(False)
            self.phase = Phase.RUNNING
        qpos = self.leaders.observe(states)[0]
        if not np.all(np.isfinite(qpos)):
            raise ValueError(f"non-finite leader positions {qpos.tolist()}; followers hold")
        command = self.follower_command(qpos)
        self.followers.command(command)
        self.last_command = command
        return command
