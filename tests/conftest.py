"""Test-wide settings: a private ROS domain per pytest process, so parallel runs never hear each other."""
import os
import pathlib

import pytest

from diffog.rostools import private_domain_id

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _private_domain_id() -> int:
    # the pid spreads parallel CI jobs, xdist workers add an offset
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return private_domain_id(int(worker[2:]) if worker[2:].isdigit() else 0)


os.environ["ROS_DOMAIN_ID"] = str(_private_domain_id())
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
os.environ.setdefault("MUJOCO_GL", "egl")


@pytest.fixture(scope="session")
def repo_root() -> pathlib.Path:
    return ROOT
