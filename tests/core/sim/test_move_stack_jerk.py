"""The paper's claim in sim: move_stack fails by physics when the carry is jerky. The smooth demo and the same
path with a chunked policy's jerk added to the arm joints (gripper untouched) differ only in smoothness."""
import numpy as np

from diffog.sim import make_env
from diffog.sim.demo import execute, scripted_actions
from diffog.sim.tasks.move_stack import CUP_H
from diffog.sim.trajectory import inject_jerk


def test_jerk_on_the_same_path_throws_the_spoon_off():
    env = make_env("move_stack", seed=11)
    smooth = scripted_actions(env)
    carrying = smooth[:, 13] < 0.5  # right gripper closed: the cup is in hand
    jerky = inject_jerk(smooth, amplitude=0.04, chunk=8, rng=np.random.default_rng(0), mask=carrying)
    assert np.abs(jerky - smooth).max() <= 0.04 and np.array_equal(jerky[:, [6, 13]], smooth[:, [6, 13]])

    assert execute(env, smooth).success
    env.reset(11)
    assert not execute(env, jerky).success
    spoon, cup = env.body_pos("spoon"), env.body_pos("cup")
    assert spoon[2] < cup[2] + CUP_H - 0.01, "the failure should be the spoon leaving the rim"
    env.close()


def test_a_flailing_arm_does_not_make_the_physics_diverge():
    # Violent 0.3 rad jumps every 2 steps: under gym-aloha's default Euler integrator this seed's spoon diverged
    # at t = 2.3 s (MuJoCo then silently resets the state); the scenes use implicitfast.
    env = make_env("move_stack", seed=1)
    wild = inject_jerk(scripted_actions(env), amplitude=0.3, chunk=2, rng=np.random.default_rng(1))
    for a in wild[:150]:
        env.step(a)  # raises SimulationError on divergence
    env.close()
