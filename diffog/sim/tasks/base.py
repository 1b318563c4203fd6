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
    # What an evaluation watches to name a failure (diffog.evaluation.failures): the bodies the robot must
    # pick up, in task order, and those that count as knocked over when they tip.
    carried: ClassVar[tuple[str, ...]] = ()
    upright: ClassVar[tuple[str, ...]] = ()
    drop_name: ClassVar[str] = ""  # the task's own failure after a pick-up (move_stack: the spoon falls)

    def dropped(self, env: SimAloha) -> bool:
        """Whether the task's `drop_name` failure shows in the physics state now (checked once something is carried)."""
        return False

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
