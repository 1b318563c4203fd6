import numpy as np
import pytest

from diffog.robot.safety import JointLimits, SafetyFilter, UnsafeCommand


@pytest.fixture
def limits() -> JointLimits:
    return JointLimits.from_description()


def test_limits_follow_the_robot_description(limits):
    assert limits.lower.shape == (14,)
    assert limits.lower[1] == pytest.approx(-1.85005) and limits.upper[8] == pytest.approx(1.25664)
    assert limits.lower[6] == 0.0 and limits.upper[13] == 1.0


def test_command_outside_the_limits_is_clamped(limits):
    f = SafetyFilter(limits, command_dt=0.02)
    cmd = limits.upper + 0.01
    out = f.check(cmd, last_sent=limits.upper.copy())
    np.testing.assert_allclose(out, limits.upper)
    assert np.all(cmd > out)  # the caller's array is untouched, the result is a clamped copy


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_command_is_refused(limits, bad):
    f = SafetyFilter(limits, command_dt=0.02)
    cmd = np.zeros(14)
    cmd[3] = bad
    with pytest.raises(UnsafeCommand, match=r"non-finite.*\[3\]"):
        f.check(cmd, last_sent=np.zeros(14))


def test_step_larger_than_velocity_limit_times_period_is_refused(limits):
    f = SafetyFilter(limits, command_dt=0.02, step_scale=1.0)
    last = np.zeros(14)
    ok = last.copy()
    ok[0] = 3.14159 * 0.02 * 0.99
    np.testing.assert_allclose(f.check(ok, last), ok)
    bad = last.copy()
    bad[0] = 3.14159 * 0.02 * 1.5
    with pytest.raises(UnsafeCommand, match="dim 0"):
        f.check(bad, last)
    # the first command of a run (nothing sent yet) has no step to check
    np.testing.assert_allclose(f.check(bad, None), bad)


def test_wrong_shape_is_refused(limits):
    with pytest.raises(UnsafeCommand, match="shape"):
        SafetyFilter(limits, command_dt=0.02).check(np.zeros(7), None)
