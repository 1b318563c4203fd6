"""Streams the executed part of an action chunk at the robot's command rate, interpolating between actions."""
from __future__ import annotations

import numpy as np


class ChunkStreamer:
    """Piecewise-linear path from the command in effect when a chunk is loaded through its actions, each at its
    own time, `dt` apart. Linear interpolation keeps each command-rate step within the chunk's per-action step,
    so the bound DiffOG enforces between consecutive actions carries over to every command."""

    def __init__(self) -> None:
        self._times: np.ndarray | None = None
        self._points: np.ndarray | None = None

    @property
    def active(self) -> bool:
        return self._times is not None

    def load(self, actions: np.ndarray, dt: float, now: float, start: np.ndarray,
             first_time: float | None = None) -> None:
        """Follow `actions` (N x D), due at `first_time` + k dt (default now + dt), from `start` (the current
        command or measured position) at `now`. Actions already due by `now` (an inference that took longer
        than dt) are skipped; if none is left, nothing is loaded."""
        actions = np.asarray(actions, dtype=np.float64)
        if actions.ndim != 2 or len(actions) == 0 or actions.shape[1] != len(start) or not dt > 0:
            raise ValueError(f"need N>0 actions of dim {len(start)} and dt>0, got {actions.shape}, dt={dt}")
        times = (now + dt if first_time is None else first_time) + dt * np.arange(len(actions))
        ahead = times > now + 1e-9
        if not ahead.any():
            self.stop()
            return
        self._points = np.vstack([np.asarray(start, dtype=np.float64)[None], actions[ahead]])
        self._times = np.concatenate([[now], times[ahead]])

    def sample(self, now: float) -> np.ndarray | None:
        """The command for time `now`; after the last action once (a late tick still lands on it), then None:
        the last action stays the goal."""
        if self._times is None:
            return None
        if now >= self._times[-1] - 1e-9:  # a tick landing on the last action's time, up to float rounding
            final = self._points[-1].copy()
            self.stop()
            return final
        k = max(int(np.searchsorted(self._times, now, side="right")) - 1, 0)
        w = max(now - self._times[k], 0.0) / (self._times[k + 1] - self._times[k])
        return (1.0 - w) * self._points[k] + w * self._points[k + 1]

    def remaining_s(self, now: float) -> float:
        """Seconds until the last action is reached (0 when idle)."""
        return 0.0 if self._times is None else max(float(self._times[-1]) - now, 0.0)

    def stop(self) -> None:
        """Drop the rest of the chunk."""
        self._times = self._points = None
