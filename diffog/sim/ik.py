"""Inverse kinematics of one vx300s arm: damped least squares on MuJoCo's site Jacobian.

Hand-written because it is a dozen lines on mujoco.mj_jacSite; the pip IK packages wrap the same iteration.
"""
from __future__ import annotations

import mujoco
import numpy as np

ARM_JOINTS = ("waist", "shoulder", "elbow", "forearm_roll", "wrist_angle", "wrist_rotate")
WRIST_SINGULAR = 0.35  # rad of wrist_angle around 0 where forearm_roll and wrist_rotate nearly share an axis
UNROLL = np.array([0, 0, 0, 1.0, 0, 0])  # posture pull on forearm_roll only


class ArmIK:
    """Joint angles that put `<arm>/grasp` at a world position and orientation (kinematics only, own MjData)."""

    def __init__(self, model: mujoco.MjModel, arm: str, damping: float = 1e-3):
        self.model = model
        self.data = mujoco.MjData(model)
        names = [f"vx300s_{arm}/{j}" for j in ARM_JOINTS]
        self.qpos_idx = np.array([model.joint(n).qposadr[0] for n in names])
        self.dof_idx = np.array([model.joint(n).dofadr[0] for n in names])
        self.lower = np.array([model.joint(n).range[0] for n in names])
        self.upper = np.array([model.joint(n).range[1] for n in names])
        self.site = model.site(f"{arm}/grasp").id
        self.damping = damping
        self._jacp = np.zeros((3, model.nv))
        self._jacr = np.zeros((3, model.nv))

    def forward(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Grasp-site position and rotation matrix for arm joints `q`."""
        self.data.qpos[self.qpos_idx] = q
        mujoco.mj_kinematics(self.model, self.data)
        return self.data.site_xpos[self.site].copy(), self.data.site_xmat[self.site].reshape(3, 3).copy()

    def solve(self, pos: np.ndarray, rot: np.ndarray, q0: np.ndarray, iters: int = 100,
              tol: float = 2e-4) -> tuple[np.ndarray, float]:
        """Joint angles near `q0` reaching (pos, rot); returns them and the remaining position error (m)."""
        q = np.clip(np.asarray(q0, dtype=float).copy(), self.lower, self.upper)
        target_quat, quat, dquat, err = np.empty(4), np.empty(4), np.empty(3), np.empty(6)
        mujoco.mju_mat2Quat(target_quat, np.asarray(rot, dtype=float).reshape(-1))
        for _ in range(iters):
            p, r = self.forward(q)
            err[:3] = pos - p
            mujoco.mju_mat2Quat(quat, r.reshape(-1))
            mujoco.mju_subQuat(dquat, target_quat, quat)  # current -> target, in the gripper frame
            err[3:] = r @ dquat
            if np.linalg.norm(err) < tol:
                break
            mujoco.mj_comPos(self.model, self.data)
            mujoco.mj_jacSite(self.model, self.data, self._jacp, self._jacr, self.site)
            jac = np.vstack([self._jacp, self._jacr])[:, self.dof_idx]
            pinv = jac.T @ np.linalg.inv(jac @ jac.T + self.damping * np.eye(6))
            dq = pinv @ err
            if abs(q[4]) < WRIST_SINGULAR:
                # Wrist nearly straight: forearm and wrist roll turn about one axis, so the damped inverse leaves
                # their split free; spend it on an unrolled forearm, else the arm drifts to the mirrored branch.
                dq += (np.eye(6) - pinv @ jac) @ (UNROLL * -q)
            q = np.clip(q + dq, self.lower, self.upper)
        p, _ = self.forward(q)
        return q, float(np.linalg.norm(pos - p))
