"""move_stack (the paper's real task, in sim): the right arm carries a cup with a spoon balanced across its rim
to a coaster. Nothing but physics keeps the spoon there: a jerky carry throws it off, and the task fails."""
from __future__ import annotations

import numpy as np

from diffog.sim import scene
from diffog.sim.tasks.base import Task
from diffog.sim.trajectory import Waypoint, grip_rotation

CUP_R, CUP_H = 0.022, 0.10
COASTER_R, COASTER_T = 0.045, 0.004
SPOON_FRICTION = 0.3
GRASP_Z = 0.05  # grasp height above the cup's base: the fingers stay below the spoon
GRASP_PITCH = 0.4  # rad below horizontal: a comfortable wrist over the whole workspace


class MoveStack(Task):
    name = "move_stack"
    carried, upright, drop_name = ("cup",), ("cup",), "spoon fell during the carry"

    def dropped(self, env):
        cup, spoon = env.body_pos("cup"), env.body_pos("spoon")
        return bool(spoon[2] < cup[2] + CUP_H - 0.02)  # well below the rim it rests on

    def build(self, worldbody):
        scene.vessel(worldbody, "cup", CUP_R, CUP_H)
        scene.spoon(worldbody, "spoon", SPOON_FRICTION)
        scene.coaster(worldbody, "coaster", COASTER_R, COASTER_T)

    def reset(self, env, rng):
        cup = np.array([rng.uniform(0.0, 0.08), rng.uniform(0.45, 0.58), 0.0])
        env.set_free_pose("cup", cup, yaw=rng.uniform(-np.pi, np.pi))
        # The spoon lies across the rim, roughly along y (clear of the fingers), its centre of mass over the axis.
        yaw = np.pi / 2 + rng.uniform(-0.25, 0.25)
        com = env.model.body("spoon").ipos
        offset = np.array([np.cos(yaw) * com[0] - np.sin(yaw) * com[1], np.sin(yaw) * com[0] + np.cos(yaw) * com[1]])
        env.set_free_pose("spoon", [cup[0] - offset[0], cup[1] - offset[1], CUP_H + scene.SPOON_HALF_THICKNESS], yaw=yaw)
        env.set_mocap_pos("coaster", [rng.uniform(-0.18, -0.10), rng.uniform(0.45, 0.58), 0.0])

    def success(self, env):
        cup, spoon = env.body_pos("cup"), env.body_pos("spoon")
        coaster = env.data.mocap_pos[env.model.body("coaster").mocapid[0]]
        upright = env.body_xmat("cup")[2, 2] > np.cos(np.radians(15))
        on_coaster = (np.linalg.norm(cup[:2] - coaster[:2]) < COASTER_R
                      and env.in_contact(env.body_geoms("cup"), env.body_geoms("coaster")))
        spoon_on_cup = (env.in_contact(env.body_geoms("spoon"), env.body_geoms("cup"))
                        and spoon[2] > cup[2] + CUP_H - 0.01)
        return bool(upright and on_coaster and spoon_on_cup)

    def waypoints(self, env):
        cup = env.body_pos("cup")
        coaster = env.data.mocap_pos[env.model.body("coaster").mocapid[0]].copy()
        level = grip_rotation("right", pitch=GRASP_PITCH)
        grasp = cup + [0, 0, GRASP_Z]
        place = coaster + [0, 0, COASTER_T + GRASP_Z + 0.003]
        lift = np.array([0, 0, 0.06])
        right = [
            Waypoint(1.8, grasp + [0.09, 0, 0.08], level, 1.0),
            Waypoint(2.6, grasp + [0.09, 0, 0], level, 1.0),
            Waypoint(3.1, grasp, level, 1.0),
            Waypoint(3.7, grasp, level, 0.0),
            Waypoint(4.5, grasp + lift, level, 0.0),
            Waypoint(7.0, place + lift, level, 0.0),
            Waypoint(7.8, place, level, 0.0),
            Waypoint(8.3, place, level, 1.0),
            Waypoint(9.1, place + [0.09, 0, 0], level, 1.0),
        ]
        return {"left": [], "right": right}
