"""Faults in what the control path is configured with or fed: each is refused where it enters, or the robot
holds; no unsafe command leaves the controller."""
import math
import zipfile

import numpy as np
import pytest
import torch
import yaml

from diffog import REPO_ROOT
from diffog.deploy.config import DeployConfig
from diffog.deploy.controller import Execution, PolicyController
from diffog.deploy.observation import ObservationMatcher
from diffog.policy.checkpoint import CheckpointError, read_checkpoint
from diffog.refine import DiffOGLayer
from diffog.robot import (ROBOT_DESCRIPTION, DescriptionError, JointLimits, SafetyFilter, UnsafeCommand,
                          load_robot_description)

SLICES = {"follower_left": slice(0, 7), "follower_right": slice(7, 14)}
HOME = np.array([0.0, -0.96, 1.16, 0.0, -0.3, 0.0, 0.5] * 2)
LIMITS = JointLimits.from_description()
SHIPPED = REPO_ROOT / "checkpoints" / "move_stack_state_diffog.ckpt"


def controller(infer=None, refine=None):
    infer = infer or (lambda h: h[-1].qpos[None] + 0.01 * np.arange(1, 9)[:, None] * (np.arange(14) % 7 != 6))
    matcher = ObservationMatcher(SLICES, [], tolerance_s=0.03, timeout_s=0.5)
    return PolicyController(infer, refine or (lambda raw, past: (raw, {})), matcher,
                            SafetyFilter(LIMITS, command_dt=0.02), chunk_dt=0.1, execution=Execution(4))


def observe(c, t, qpos=HOME):
    c.add_observation("follower_left", t, qpos[:7])
    c.add_observation("follower_right", t, qpos[7:])


def count_unsafe(fault, commands, start):
    """Commands outside the limits, non-finite, or stepping more than the filter allows from the last one."""
    last = start
    for cmd in commands:
        if cmd is None:
            continue
        bad = (not np.all(np.isfinite(cmd)) or np.any(cmd < LIMITS.lower - 1e-9) or np.any(cmd > LIMITS.upper + 1e-9)
               or np.any(np.abs(cmd - last) > LIMITS.velocity * 0.02 + 1e-9))
        fault.unsafe_commands += int(bad)
        last = cmd


def run(c, t0, t1, qpos=HOME):
    out = []
    for t in np.arange(t0, t1, 0.02):
        observe(c, t, qpos)
        try:
            out.append(c.command(t))
        except UnsafeCommand:
            out.append(None)
    return out


