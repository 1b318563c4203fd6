"""Latest time-matched observation from streams that arrive at different rates (joint states, cameras)."""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Observation:
    stamp: float                      # the oldest stamp in the matched set (s)
    qpos: np.ndarray                  # 14, ALOHA order
    images: dict[str, np.ndarray] = field(default_factory=dict)  # camera -> HxWx3 uint8


class NoObservation(RuntimeError):
    """No usable observation: nothing matched within the tolerance, stale, or non-finite. The robot holds."""


class ObservationMatcher:
    """Keeps a short history per stream and returns the newest set with all stamps within `tolerance_s` of each
    other; a set older than `timeout_s` (its oldest stamp) is stale. Joint streams each carry a slice of qpos."""

    def __init__(self, joint_slices: dict[str, slice], cameras: list[str], tolerance_s: float, timeout_s: float,
                 history: int = 10):
        if tolerance_s <= 0 or timeout_s <= 0:
            raise ValueError("tolerance_s and timeout_s must be positive")
        self.joint_slices = dict(joint_slices)
        self.dim = max(s.stop for s in self.joint_slices.values())
        self.tolerance_s, self.timeout_s = tolerance_s, timeout_s
        self._streams: dict[str, deque] = {k: deque(maxlen=history) for k in [*self.joint_slices, *cameras]}
        self.cameras = list(cameras)

    def add(self, stream: str, stamp: float, value: np.ndarray) -> None:
        """Record one sample (joint positions for that stream's slice, or an image). Out-of-order samples are
        dropped: replayed or reconnecting publishers must not move the observation back in time."""
        if stream not in self._streams:
            raise KeyError(f"unknown stream {stream!r}; expected one of {sorted(self._streams)}")
        q = self._streams[stream]
        if q and stamp <= q[-1][0]:
            return
        q.append((stamp, value))

    def newest_age(self, now: float) -> float:
        """Age of the stream that lags most (inf before every stream has data): above timeout_s means hold."""
        if any(not q for q in self._streams.values()):
            return float("inf")
        return now - min(q[-1][0] for q in self._streams.values())

    def latest(self, now: float) -> Observation:
        """The newest matched observation, or NoObservation saying why there is none."""
        missing = [k for k, q in self._streams.items() if not q]
        if missing:
            raise NoObservation(f"no data yet from {missing}")
        match = self._newest_match()
        if match is None:
            raise NoObservation(f"no set of samples within {self.tolerance_s * 1e3:.0f} ms of each other")
        oldest = min(stamp for stamp, _ in match.values())
        if now - oldest > self.timeout_s:
            stale = min(match, key=lambda k: match[k][0])
            raise NoObservation(f"stale observation: {stale} is {now - oldest:.3f} s old (timeout {self.timeout_s} s)")
        qpos = np.empty(self.dim)
        for name, sl in self.joint_slices.items():
            qpos[sl] = match[name][1]
        if not np.all(np.isfinite(qpos)):
            raise NoObservation(f"non-finite joint positions in dims {np.flatnonzero(~np.isfinite(qpos)).tolist()}")
        return Observation(stamp=oldest, qpos=qpos, images={c: match[c][1] for c in self.cameras})

    def _newest_match(self) -> dict[str, tuple[float, np.ndarray]] | None:
        # Anchor on the stream that lags most (its newest sample is the oldest), newest sample first, and pick
        # every other stream's nearest sample.
        anchor = min(self._streams, key=lambda k: self._streams[k][-1][0])
        for stamp, value in reversed(self._streams[anchor]):
            match = {anchor: (stamp, value)}
            for name, q in self._streams.items():
                if name != anchor:
                    match[name] = min(q, key=lambda s: abs(s[0] - stamp))
            stamps = [s for s, _ in match.values()]
            if max(stamps) - min(stamps) <= self.tolerance_s:
                return match
        return None
