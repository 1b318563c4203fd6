"""Streams the executed part of an action chunk at the robot's command rate, interpolating between actions."""
from __future__ import annotations

import numpy as np


class ChunkStreamer:
    """Piecewise-linear path from the command in effect when a chunk is loaded through its actions, one every
    `dt` seconds. Linear interpolation keeps each command-rate step within the chunk's per-action step, so the
    bound DiffOG enforces between consecutive actions (and to the past action) carries over to every command."""

    def __init__(self) -> None:
        self._times: np.ndarray | None = None
        self._points: np.ndarray | None = None
        self.last: np.ndarray | None = None  # the last command handed out (the "last executed command")

    @property
    def active(self) -> bool:
        return self._times is not None

    def load(self, actions: np.ndarray, dt: float, now: float, start: np.ndarray) -> None:
        """Follow `actions` (N x D) from `start` (the current command or measured position) beginning at `now`."""
        actions = np.asarray(actions, dtype=np.float64)
        if actions.ndim != 2 or len(actions) == 0 or actions.shape[1] != len(start) or dt <= 0:
            raise ValueError(f"need N>0 actions of dim {len(start)} and dt>0, got {actions.shape}, dt={dt}")
        self._points = np.vstack([np.asarray(start, dtype=np.float64)[None], actions])
        self._times = now + dt * np.arange(len(self._points))
        self.last = self._points[0].copy()

    def sample(self, now: float) -> np.ndarray | None:
        """The command for time `now`, or None once the chunk is finished (its last action stays the goal)."""
        if self._times is None:
            return None
        if now >= self._times[-1]:
            final = self._points[-1].copy()
            self.hold()
            self.last = final
            return final
        k = int(np.searchsorted(self._times, now, side="right")) - 1
        k = max(k, 0)
        w = (now - self._times[k]) / (self._times[k + 1] - self._times[k]) if now > self._times[0] else 0.0
        self.last = (1.0 - w) * self._points[k] + w * self._points[k + 1]
        return self.last.copy()

    def hold(self, at: np.ndarray | None = None) -> None:
        """Drop the rest of the chunk; `at` overrides the last command (e.g. the last one actually sent)."""
        self._times = self._points = None
        if at is not None:
            self.last = np.asarray(at, dtype=np.float64).copy()
