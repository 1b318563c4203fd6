"""Training modes, checkpoints, resume, offline evaluation and the CLI on a few synthetic episodes."""
import argparse
import json
import pathlib

import numpy as np
import pytest
import torch

from diffog.robot import load_robot_description
from diffog.deploy.config import DeployConfig
from diffog.deploy.deployed_policy import load_deployed_policy
from diffog.policy import CheckpointError, read_checkpoint, save_checkpoint
from diffog.training.__main__ import main
from diffog.training.config import TrainConfig, compose_config
from diffog.training.trainer import train


def test_short_base_training_lowers_the_loss(base_run):
    losses = base_run["losses"]
    assert len(losses) == 300
    assert np.mean(losses[-20:]) < 0.85 * np.mean(losses[:20]), (np.mean(losses[:20]), np.mean(losses[-20:]))
    # held-out episodes: the trained policy beats the same architecture untrained (same noise draws)
    from diffog.data.normalizer import MinMaxNormalizer
    from diffog.policy.factory import build_policy
    from diffog.training.trainer import data_split, make_dataset, mean_losses

    payload = read_checkpoint(base_run["checkpoint"])
    cfg = TrainConfig.from_dict(payload["config"])
    torch.manual_seed(0)
    untrained = build_policy(cfg, MinMaxNormalizer.from_state_dict(payload["normalizer"]), payload["joint_names"])
    val = make_dataset(cfg, data_split(cfg)[1], payload["joint_names"])
    before = mean_losses(untrained, val, 16, 2, torch.device("cpu"))["dp_loss"]
    assert base_run["val"]["dp_loss"] < 0.8 * before, (before, base_run["val"]["dp_loss"])
    assert base_run["samples_per_s"] > 0


def test_dataset_mode_trains_dp_and_layer_together(episode_dir, tmp_path, overrides):
    s = train(compose_config(overrides(episode_dir, tmp_path, "mode=dataset", "training.num_steps=3",
                                       "training.batch_size=4")))
    payload = read_checkpoint(s["checkpoint"])
    assert set(s["val"]) == {"loss", "dp_loss", "layer_loss"}
    assert any(k.startswith("layer.q_net.") for k in payload["weights"])
    assert payload["train_state"]["step"] == 3
    assert torch.equal(payload["weights"]["layer.q_net.to_factor.weight"],
                       payload["train_state"]["model"]["layer.q_net.to_factor.weight"]) is False


def test_refine_mode_leaves_the_base_bit_identical(base_run, episode_dir, tmp_path, overrides):
    base = read_checkpoint(base_run["checkpoint"])
    s = train(compose_config(overrides(episode_dir, tmp_path, "mode=refine", f"mode.base_checkpoint={base_run['checkpoint']}",
                                       "training.num_steps=2", "training.batch_size=4", "policy=state")))
    refined = read_checkpoint(s["checkpoint"])
    assert refined["policy_config"].policy == base["policy_config"].policy, "the policy config comes from the base"
    for name in ("weights", ):
        base_keys = [k for k in refined[name] if k.startswith("base.")]
        assert base_keys and all(torch.equal(refined[name][k], base["weights"][k]) for k in base_keys)
    live = refined["train_state"]["model"]
    assert all(torch.equal(live[k], base["weights"][k]) for k in live if k.startswith("base."))
    opt_params = refined["train_state"]["optimizer"]["param_groups"][0]["params"]
    assert len(opt_params) == sum(1 for k in live if k.startswith("layer.q_net.")), "only the layer is optimized"
    assert set(s["val"]) == {"loss", "layer_loss"}

    policy = load_deployed_policy(s["checkpoint"], seed=1)
    past = np.linspace(-0.2, 0.2, 14)
    ref, stats = policy.refine(policy.sample_raw({"qpos": np.tile(past, (2, 1))}), past)
    assert stats["converged"] and stats["max_constraint_violation"] <= 1e-6
    bound = torch.tensor(refined["policy_config"].task.refine.bound_values)
    n = policy.normalizer.normalize("action", torch.tensor(np.vstack([past, ref]), dtype=torch.float32))
    dims = [i for i, name in enumerate(policy.joint_names) if "gripper" not in name]
    assert n[1:, dims].sub(n[:-1, dims]).abs().max() <= bound + 1e-5, "every step, the first from the past action"


def load_base(path, seed=None):
    return load_deployed_policy(DeployConfig(str(path), refiner="none"), seed=seed)


def test_checkpoint_round_trip_gives_identical_actions(base_run, tmp_path):
    obs = {"qpos": np.random.default_rng(0).uniform(-0.3, 0.3, (2, 14))}
    a = load_base(base_run["checkpoint"], seed=7)
    b = load_base(base_run["checkpoint"], seed=7)
    raw_a, raw_b = a.sample_raw(obs), b.sample_raw(obs)
    assert raw_a.shape == (a.chunk_length, 14) and a.model.layer is None
    assert np.array_equal(raw_a, raw_b)
    assert a.joint_names == load_robot_description().action_joint_names and a.config.policy.horizon == 16
    assert a.execution.n_action_steps == 8
    assert a.dt == pytest.approx(0.02)
    exported = tmp_path / "small.ckpt"
    main(["export", base_run["checkpoint"], str(exported)])
    assert "train_state" not in read_checkpoint(exported)
    assert exported.stat().st_size < pathlib.Path(base_run["checkpoint"]).stat().st_size
    assert np.array_equal(load_base(exported, seed=7).sample_raw(obs), raw_a)


