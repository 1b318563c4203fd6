import numpy as np
import pytest

from diffog.deploy.controller import Execution, PolicyController
from diffog.deploy.observation import ObservationMatcher
from diffog.robot.safety import JointLimits, SafetyFilter, UnsafeCommand

SLICES = {"follower_left": slice(0, 7), "follower_right": slice(7, 14)}
HOME = np.array([0.0, -0.96, 1.16, 0.0, -0.3, 0.0, 0.5] * 2)


def ramp_policy(history):
    """Moves every arm joint 0.02 rad per action from the observed position (within limits)."""
    return history[-1].qpos[None] + 0.02 * np.arange(1, 9)[:, None] * (np.arange(14) % 7 != 6)


def identity_refiner(raw, past):
    return raw, {"refiner": "none"}


def make(infer=ramp_policy, refine=identity_refiner, timeout=0.5):
    matcher = ObservationMatcher(SLICES, ["cam_high"], tolerance_s=0.03, timeout_s=timeout)
    safety = SafetyFilter(JointLimits.from_description(), command_dt=0.02)
    return PolicyController(infer, refine, matcher, safety, chunk_dt=0.1, execution=Execution(4))


def observe(c, t, qpos=HOME):
    c.add_observation("follower_left", t, qpos[:7])
    c.add_observation("follower_right", t, qpos[7:])
    c.add_observation("cam_high", t, np.zeros((4, 4, 3), np.uint8))


def run_commands(c, t0, t1, observe_until=None):
    out = []
    for t in np.arange(t0, t1, 0.02):
        if observe_until is None or t <= observe_until:
            observe(c, t)
        out.append(c.command(t))
    return out


def test_chunk_is_streamed_from_the_observed_position_within_limits():
    c = make()
    observe(c, 0.0)
    r = c.plan(0.0)
    assert r.hold_reason == "" and r.raw.shape == (8, 14)
    np.testing.assert_allclose(r.past_action, HOME)  # nothing sent yet: anchored to the measured position
    cmds = [x for x in run_commands(c, 0.0, 0.45) if x is not None]
    assert len(cmds) == 21  # 4 actions x 0.1 s at 50 Hz, plus the start
    np.testing.assert_allclose(cmds[0], HOME)
    np.testing.assert_allclose(cmds[-1], r.refined[4])  # time-aligned: actions 1..4 (0 is the present)
    limits = JointLimits.from_description()
    assert all(np.all((x >= limits.lower) & (x <= limits.upper)) for x in cmds)
    # the next chunk is anchored to the last executed command
    observe(c, 0.5)
    np.testing.assert_allclose(c.plan(0.5).past_action, cmds[-1])


def test_nan_in_the_chunk_holds():
    c = make(infer=lambda history: np.full((8, 14), np.nan))
    observe(c, 0.0)
    r = c.plan(0.0)
    assert "raw chunk" in r.hold_reason and r.fault and not c.streamer.active
    assert c.command(0.02) is None


def test_nan_observation_holds_the_running_chunk():
    c = make()
    observe(c, 0.0)
    c.plan(0.0)
    sent = [x for x in run_commands(c, 0.0, 0.1) if x is not None]
    observe(c, 0.12, qpos=np.full(14, np.nan))
    r = c.plan(0.12)
    assert "non-finite" in r.hold_reason and r.fault
    assert c.command(0.14) is None
    np.testing.assert_allclose(c.last_sent, sent[-1])


def test_stale_inputs_hold_mid_chunk():
    c = make(timeout=0.1)
    observe(c, 0.0)
    c.plan(0.0)
    with pytest.raises(UnsafeCommand, match="old"):
        run_commands(c, 0.0, 0.4, observe_until=0.1)
    assert not c.streamer.active and c.command(0.4) is None


def test_refiner_output_that_jumps_is_refused_by_the_step_check():
    c = make(refine=lambda raw, past: (raw + 1.0, {}))
    observe(c, 0.0)
    c.plan(0.0)
    assert c.command(0.0) is not None  # the start point is the measured position
    with pytest.raises(UnsafeCommand, match="exceeds"):
        c.command(0.02)
    assert c.command(0.04) is None


