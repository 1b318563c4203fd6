"""What a sim task provides: its objects, their random start, a success check from physics, a scripted demo."""
from __future__ import annotations

import abc
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from diffog.sim.trajectory import Waypoint

if TYPE_CHECKING:
    from diffog.sim.env import SimAloha


class Task(abc.ABC):
    name: ClassVar[str]

    @abc.abstractmethod
    def build(self, worldbody: ET.Element) -> None:
        """Add the task's bodies to the scene."""

    @abc.abstractmethod
    def reset(self, env: SimAloha, rng: np.random.Generator) -> None:
        """Place the objects at a random start (arms are already at the start pose)."""

    @abc.abstractmethod
    def success(self, env: SimAloha) -> bool:
        """Whether the task is done, from the physics state alone."""

    @abc.abstractmethod
    def waypoints(self, env: SimAloha) -> dict[str, list[Waypoint]]:
        """The scripted demonstration from the current (just reset) state: per arm, waypoints after t = 0."""