def test_bad_observations_raise_before_inference(base_run):
    policy = load_base(base_run["checkpoint"])
    with pytest.raises(ValueError, match="NaN"):
        policy.sample_raw({"qpos": np.full((2, 14), np.nan)})
    with pytest.raises(ValueError, match="shape"):
        policy.sample_raw({"qpos": np.zeros((1, 14))})
    with pytest.raises(ValueError, match="robot's joint order"):
        policy.sample_raw({"qpos": np.zeros((2, 7))})
    with pytest.raises(KeyError, match="qpos"):
        policy.sample_raw({"joints": np.zeros((2, 14))})


def test_bad_checkpoints_fail_clearly(base_run, tmp_path):
    garbage = tmp_path / "garbage.ckpt"
    garbage.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="not a readable"):
        load_base(garbage)

    pickled = tmp_path / "pickled.ckpt"  # an arbitrary pickled object: weights_only refuses to build it
    torch.save({"format": "diffog-policy", "obj": argparse.Namespace(cmd="rm -rf")}, pickled)
    with pytest.raises(CheckpointError, match="refused.*Namespace"):
        load_base(pickled)
    with pytest.raises(CheckpointError, match="no such"):
        load_base(tmp_path / "missing.ckpt")

    payload = read_checkpoint(base_run["checkpoint"])
    args = dict(weights=payload["weights"], normalizer_state=payload["normalizer"], config=payload["config"])
    other = save_checkpoint(tmp_path / "other.ckpt", joint_names=[f"j{i}" for i in range(7)], robot="aloha", **args)
    with pytest.raises(CheckpointError, match="7-dim action"):
        load_base(other)
    koch = save_checkpoint(tmp_path / "koch.ckpt", joint_names=payload["joint_names"], robot="koch", **args)
    with pytest.raises(CheckpointError, match="robot 'koch'"):
        load_base(koch)
    wrong_cfg = dict(payload["config"], policy=dict(payload["config"]["policy"], down_dims=[8, 16]))
    mismatched = save_checkpoint(tmp_path / "mismatch.ckpt", weights=payload["weights"], config=wrong_cfg,
                                 normalizer_state=payload["normalizer"], joint_names=payload["joint_names"], robot="aloha")
    with pytest.raises(CheckpointError, match="do not match"):
        load_base(mismatched)
    old = tmp_path / "old.ckpt"
    stored = {k: v for k, v in payload.items() if k != "policy_config"}  # as on disk
    torch.save(dict(stored, format_version=0), old)
    with pytest.raises(CheckpointError, match="format version 0"):
        load_base(old)
    for bad, says in ((dict(payload["config"]["policy"], n_action_steps=0), "n_action_steps"),
                      (dict(payload["config"]["policy"], horizon="long"), "horizon"),
                      (dict(payload["config"]["policy"], dropout=0.1), "dropout")):
        invalid = save_checkpoint(tmp_path / "invalid.ckpt", config=dict(payload["config"], policy=bad), **{
            k: v for k, v in args.items() if k != "config"}, joint_names=payload["joint_names"], robot="aloha")
        with pytest.raises(CheckpointError, match=f"invalid policy config.*{says}"):
            load_base(invalid)


def test_resume_continues_from_the_saved_step(episode_dir, tmp_path, overrides):
    first = train(compose_config(overrides(episode_dir, tmp_path, "mode=base", "training.num_steps=4")))
    main(["resume", first["checkpoint"], "training.num_steps=7"])
    payload = read_checkpoint(first["checkpoint"])
    assert payload["train_state"]["step"] == 7 and payload["config"]["training"]["num_steps"] == 7
    assert payload["train_state"]["optimizer"]["state"], "the optimizer moments came back"


def test_evaluate_reports_losses_action_error_and_trajectory_metrics(base_run, capsys):
    main(["evaluate", base_run["checkpoint"]])
    report = json.loads(capsys.readouterr().out)
    assert report["split"] == "val" and report["episodes"] == 2
    for key in ("dp_loss", "raw/action_error", "raw/velocity_max", "raw/acceleration_std", "demo/velocity_max",
                "raw/bound_violation_rate"):
        assert np.isfinite(report[key]), key


def test_cli_reports_configuration_and_data_errors_in_one_line(tmp_path, capsys):
    assert main(["train", "mode=refine"]) == 2
    assert "mode.base_checkpoint" in capsys.readouterr().err
    assert main(["train", f"data.dir={tmp_path}"]) == 2
    assert "no episode_N.hdf5" in capsys.readouterr().err
