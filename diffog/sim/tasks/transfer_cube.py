"""ACT's transfer_cube: the right arm picks a cube, hands it to the left arm in the air."""
from __future__ import annotations

import numpy as np

from diffog.sim import scene
from diffog.sim.tasks.base import Task
from diffog.sim.trajectory import Waypoint, grip_rotation

CUBE_HALF = 0.02
MEET = np.array([0.0, 0.5, 0.25])  # right grasp site at the hand-over
RIGHT_HOLD = 0.042  # right grasp site above the cube centre: fingertips 12 mm below the cube's top
LEFT_BELOW = 0.025  # left grasp site below the cube centre: its fingers stay under the right fingertips


class TransferCube(Task):
    carried = ("box",)
    name = "transfer_cube"

    def build(self, worldbody):
        box = scene.gym_aloha_file("bimanual_viperx_transfer_cube.xml").find("worldbody/body[@name='box']")
        worldbody.append(box)

    def reset(self, env, rng):
        # ACT's ranges (gym_aloha.utils.sample_box_pose), resting on the table instead of dropped from 5 cm.
        env.set_free_pose("box", [rng.uniform(0.0, 0.2), rng.uniform(0.4, 0.6), CUBE_HALF])

    def success(self, env):
        box = env.body_geoms("box")
        left = env.body_geoms("vx300s_left/left_finger_link") | env.body_geoms("vx300s_left/right_finger_link")
        right = env.body_geoms("vx300s_right/left_finger_link") | env.body_geoms("vx300s_right/right_finger_link")
        table = env.body_geoms("table")
        return env.in_contact(box, left) and not env.in_contact(box, right) and not env.in_contact(box, table)

    def waypoints(self, env):
        cube = env.body_pos("box")
        down_r = grip_rotation("right", pitch=np.pi / 2)
        level_l = grip_rotation("left")
        hold = np.array([0, 0, RIGHT_HOLD])
        at_meet = MEET - hold + np.array([0, 0, -LEFT_BELOW])  # left grasp site at the hand-over
        right = [
            Waypoint(1.6, cube + [0, 0, 0.12], down_r, 1.0),
            Waypoint(2.4, cube + hold, down_r, 1.0),
            Waypoint(3.0, cube + hold, down_r, 0.0),
            Waypoint(4.2, MEET, down_r, 0.0),
            Waypoint(6.0, MEET, down_r, 0.0),
            Waypoint(6.5, MEET, down_r, 1.0),
            Waypoint(7.3, MEET + [0.10, 0, 0.05], down_r, 1.0),
        ]
        left = [
            Waypoint(2.0, at_meet + [-0.15, 0, 0], level_l, 1.0),
            Waypoint(4.6, at_meet + [-0.15, 0, 0], level_l, 1.0),
            Waypoint(5.4, at_meet, level_l, 1.0),
            Waypoint(5.9, at_meet, level_l, 0.0),
            Waypoint(6.5, at_meet, level_l, 0.0),
            Waypoint(7.3, at_meet + [-0.10, 0, 0], level_l, 0.0),
        ]
        return {"left": left, "right": right}
