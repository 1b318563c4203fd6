"""Configs enter typed and validated: hydra composes train.yaml against TrainConfig, a bad value fails at once
with its key named, and a checkpoint's stored config comes back as the same objects."""
import math

import pytest
from hydra.errors import HydraException
from omegaconf.errors import OmegaConfBaseException

from diffog.deploy.config import DeployConfig
from diffog.policy.config import PolicyConfig
from diffog.training.config import TrainConfig, apply_overrides, compose_config


def test_composed_config_is_typed():
    cfg = compose_config(["task=arrange_desk", "policy=state", "mode=base"])
    assert isinstance(cfg, TrainConfig) and cfg.task.frame_skip == 12 and cfg.policy.chunk_length == 15
    assert cfg.task.refine.bound == "demos" and cfg.task.arms == ["left", "right"]
    back = TrainConfig.from_dict(cfg.to_dict())
    assert back == cfg and PolicyConfig.from_dict(cfg.to_dict()).policy == cfg.policy


@pytest.mark.parametrize("override, says", [
    ("policy.n_action_steps=20", "n_action_steps"),
    ("policy.prediction_type=v", "prediction_type"),
    ("task.refine.alpha=nan", "alpha"),
    ("task.refine.bound=-0.1", "bound"),
    ("task.frame_skip=0", "frame_skip"),
    ("layer.q_head=huge", "q_head"),
    ("training.lr=0", "lr"),
    ("training.batch_size=big", "batch_size"),
    ("normalizer.obs_clip=inf", "obs_clip"),
    ("training.learning_rate=1", "learning_rate"),
])
def test_bad_values_fail_where_they_enter(override, says):
    with pytest.raises((ValueError, OmegaConfBaseException, HydraException)) as e:
        compose_config(["mode=base", override])
    assert says in f"{e.value} {e.value.__cause__}"


def test_refine_mode_needs_its_base_checkpoint():
    with pytest.raises((ValueError, OmegaConfBaseException, HydraException), match="base_checkpoint"):
        compose_config(["mode=refine"])


def test_overrides_on_a_stored_config_are_validated():
    stored = compose_config(["mode=base"]).to_dict()
    assert apply_overrides(stored, ["training.num_steps=7"]).training.num_steps == 7
    with pytest.raises((ValueError, OmegaConfBaseException, HydraException)):
        apply_overrides(stored, ["training.num_steps=-1"])


@pytest.mark.parametrize("field, value", [("step_scale", math.nan), ("observation_timeout_s", math.inf),
                                          ("stamp_tolerance_s", 0.0), ("command_rate_hz", -50.0),
                                          ("refiner", "smooth"), ("n_action_steps", 0), ("ddim_steps", 1.5)])
def test_deploy_config_refuses_values_that_would_switch_a_check_off(field, value):
    with pytest.raises(ValueError, match=field if field != "refiner" else "refiner"):
        DeployConfig("c.ckpt", **{field: value})


def test_deploy_config_from_ros_parameters_maps_zero_to_unset():
    cfg = DeployConfig.from_parameters({"checkpoint": "c.ckpt", "ddim_steps": 0, "n_action_steps": 1,
                                        "command_rate_hz": 0.0, "step_scale": 3.0})
    assert cfg.ddim_steps is None and cfg.command_rate_hz is None and cfg.n_action_steps == 1
