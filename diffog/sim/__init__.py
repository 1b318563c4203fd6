"""Simulated ALOHA: MuJoCo tasks on gym-aloha's bimanual vx300s model, scripted demonstrators, data sets."""
from diffog.sim.env import CAMERAS, SimAloha, make_env
from diffog.sim.tasks import TASKS

__all__ = ["CAMERAS", "TASKS", "SimAloha", "make_env"]
