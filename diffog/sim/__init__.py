"""Simulated ALOHA on gym-aloha's bimanual vx300s MuJoCo model, never importing ROS.

env.py: the joint-space env (`make_env`, ACT's 14-dim action layout, real camera names); scene.py: MJCF scenes
from gym-aloha's assets plus task objects; tasks/: transfer_cube, insertion (ACT's), move_stack, arrange_desk
(the paper's real tasks), each with seeded starts, a physics success check and scripted waypoints;
ik.py + trajectory.py: waypoints -> 50 Hz joint actions (human-like variability, injected jerk); demo.py: run and
record demonstrations; make_dataset.py / measure_demos.py: the data set and success-rate commands; server.py:
the sim behind the real robot's xs_sdk interface (the ROS sim node in aloha_bringup wraps it).
May import: diffog.robot, diffog.data, diffog.hardware.
"""
from diffog.sim.env import CAMERAS, SimAloha, make_env
from diffog.sim.tasks import TASKS

__all__ = ["CAMERAS", "TASKS", "SimAloha", "make_env"]