@pytest.mark.parametrize("edit", ["blank upper", "nan lower", "inverted"])
def test_a_bad_joint_limit_in_the_description_is_refused(tmp_path, fault, edit):
    raw = yaml.safe_load(ROBOT_DESCRIPTION.read_text())
    lim = raw["joint_limits"]["elbow"]
    lim.update({"blank upper": {"upper": None}, "nan lower": {"lower": math.nan},
                "inverted": {"lower": 2.0, "upper": 1.0}}[edit])
    (tmp_path / "aloha.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(DescriptionError, match="elbow|finite|lower < upper"):
        load_robot_description(tmp_path / "aloha.yaml")


@pytest.mark.parametrize("build", [
    lambda v: SafetyFilter(LIMITS, command_dt=0.02, step_scale=v),
    lambda v: SafetyFilter(LIMITS, command_dt=v),
    lambda v: ObservationMatcher(SLICES, [], tolerance_s=v, timeout_s=0.5),
    lambda v: ObservationMatcher(SLICES, [], tolerance_s=0.03, timeout_s=v),
    lambda v: DeployConfig("c.ckpt", step_scale=v),
    lambda v: DeployConfig("c.ckpt", command_rate_hz=v),
    lambda v: JointLimits(LIMITS.lower, LIMITS.upper, np.full(14, v)),
], ids=["step_scale", "command_dt", "stamp_tolerance", "observation_timeout", "deploy_step_scale",
        "deploy_rate", "velocity_limit"])
@pytest.mark.parametrize("value", [math.nan, math.inf, -1.0])
def test_a_non_finite_or_negative_setting_never_switches_a_check_off(fault, build, value):
    with pytest.raises(ValueError):
        build(value)


def test_the_first_command_from_an_arm_measured_beyond_a_limit_holds(fault):
    beyond = HOME.copy()
    beyond[1] = LIMITS.lower[1] - 0.3  # the shoulder measured 0.3 rad past its limit
    c = controller()
    observe(c, 0.0, beyond)
    assert c.plan(0.0).hold_reason == ""
    sent = run(c, 0.0, 0.5, beyond)
    assert all(x is None for x in sent) and not c.streamer.active, "the clamped command is a 0.3 rad jump"
    count_unsafe(fault, sent, beyond)
    assert fault.unsafe_commands == 0


def test_the_clock_stepping_back_holds_clears_history_and_restarts_from_the_measured_position(fault):
    c = controller()
    observe(c, 10.0)
    c.plan(10.0)
    before = [x for x in run(c, 10.0, 10.2) if x is not None]
    assert before
    moved = HOME + 0.2 * (np.arange(14) % 7 != 6)  # a sim reset put the arms elsewhere
    with pytest.raises(UnsafeCommand, match="jumped back"):
        c.command(0.0)
    assert c.last_sent is None and not c.streamer.active
    observe(c, 0.0, moved)
    r = c.plan(0.0)
    assert r.hold_reason == "" and r.latency.observation_age_s >= 0
    np.testing.assert_allclose(r.past_action, moved)  # anchored to where the arms are now, not the old command
    after = run(c, 0.0, 0.45, moved)
    assert any(x is not None for x in after)
    count_unsafe(fault, after, moved)
    assert fault.unsafe_commands == 0


def test_a_sample_from_before_a_clock_jump_never_feeds_the_policy(fault):
    m = ObservationMatcher(SLICES, [], tolerance_s=0.03, timeout_s=0.5)
    for t in (5.0, 5.02):
        m.add("follower_left", t, HOME[:7])
        m.add("follower_right", t, HOME[7:])
    assert m.newest_age(0.0) == math.inf  # now is behind the data: stale, hold
    with pytest.raises(Exception, match="clock went back"):
        m.history(0.0, 2, 0.1)
    m.add("follower_left", 0.0, HOME[:7] + 0.1)
    m.add("follower_right", 0.0, HOME[7:] + 0.1)
    np.testing.assert_allclose(m.history(0.0, 2, 0.1)[-1].qpos, HOME + 0.1)


def test_a_layer_with_nan_alpha_is_refused(fault):
    with pytest.raises(ValueError, match="alpha"):
        DiffOGLayer(horizon=8, action_dim=7, continuous_dims=list(range(6)), alpha=math.nan)


def test_nan_q_weights_are_reported_and_the_robot_holds(fault):
    layer = DiffOGLayer(horizon=8, action_dim=14, continuous_dims=[i for i in range(14) if i % 7 != 6],
                        q_head="compact")
    with torch.no_grad():
        for p in layer.q_net.parameters():
            p.fill_(math.nan)

    def refine(raw, past):
        with torch.no_grad():
            y = layer.forward_with_past_action(torch.from_numpy(raw[:8]).float()[None], torch.from_numpy(past).float()[None])
        stats = layer.last_stats.summary()
        assert not stats["converged"] and stats["max_violation"] == math.inf, stats
        return y[0].double().numpy(), stats

    c = controller(refine=refine)
    observe(c, 0.0)
    r = c.plan(0.0)
    assert r.fault and "refined chunk" in r.hold_reason
    sent = run(c, 0.0, 0.3)
    assert all(x is None for x in sent)
    count_unsafe(fault, sent, HOME)


def test_float32_stats_describe_the_returned_chunk(fault):
    layer = DiffOGLayer(horizon=8, action_dim=7, continuous_dims=list(range(6)), q_head="compact",
                        lower=-0.05, upper=0.05)
    with torch.no_grad():
        a = 60 * torch.randn(1, 8, 7, generator=torch.Generator().manual_seed(0))
        y = layer.forward_with_past_action(a, torch.zeros(1, 7))
    steps = torch.diff(torch.cat([torch.zeros(1, 1, 7), y], 1), dim=1)[..., :6]
    actual = float((steps.abs() - 0.05).clamp(min=0).max())
    assert layer.last_stats.summary()["max_violation"] == pytest.approx(actual, abs=1e-9)


def _corrupt_one_tensor(src, dst):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            zout.writestr(info, data)
    raw = bytearray(dst.read_bytes())
    with zipfile.ZipFile(dst) as z:  # flip bytes in the middle of the largest stored tensor
        big = max(z.infolist(), key=lambda i: i.compress_size)
        offset = big.header_offset + 30 + len(big.filename.encode()) + len(big.extra) + big.compress_size // 2
    raw[offset:offset + 8] = b"\xff" * 8
    dst.write_bytes(bytes(raw))


def test_a_checkpoint_with_flipped_bytes_is_refused(tmp_path, fault):
    bad = tmp_path / "flipped.ckpt"
    _corrupt_one_tensor(SHIPPED, bad)
    with pytest.raises(CheckpointError, match="CRC|corrupt"):
        read_checkpoint(bad)


def test_a_checkpoint_with_nan_weights_is_refused(tmp_path, fault):
    payload = torch.load(SHIPPED, weights_only=True)
    name = next(k for k, v in payload["weights"].items() if v.is_floating_point() and v.numel() > 10)
    payload["weights"][name][0] = math.nan
    torch.save(payload, tmp_path / "nan.ckpt")
    with pytest.raises(CheckpointError, match="non-finite"):
        read_checkpoint(tmp_path / "nan.ckpt")


def test_an_unpickling_attack_is_refused(tmp_path, fault):
    evil = tmp_path / "evil.ckpt"
    torch.save({"format": "diffog-policy", "cmd": __import__("argparse").Namespace(cmd="rm -rf /")}, evil)
    with pytest.raises(CheckpointError, match="refused"):
        read_checkpoint(evil)
