"""The joint-space sim env: ALOHA layout, gripper normalization, bad input, cameras, torque."""
import numpy as np
import pytest

from diffog.robot import load_robot_description
from diffog.sim import TASKS, make_env


@pytest.fixture(scope="module")
def env():
    e = make_env("transfer_cube", seed=0)
    yield e
    e.close()


def test_contract(env):
    assert TASKS == ("transfer_cube", "insertion", "move_stack", "arrange_desk")
    assert env.dt == pytest.approx(0.02)
    env.reset(0)
    for fn in (env.qpos, env.qvel, env.effort):
        assert fn().shape == (14,)
    start = load_robot_description().start_pose
    np.testing.assert_allclose(env.qpos()[:6], start[:6], atol=1e-9)
    np.testing.assert_allclose(env.qpos()[7:13], start[:6], atol=1e-9)


def test_gripper_is_the_follower_finger_normalized_with_aloha_constants(env):
    follower = load_robot_description().gripper.follower
    env.reset(0)
    finger = env.data.qpos[env.model.joint("vx300s_left/left_finger").qposadr[0]]
    expected = (finger - follower.position_close) / (follower.position_open - follower.position_close)
    assert env.qpos()[6] == pytest.approx(expected)
    hold = env.qpos()
    hold[6], hold[13] = 1.0, 0.0  # open left, close right
    for _ in range(50):
        env.step(hold)
    # gym-aloha's finger ctrlrange (0.021..0.057 m) bounds what the normalized command reaches
    assert env.qpos()[6] > 0.9 and env.qpos()[13] < 0.15


def test_step_tracks_joint_targets_and_reset_is_seeded(env):
    env.reset(3)
    box = env.body_pos("box")
    target = env.qpos()
    target[0] += 0.3  # left waist
    for _ in range(50):
        env.step(target)
    assert env.qpos()[0] == pytest.approx(target[0], abs=0.02)
    env.reset(3)
    np.testing.assert_allclose(env.body_pos("box"), box)
    env.reset(4)
    assert not np.allclose(env.body_pos("box"), box)


@pytest.mark.parametrize("bad", [np.full(14, np.nan), np.zeros(13), [0.0] * 6 + [np.inf] + [0.0] * 7])
def test_bad_action_raises_and_changes_nothing(env, bad):
    env.reset(0)
    for _ in range(3):
        env.step(env.qpos())
    before = (env.data.qpos.copy(), env.data.ctrl.copy(), env.data.time)
    with pytest.raises(ValueError):
        env.step(bad)
    np.testing.assert_array_equal(env.data.qpos, before[0])
    np.testing.assert_array_equal(env.data.ctrl, before[1])
    assert env.data.time == before[2]


def test_unknown_names_are_clear_errors():
    with pytest.raises(ValueError, match="unknown sim task"):
        make_env("fold_laundry")
    with pytest.raises(ValueError, match="unknown cameras"):
        make_env("transfer_cube", cameras=["cam_top"])


def test_torque_off_lets_the_arm_sag_and_on_holds_it(env):
    env.reset(0)
    env.set_torque("right", False)
    hold = env.qpos()
    for _ in range(50):
        env.step(hold)
    sagged = np.abs(env.qpos()[7:13] - hold[7:13]).max()
    assert np.abs(env.qpos()[:6] - hold[:6]).max() < 0.02  # the left arm keeps its torque
    assert sagged > 0.05
    env.set_torque("right", True)
    for _ in range(100):
        env.step(hold)
    assert np.abs(env.qpos()[7:13] - hold[7:13]).max() < 0.03


def test_render_small_frames_from_real_camera_names():
    env = make_env("transfer_cube", seed=0, render_size=(48, 64), cameras=["cam_high", "cam_left_wrist"])
    try:
        images = env.images()
        assert set(images) == {"cam_high", "cam_left_wrist"}
        for img in images.values():
            assert img.shape == (48, 64, 3) and img.dtype == np.uint8 and img.std() > 1.0
        with pytest.raises(ValueError, match="unknown camera"):
            env.render("top")
    finally:
        env.close()


def test_diverged_physics_is_an_error_not_a_silent_reset(env, tmp_path, monkeypatch):
    from diffog.sim.env import SimulationError

    monkeypatch.chdir(tmp_path)  # MuJoCo logs the warning to ./MUJOCO_LOG.TXT
    env.reset(0)
    env.data.qvel[16] = 1e12  # the cube thrown absurdly fast
    with pytest.raises(SimulationError, match="unstable"):
        env.step(env.qpos())