def test_estop_stops_commands_and_planning_until_released():
    c = make()
    observe(c, 0.0)
    c.plan(0.0)
    c.set_estop(True)
    assert c.command(0.02) is None
    assert c.plan(0.02).hold_reason == "e-stop engaged"
    c.set_estop(False)
    moved = HOME + 0.3 * (np.arange(14) % 7 != 6)  # arms moved while stopped (e.g. a sim reset)
    observe(c, 0.04, moved)
    r = c.plan(0.04)
    assert r.hold_reason == ""
    np.testing.assert_allclose(r.past_action, moved)  # re-anchored: no jump from the old command
    np.testing.assert_allclose(c.command(0.04), moved)


def test_policy_gets_a_history_spaced_by_the_chunk_dt():
    seen = []
    matcher = ObservationMatcher(SLICES, ["cam_high"], tolerance_s=0.03, timeout_s=0.5)
    safety = SafetyFilter(JointLimits.from_description(), command_dt=0.02)
    c = PolicyController(lambda h: seen.append(h) or ramp_policy(h), identity_refiner, matcher, safety,
                         chunk_dt=0.1, execution=Execution(4), n_obs_steps=2)
    for k in range(11):
        observe(c, k * 0.02, HOME + k)
    c.plan(0.2)
    assert [o.stamp for o in seen[0]] == pytest.approx([0.1, 0.2])
    assert seen[0][0].qpos[0] == HOME[0] + 5


def test_targets_beyond_the_limits_are_clamped_before_interpolation():
    far = HOME.copy()
    far[6] = -5.0  # gripper target far below closed (0): unclamped, the first step would be 0.69
    c = make(infer=lambda h: np.tile(far, (8, 1)))
    observe(c, 0.0)
    c.plan(0.0)
    cmds = [c.command(t) for t in np.arange(0.0, 0.12, 0.02)]
    assert cmds[-1][6] == 0.0 and all(x is not None for x in cmds)


def test_the_next_chunk_is_due_after_n_action_steps_without_overlap():
    c = make()
    observe(c, 0.0)
    assert c.plan_due(0.0)
    c.plan(0.0)
    # 4 actions 0.1 s apart: not due while they run, due once the last one has been commanded
    for t in np.arange(0.0, 0.39, 0.02):
        assert not c.plan_due(t)
        c.command(t)
    run_commands(c, 0.38, 0.43)
    assert c.plan_due(0.44)


def test_with_overlap_the_next_inference_starts_one_latency_before_the_chunk_ends():
    matcher = ObservationMatcher(SLICES, ["cam_high"], tolerance_s=0.03, timeout_s=0.5)
    c = PolicyController(ramp_policy, identity_refiner, matcher,
                         SafetyFilter(JointLimits.from_description(), command_dt=0.02), chunk_dt=0.1,
                         execution=Execution(4, overlap=True))
    observe(c, 0.0)
    c.plan(0.0, clock=lambda: 0.06)  # inference took 0.06 s; actions 1..4 are due at 0.1 .. 0.4 all the same
    assert c.latency_s == pytest.approx(0.06)
    assert not c.plan_due(0.33) and c.plan_due(0.35)
    no_overlap = make()
    observe(no_overlap, 0.0)
    no_overlap.plan(0.0, clock=lambda: 0.06)
    assert not no_overlap.plan_due(0.35)


def test_actions_whose_time_passed_during_a_slow_inference_are_skipped():
    c = make()
    observe(c, 0.0)
    r = c.plan(0.0, clock=lambda: 0.25)  # actions 1, 2 (due 0.1, 0.2) are late: the path heads for action 3
    cmds = [c.command(t) for t in (0.25, 0.27, 0.29, 0.3)]
    np.testing.assert_allclose(cmds[0], HOME)
    np.testing.assert_allclose(cmds[-1], r.refined[3])


def test_execution_needs_a_positive_whole_number_of_actions():
    for bad in (0, -1, 2.5):
        with pytest.raises(ValueError, match="n_action_steps"):
            Execution(bad)


def test_the_first_command_is_step_checked_against_the_measured_position():
    far = HOME + 0.3 * (np.arange(14) % 7 != 6)  # 0.3 rad away in one action
    c = make(infer=lambda h: np.tile(far, (8, 1)))
    observe(c, 0.0)
    c.plan(0.0)
    with pytest.raises(UnsafeCommand, match="exceeds the limit"):
        c.command(0.1)  # the whole jump in the first command: refused although nothing was sent before
