"""ACT's insertion: the left arm picks the socket, the right arm the peg, and the peg goes in until it touches
the pin inside the socket."""
from __future__ import annotations

import numpy as np

from diffog.sim import scene
from diffog.sim.tasks.base import Task
from diffog.sim.trajectory import Waypoint, grip_rotation

PEG_HALF_LEN = 0.06  # gym-aloha's peg: 0.12 x 0.02 x 0.02 m, along x
SOCKET_REST_Z = 0.022  # socket body origin above the table when its bottom plate rests on it
PIN_HALF_LEN = 0.04
SOCKET_CLEARANCE = 0.009  # socket bore half-width 0.018 - peg half-width 0.01, plus 1 mm
SOCKET_AT_MEET = np.array([-0.05, 0.5, 0.15])
SITE_Z = 0.04  # grasp-site height at the pick: fingertips 6 mm above the table
HOLD_OFFSET = 0.03  # each gripper holds its object this far from the centre, away from the other


class Insertion(Task):
    carried = ("peg", "socket")
    name = "insertion"

    def build(self, worldbody):
        src = scene.gym_aloha_file("bimanual_viperx_insertion.xml").find("worldbody")
        for name in ("peg", "socket"):
            worldbody.append(src.find(f"body[@name='{name}']"))

    def reset(self, env, rng):
        # ACT's ranges (gym_aloha.utils.sample_insertion_pose), resting on the table instead of dropped.
        env.set_free_pose("peg", [rng.uniform(0.1, 0.2), rng.uniform(0.4, 0.6), 0.01])
        env.set_free_pose("socket", [rng.uniform(-0.2, -0.1), rng.uniform(0.4, 0.6), SOCKET_REST_Z])

    def success(self, env):
        """The peg is inside the socket, along its axis, with its end at the pin (ACT's check is a contact with
        the pin, which flickers while the peg is pressed against it), and neither object is on the table."""
        socket_rot = env.body_xmat("socket")
        rel = socket_rot.T @ (env.body_pos("peg") - env.body_pos("socket"))
        aligned = abs(socket_rot[:, 0] @ env.body_xmat("peg")[:, 0]) > np.cos(np.radians(10))
        inside = abs(rel[1]) < SOCKET_CLEARANCE and abs(rel[2]) < SOCKET_CLEARANCE
        at_pin = abs(rel[0]) - PEG_HALF_LEN < PIN_HALF_LEN + 0.003
        lifted = not env.in_contact(env.body_geoms("peg") | env.body_geoms("socket"), env.body_geoms("table"))
        return bool(aligned and inside and at_pin and lifted)

    def waypoints(self, env):
        peg, socket = env.body_pos("peg"), env.body_pos("socket")
        down_l, down_r = grip_rotation("left", pitch=np.pi / 2), grip_rotation("right", pitch=np.pi / 2)
        peg_grip = peg + [HOLD_OFFSET, 0, SITE_Z - peg[2]]
        socket_grip = socket + [-HOLD_OFFSET, 0, SITE_Z - socket[2]]
        socket_meet = SOCKET_AT_MEET + (socket_grip - socket)
        # peg centre when its end is 15 mm past the pin's end: the pin stops it and the arm keeps it pressed
        # and 3 mm low: the right arm rises a little as it starts the push
        inserted = SOCKET_AT_MEET + [PIN_HALF_LEN + PEG_HALF_LEN - 0.015, 0, -0.003] + (peg_grip - peg)
        up = np.array([0, 0, 0.10])
        left = [
            Waypoint(1.6, socket_grip + up, down_l, 1.0),
            Waypoint(2.4, socket_grip, down_l, 1.0),
            Waypoint(3.0, socket_grip, down_l, 0.0),
            Waypoint(3.4, socket_grip + up / 2, down_l, 0.0),
            Waypoint(4.4, socket_meet, down_l, 0.0),
        ]
        right = [
            Waypoint(1.6, peg_grip + up, down_r, 1.0),
            Waypoint(2.4, peg_grip, down_r, 1.0),
            Waypoint(3.0, peg_grip, down_r, 0.0),
            Waypoint(3.4, peg_grip + up / 2, down_r, 0.0),
            Waypoint(4.4, inserted + [0.06, 0, 0], down_r, 0.0),
            Waypoint(5.0, inserted + [0.06, 0, 0], down_r, 0.0),
            Waypoint(7.0, inserted, down_r, 0.0),
        ]
        return {"left": left, "right": right}
