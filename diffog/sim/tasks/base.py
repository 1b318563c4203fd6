"""What a sim task provides: its objects, their random start, a success check from physics, a scripted demo."""
from __future__ import annotations

import abc
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import Any, ClassVar, Protocol

import numpy as np

from diffog.sim.trajectory import Waypoint


class SimAloha(Protocol):
    """What a task reads and sets in the sim (diffog.sim.env.SimAloha, which imports the tasks, not the
    other way round)."""

    model: Any  # mujoco.MjModel
    data: Any   # mujoco.MjData

    def body_pos(self, body: str) -> np.ndarray: ...
    def body_xmat(self, body: str) -> np.ndarray: ...
    def body_geoms(self, body: str) -> set[int]: ...
    def in_contact(self, geoms_a: set[int], geoms_b: set[int]) -> bool: ...
    def set_free_pose(self, body: str, pos: Sequence[float], yaw: float = 0.0) -> None: ...
    def set_mocap_pos(self, body: str, pos: Sequence[float]) -> None: ...


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
