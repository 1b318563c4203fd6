"""Hydra composition of the training config (diffog/training/conf) into a plain, resolved dict."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

from hydra import compose, initialize_config_module
from omegaconf import OmegaConf

CONFIG_MODULE = "diffog.training.conf"


def compose_config(overrides: Sequence[str] = ()) -> dict:
    """train.yaml with Hydra overrides (`task=insertion`, `training.num_steps=100`, ...), fully resolved."""
    with initialize_config_module(config_module=CONFIG_MODULE, version_base=None):
        cfg = compose(config_name="train", overrides=list(overrides))
    return OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)


def apply_overrides(cfg: Mapping, overrides: Sequence[str]) -> dict:
    """Dot-list overrides (`training.num_steps=5000`) on an existing config, e.g. one read from a checkpoint."""
    merged = OmegaConf.merge(OmegaConf.create(dict(cfg)), OmegaConf.from_dotlist(list(overrides)))
    return OmegaConf.to_container(merged, resolve=True, throw_on_missing=True)
