"""arrange_desk (the paper's long-horizon dual-arm task, in sim): the right arm puts a cup into the bowl, the left
arm carries the bowl with the cup onto the coaster, then the right arm stacks the second cup on the first."""
from __future__ import annotations

import numpy as np

from diffog.sim import scene
from diffog.sim.tasks.base import Task
from diffog.sim.trajectory import Waypoint, aim_rotation, grip_rotation

CUP_R, CUP_H = 0.025, 0.08
# Rubbery cups: gym-aloha's finger joints carry 30 N of dry friction, which takes up much of the grip, and on fast
# moves a friction-1 cup slid along the pads or pivoted about the pinch (only torsional friction resists that).
CUP_FRICTION, CUP_TORSION = 1.5, 0.03
BOWL_R, BOWL_H, BOWL_WALL, BOWL_BASE = 0.09, 0.035, 0.016, 0.006
COASTER_R, COASTER_T = 0.10, 0.004
CUP_SITE = 0.065  # right grasp site above a cup's base: the fingertips stay above the bowl's rim
CUP_PITCH = 1.1  # rad: the right arm reaches the coaster with a tilted (not vertical) gripper
BOWL_SITE = 0.045  # left grasp site above the bowl's base when pinching its wall: fingertips clear the base
PARK_RIGHT = np.array([0.2, 0.5, 0.22])
PINCH_OPEN = 0.65  # the left gripper opens ~4 cm around the bowl wall: its inner finger clears the cup


