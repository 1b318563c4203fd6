"""The joint-space simulated ALOHA: ACT's action layout on gym-aloha's bimanual vx300s model.

Action (14): per arm (left, right) 6 absolute joint targets, then the gripper normalized 0 = closed .. 1 = open.
qpos / qvel / effort (14) use the same layout; grippers are the follower finger position normalized with
aloha.yaml's follower position_close / position_open, exactly as ACT's sim and the real robot's recorder do.
"""
from __future__ import annotations

from collections.abc import Sequence

import mujoco
import numpy as np

from diffog.robot import load_robot_description
from diffog.sim import scene
from diffog.sim.tasks import Task, get_task

DT = 0.02


class SimulationError(RuntimeError):
    """The physics diverged (MuJoCo reset the state); the episode is lost."""

# Real camera names -> cameras of gym-aloha's scene (cam_high is ACT's "top").
CAMERAS = {"cam_high": "top", "cam_low": "angle", "cam_left_wrist": "left_wrist", "cam_right_wrist": "right_wrist"}


class SimAloha:
    """One simulated episode at a time: `reset(seed)`, then `step(action)` every `dt` seconds."""

    dt = DT

    def __init__(self, task: Task, seed: int | None = None, render_size: tuple[int, int] | None = None,
                 cameras: Sequence[str] | None = None):
        desc = load_robot_description()
        self.task = task
        self.cameras = list(desc.cameras if cameras is None else cameras)
        if unknown := [c for c in self.cameras if c not in CAMERAS]:
            raise ValueError(f"unknown cameras {unknown}; the sim has {list(CAMERAS)}")
        follower = desc.gripper.follower
        self._grip_close, self._grip_open = follower.position_close, follower.position_open
        self._start_pose = np.asarray(desc.start_pose, dtype=float)

        root = scene.robot_scene()
        scene.add_grasp_sites(root)
        task.build(root.find("worldbody"))
        self.model = scene.compile_scene(root)
        self.data = mujoco.MjData(self.model)
        self.n_substeps = round(DT / self.model.opt.timestep)
        self.render_size = render_size
        if render_size is not None:
            self.model.vis.global_.offheight = max(self.model.vis.global_.offheight, render_size[0])
            self.model.vis.global_.offwidth = max(self.model.vis.global_.offwidth, render_size[1])
        self._renderer: mujoco.Renderer | None = None

        names = [f"vx300s_{arm}/{j}" for arm in scene.ARMS for j in [*desc.arm_joints, "left_finger"]]
        self._qpos_idx = np.array([self.model.joint(n).qposadr[0] for n in names])
        self._dof_idx = np.array([self.model.joint(n).dofadr[0] for n in names])
        # gym-aloha's actuators: per arm 6 joints, left finger, right finger (mirrored).
        self._arm_act = {arm: np.arange(8 * i, 8 * i + 8) for i, arm in enumerate(scene.ARMS)}
        self._gains = (self.model.actuator_gainprm.copy(), self.model.actuator_biasprm.copy())
        self.torque_on = {arm: True for arm in scene.ARMS}
        self.rng = np.random.default_rng(seed)
        self.reset(seed)

    # --- episode ---------------------------------------------------------------------------------------------
    def reset(self, seed: int | None = None) -> None:
        """Start pose for both arms, the task's objects at a random pose (drawn from `seed` when given)."""
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        mujoco.mj_resetData(self.model, self.data)
        for arm in scene.ARMS:
            self.set_torque(arm, True)
        arm_pose = np.tile(self._start_pose, 2)
        self.data.qpos[:16] = arm_pose
        self.data.ctrl[:16] = arm_pose
        self.task.reset(self, self.rng)
        mujoco.mj_forward(self.model, self.data)

    def step(self, action: Sequence[float]) -> None:
        """Apply one 14-dim action for `dt`. Bad input raises ValueError and leaves the sim untouched."""
        a = np.asarray(action, dtype=float)
        if a.shape != (14,):
            raise ValueError(f"action must have 14 values (ALOHA layout), got shape {a.shape}")
        if not np.all(np.isfinite(a)):
            raise ValueError(f"action contains NaN or inf: {a.tolist()}")
        for i, arm in enumerate(scene.ARMS):
            finger = self._unnormalize_gripper(a[7 * i + 6])
            self.data.ctrl[self._arm_act[arm]] = [*a[7 * i:7 * i + 6], finger, -finger]
        resets, t = self._divergences(), self.data.time
        mujoco.mj_step(self.model, self.data, nstep=self.n_substeps)
        if self._divergences() > resets:
            # MuJoCo has silently reset the state: an episode that carried on from here would be meaningless.
            raise SimulationError(f"the simulation went unstable after t = {t:.2f} s and was reset")

    def success(self) -> bool:
        return bool(self.task.success(self))

    def _divergences(self) -> int:
        return sum(self.data.warning[w].number for w in (mujoco.mjtWarning.mjWARN_BADQPOS,
                                                         mujoco.mjtWarning.mjWARN_BADQVEL,
                                                         mujoco.mjtWarning.mjWARN_BADQACC))

    # --- observations ----------------------------------------------------------------------------------------
    def qpos(self) -> np.ndarray:
        q = self.data.qpos[self._qpos_idx].copy()
        q[[6, 13]] = self._normalize_gripper(q[[6, 13]])
        return q

    def qvel(self) -> np.ndarray:
        v = self.data.qvel[self._dof_idx].copy()
        v[[6, 13]] /= self._grip_open - self._grip_close
        return v

    def effort(self) -> np.ndarray:
        """Actuator force per arm joint and on the (left) finger, N·m / N."""
        return np.concatenate([self.data.actuator_force[self._arm_act[arm][:7]] for arm in scene.ARMS])

    def object_poses(self) -> np.ndarray:
        """(K,) the task objects' poses now, as state-only policies observe them: every free joint's qpos
        (xyz + wxyz quaternion), then every mocap body's position, in model order."""
        m, d = self.model, self.data
        free = [d.qpos[m.jnt_qposadr[j]:m.jnt_qposadr[j] + 7] for j in range(m.njnt)
                if m.jnt_type[j] == mujoco.mjtJoint.mjJNT_FREE]
        return np.concatenate([*free, d.mocap_pos.reshape(-1)]).astype(np.float32)

    def render(self, camera: str) -> np.ndarray:
        """HxWx3 uint8 image from a real camera name (cam_high, cam_low, cam_left_wrist, cam_right_wrist)."""
        if self.render_size is None:
            raise RuntimeError("this env was made without render_size; pass render_size=(h, w) to render")
        if camera not in CAMERAS:
            raise ValueError(f"unknown camera {camera!r}; the sim has {list(CAMERAS)}")
        if self._renderer is None:
            self._renderer = mujoco.Renderer(self.model, *self.render_size)
            # Shadows take over half a small frame's time in software GL; demos and policies both see them off.
            self._renderer.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = 0
        self._renderer.update_scene(self.data, camera=CAMERAS[camera])
        return self._renderer.render().copy()

    def images(self) -> dict[str, np.ndarray]:
        """One frame per configured camera (empty when the env does not render)."""
        return {} if self.render_size is None else {c: self.render(c) for c in self.cameras}

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

    # --- robot services --------------------------------------------------------------------------------------
    def set_torque(self, arm: str, enabled: bool) -> None:
        """Torque off makes the arm's actuators produce no force (it sags under gravity against joint friction)."""
        acts = self._arm_act[arm]
        gain, bias = self._gains
        scale = 1.0 if enabled else 0.0
        self.model.actuator_gainprm[acts] = gain[acts] * scale
        self.model.actuator_biasprm[acts] = bias[acts] * scale
        self.torque_on[arm] = enabled

    def hold_action(self) -> np.ndarray:
        """The action that keeps the arms where they are now."""
        return self.qpos()

    # --- helpers for tasks -----------------------------------------------------------------------------------
    def body_pos(self, name: str) -> np.ndarray:
        return self.data.body(name).xpos.copy()

    def body_xmat(self, name: str) -> np.ndarray:
        return self.data.body(name).xmat.reshape(3, 3).copy()

    def set_free_pose(self, body: str, pos: Sequence[float], yaw: float = 0.0) -> None:
        adr = self.model.jnt_qposadr[self.model.body(body).jntadr[0]]
        self.data.qpos[adr:adr + 3] = pos
        self.data.qpos[adr + 3:adr + 7] = [np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2)]

    def set_mocap_pos(self, body: str, pos: Sequence[float]) -> None:
        self.data.mocap_pos[self.model.body(body).mocapid[0]] = pos

    def in_contact(self, geoms_a: set[int], geoms_b: set[int]) -> bool:
        for c in self.data.contact[:self.data.ncon]:
            if (c.geom1 in geoms_a and c.geom2 in geoms_b) or (c.geom2 in geoms_a and c.geom1 in geoms_b):
                return True
        return False

    def body_geoms(self, body: str) -> set[int]:
        bid = self.model.body(body).id
        return {g for g in range(self.model.ngeom) if self.model.geom_bodyid[g] == bid}

    def _normalize_gripper(self, finger):
        return (finger - self._grip_close) / (self._grip_open - self._grip_close)

    def _unnormalize_gripper(self, g):
        return self._grip_close + g * (self._grip_open - self._grip_close)


def make_env(task: str, seed: int | None = None, render_size: tuple[int, int] | None = None,
             cameras: Sequence[str] | None = None) -> SimAloha:
    """A joint-space env for one of `TASKS`; `render_size=(h, w)` enables cameras (keep it small on CPU)."""
    return SimAloha(get_task(task), seed=seed, render_size=render_size, cameras=cameras)
