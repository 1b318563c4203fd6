"""Why a sim episode failed, read from the physics state as it runs (not from the policy's own view)."""
from __future__ import annotations

import numpy as np

LIFT_M = 0.03             # a carried body this far above where it started has been picked up
TIPPED_COS = np.cos(np.radians(45))  # an upright body tilted further is knocked over

SUCCESS, DIVERGED, KNOCKED_OVER, TIMEOUT = "success", "diverged", "knocked over", "timeout"


class FailureWatch:
    """Call `update()` after every sim step; `mode()` names the outcome: success, diverged (the physics blew up),
    knocked over (the first upright object that tipped), the task's own drop (move_stack: the spoon fell during the carry),
    missed grasp (a body the task carries was never lifted; the first one in task order), else timeout."""

    def __init__(self, env):
        self.env, self.task = env, env.task
        self.start_z = {b: env.body_pos(b)[2] for b in self.task.carried}
        self.lifted: set[str] = set()
        self.tipped: str | None = None  # the first upright body that tipped
        self.dropped = False

    def update(self) -> None:
        env = self.env
        self.lifted |= {b for b, z in self.start_z.items() if env.body_pos(b)[2] > z + LIFT_M}
        if self.tipped is None:
            self.tipped = next((b for b in self.task.upright if env.body_xmat(b)[2, 2] < TIPPED_COS), None)
        if self.lifted and not self.dropped:
            self.dropped = self.task.dropped(env)

    def mode(self, success: bool, diverged: bool) -> str:
        if success:
            return SUCCESS
        if diverged:
            return DIVERGED
        if self.tipped is not None:
            return f"{KNOCKED_OVER} ({self.tipped})"
        if self.dropped:
            return self.task.drop_name
        missed = [b for b in self.task.carried if b not in self.lifted]
        return f"missed grasp ({missed[0]})" if missed else TIMEOUT