class ArrangeDesk(Task):
    name = "arrange_desk"
    carried, upright = ("cup_a", "bowl", "cup_b"), ("bowl", "cup_a", "cup_b")

    def build(self, worldbody):
        scene.vessel(worldbody, "bowl", BOWL_R, BOWL_H, wall=BOWL_WALL, base=BOWL_BASE, rgba="0.95 0.95 0.9 1",
                     density=150.0, segments=24)  # a light plastic bowl: one pinch of its wall carries it
        scene.vessel(worldbody, "cup_a", CUP_R, CUP_H, rgba="0.2 0.5 0.9 1", density=400.0, friction=CUP_FRICTION,
                     torsion=CUP_TORSION)
        scene.vessel(worldbody, "cup_b", CUP_R, CUP_H, rgba="0.9 0.5 0.2 1", density=400.0, friction=CUP_FRICTION,
                     torsion=CUP_TORSION)
        scene.coaster(worldbody, "coaster", COASTER_R, COASTER_T)

    def reset(self, env, rng):
        env.set_free_pose("bowl", [rng.uniform(-0.10, -0.04), rng.uniform(0.58, 0.64), 0.0], yaw=rng.uniform(-np.pi, np.pi))
        env.set_free_pose("cup_a", [rng.uniform(0.12, 0.20), rng.uniform(0.56, 0.64), 0.0], yaw=rng.uniform(-np.pi, np.pi))
        env.set_free_pose("cup_b", [rng.uniform(0.12, 0.20), rng.uniform(0.38, 0.44), 0.0], yaw=rng.uniform(-np.pi, np.pi))
        env.set_mocap_pos("coaster", [rng.uniform(-0.10, -0.04), rng.uniform(0.36, 0.42), 0.0])

    def success(self, env):
        bowl, cup_a, cup_b = (env.body_pos(b) for b in ("bowl", "cup_a", "cup_b"))
        coaster = env.data.mocap_pos[env.model.body("coaster").mocapid[0]]
        geoms = {b: env.body_geoms(b) for b in ("bowl", "cup_a", "cup_b", "coaster")}
        upright = all(env.body_xmat(b)[2, 2] > np.cos(np.radians(15)) for b in ("bowl", "cup_a", "cup_b"))
        cup_in_bowl = (np.linalg.norm(cup_a[:2] - bowl[:2]) < BOWL_R - BOWL_WALL - CUP_R + 0.005
                       and env.in_contact(geoms["cup_a"], geoms["bowl"]))
        bowl_on_coaster = (np.linalg.norm(bowl[:2] - coaster[:2]) < COASTER_R
                           and env.in_contact(geoms["bowl"], geoms["coaster"]))
        stacked = env.in_contact(geoms["cup_b"], geoms["cup_a"]) and cup_b[2] > cup_a[2] + 0.8 * CUP_H
        return bool(upright and cup_in_bowl and bowl_on_coaster and stacked)

    def waypoints(self, env):
        bowl, cup_a, cup_b = (env.body_pos(b) for b in ("bowl", "cup_a", "cup_b"))
        coaster = env.data.mocap_pos[env.model.body("coaster").mocapid[0]].copy()

        def r(t, pos, gripper):  # cups are round: the right gripper faces each from its base
            return Waypoint(t, pos, aim_rotation("right", pos, CUP_PITCH), gripper)

        def back_out(pos):  # leave a released cup along the fingers, not dragging them across its rim
            return pos - 0.08 * aim_rotation("right", pos, CUP_PITCH)[:, 0]

        down_l = grip_rotation("left", pitch=np.pi / 2)
        up = np.array([0, 0, 0.10])
        site = np.array([0, 0, CUP_SITE])
        a_pick, b_pick = cup_a + site, cup_b + site
        a_place = bowl + [0, 0, BOWL_BASE - 0.003] + site
        # the bowl wall nearest the table's front, 2 mm outside its middle: the flat fingers meet a curved wall
        pinch = np.array([0, -(BOWL_R - BOWL_WALL / 2 + 0.002), BOWL_SITE])
        bowl_pick, bowl_place = bowl + pinch, coaster + [0, 0, COASTER_T - 0.003] + pinch
        b_place = coaster + [0, 0, COASTER_T + BOWL_BASE + CUP_H - 0.003] + site
        lift = np.array([0, 0, 0.10])
        right = [
            r(1.5, a_pick + up, 1.0),
            r(2.2, a_pick, 1.0),
            r(2.7, a_pick, 0.0),
            r(3.3, a_pick + up, 0.0),
            r(4.6, a_place + up, 0.0),
            r(5.4, a_place, 0.0),
            r(5.9, a_place, 1.0),
            r(6.2, a_place, 1.0),
            r(6.8, back_out(a_place), 1.0),
            r(7.3, b_pick + up, 1.0),
            r(8.0, b_pick, 1.0),
            r(8.5, b_pick, 0.0),
            r(9.1, b_pick + up, 0.0),
            r(10.0, PARK_RIGHT, 0.0),
            r(12.6, PARK_RIGHT, 0.0),  # until the left hand is out of the way
            r(14.2, b_place + up / 2, 0.0),
            r(14.9, b_place, 0.0),
            r(15.4, b_place, 1.0),
            r(15.7, b_place, 1.0),
            r(16.4, back_out(b_place), 1.0),
        ]
        left = [
            Waypoint(1.5, bowl_pick + up, down_l, PINCH_OPEN),
            Waypoint(6.4, bowl_pick + up, down_l, PINCH_OPEN),
            Waypoint(7.2, bowl_pick, down_l, PINCH_OPEN),
            Waypoint(7.6, bowl_pick, down_l, 0.0),
            Waypoint(8.2, bowl_pick + lift, down_l, 0.0),
            Waypoint(9.8, bowl_place + lift, down_l, 0.0),
            Waypoint(10.6, bowl_place, down_l, 0.0),
            Waypoint(11.1, bowl_place, down_l, PINCH_OPEN),
            Waypoint(11.4, bowl_place, down_l, PINCH_OPEN),
            Waypoint(11.9, bowl_place + lift * 0.6, down_l, PINCH_OPEN),  # fingers out of the bowl
            Waypoint(12.6, bowl_place + up + [-0.10, -0.05, 0], down_l, PINCH_OPEN),  # and away from the coaster
        ]
        return {"left": left, "right": right}
