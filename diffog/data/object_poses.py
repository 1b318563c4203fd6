"""Object poses for the state-only policy in the sim: every free object's position + quaternion and every
mocap body's position, in model order.

Sim episodes do not store them; they are recovered by replaying the recorded actions from the recorded seed
(the sim is deterministic, and the replay is checked against the recorded joint positions).
"""
from __future__ import annotations

import mujoco
import numpy as np

from diffog.data.aloha_hdf5 import Episode

REPLAY_TOLERANCE = 1e-6  # rad; a replay that drifts further is not the recorded episode


def object_poses(env) -> np.ndarray:
    """(K,) poses of the env's objects now: free joints' qpos (xyz + wxyz) then mocap positions."""
    m, d = env.model, env.data
    free = [d.qpos[m.jnt_qposadr[j]:m.jnt_qposadr[j] + 7] for j in range(m.njnt) if m.jnt_type[j] == mujoco.mjtJoint.mjJNT_FREE]
    return np.concatenate([*free, d.mocap_pos.reshape(-1)]).astype(np.float32)


def replay_object_poses(episode: Episode) -> np.ndarray:
    """(T, K) object poses before each recorded action, from a replay of the sim episode."""
    from diffog.sim import make_env  # the sim is needed only for state-only policies

    meta = episode.metadata
    if not episode.sim or "task" not in meta or "seed" not in meta:
        raise ValueError(f"{episode.path}: object poses come from replaying a sim episode with task and seed "
                         f"metadata; this one has sim={episode.sim}, metadata keys {sorted(meta)}")
    env = make_env(meta["task"], seed=int(meta["seed"]))
    try:
        poses = []
        for t, action in enumerate(episode.action):
            drift = np.abs(env.qpos() - episode.qpos[t]).max()
            if drift > REPLAY_TOLERANCE:
                raise ValueError(f"{episode.path}: replay diverges from the recording at frame {t} "
                                 f"(joint error {drift:.2e}); it was recorded with another sim version")
            poses.append(object_poses(env))
            env.step(action)
    finally:
        env.close()
    return np.stack(poses)
