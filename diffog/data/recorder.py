"""The episode recorder's logic, independent of ROS: keep the newest sample of every stream, take one frame per
tick (50 Hz), and write frames to an EpisodeWriter on a background thread so disk or JPEG time never delays a
tick. A tick whose streams are missing, stale or non-finite is dropped and counted, not filled in.

Streams per follower arm: its joint state (qpos / qvel / effort, 7 each, gripper normalized), its arm command (6)
and its gripper command (normalized): the command is ALOHA's action. Plus one image stream per camera.

Crash safety: the writer flushes at least every FLUSH_INTERVAL_S (also while no frame comes), so a killed recorder
loses only the last fraction of a second; a new recorder on the directory recovers what it left (`recovered`).
A failed write (disk full) ends the episode at once: the next tick raises RecordingError, discard() frees the space.
"""
from __future__ import annotations

import dataclasses
import pathlib
import queue
import threading
from collections.abc import Mapping, Sequence

import numpy as np

from diffog.data.aloha_hdf5 import FLUSH_INTERVAL_S, EpisodeWriter, Recovered, recover_unfinished

QUEUE_FRAMES = 500  # 10 s of frames waiting for the disk before ticks are dropped


class RecordingError(RuntimeError):
    """The episode being recorded cannot go on (its writer failed, e.g. the disk is full): discard() it."""


@dataclasses.dataclass
class EpisodeSummary:
    path: pathlib.Path | None   # None when discarded
    frames: int
    dropped: int
    achieved_rate_hz: float
    drop_reasons: dict[str, int]


@dataclasses.dataclass
class _Sample:
    stamp: float
    value: object


class EpisodeRecorder:
    """`arms`: follower names in ALOHA order (e.g. follower_left, follower_right); `cameras`: image streams.
    `recover`: first turn what killed recorders left in `directory` into unfinished episodes (see `recovered`).
    `checksums`: fletcher32 on every dataset (corruption is detected on read; costs ~20% of raw-image write speed)."""

    def __init__(self, directory: str | pathlib.Path, arms: Sequence[str], cameras: Sequence[str] = (), *,
                 rate_hz: float = 50.0, max_age_s: float = 0.1, compress: bool = False,
                 metadata: Mapping | None = None, recover: bool = True, checksums: bool = True):
        self.directory = pathlib.Path(directory)
        self.recovered: list[Recovered] = recover_unfinished(self.directory) if recover else []
        self.arms, self.cameras = list(arms), list(cameras)
        self.rate_hz, self.max_age_s, self.compress, self.checksums = rate_hz, max_age_s, compress, checksums
        self.metadata = dict(metadata or {})
        self._latest: dict[str, _Sample] = {}
        self._lock = threading.Lock()
        self._writer: EpisodeWriter | None = None
        self._queue: queue.Queue | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._frame_stamps: list[float] = []  # tick times of the frames written
        self._dropped: dict[str, int] = {}

    # --- inputs (from any thread) ------------------------------------------------------------------------
    def joint_state(self, arm: str, stamp: float, qpos: Sequence[float], qvel: Sequence[float],
                    effort: Sequence[float]) -> None:
        self._put(f"joint_states_{arm}", stamp, np.array([qpos, qvel, effort], dtype=np.float64).reshape(3, 7))

    def arm_command(self, arm: str, stamp: float, positions: Sequence[float]) -> None:
        self._put(f"arm_command_{arm}", stamp, np.asarray(positions, dtype=np.float64).reshape(6))

    def gripper_command(self, arm: str, stamp: float, normalized: float) -> None:
        self._put(f"gripper_command_{arm}", stamp, float(normalized))

    def image(self, camera: str, stamp: float, image: np.ndarray) -> None:
        self._put(camera, stamp, image)

    def _put(self, stream: str, stamp: float, value) -> None:
        if stream not in self.streams:
            raise KeyError(f"unknown stream {stream!r}; the recorder takes {self.streams}")
        with self._lock:
            self._latest[stream] = _Sample(stamp, value)

    @property
    def streams(self) -> list[str]:
        return [f"{kind}_{arm}" for arm in self.arms for kind in ("joint_states", "arm_command", "gripper_command")] \
            + self.cameras

    # --- episode -----------------------------------------------------------------------------------------
    @property
    def recording(self) -> bool:
        return self._writer is not None

    def progress(self) -> tuple[int, int]:
        """(frames written, frames dropped) of the episode being recorded."""
        with self._lock:
            return len(self._frame_stamps), sum(self._dropped.values())

    def start(self, now: float | None = None, **metadata) -> pathlib.Path:
        """Open the next episode (never an existing file); returns where it will be published. With `now`, refuse
        (RuntimeError saying which stream) unless every stream is live, rather than record an empty episode."""
        if self.recording:
            raise RuntimeError(f"already recording {self._writer.path}")
        if now is not None:
            with self._lock:
                latest = dict(self._latest)
            if (reason := self._problem(latest, now)) is not None:
                raise RuntimeError(f"not starting: {reason}")
        self._writer = EpisodeWriter(self.directory, self.cameras, compress=self.compress, checksums=self.checksums,
                                     state_dim=7 * len(self.arms),
                                     metadata={**self.metadata, **metadata, "arms": self.arms})
        self._queue = queue.Queue(maxsize=QUEUE_FRAMES)
        self._error = None
        self._frame_stamps, self._dropped = [], {}
        self._thread = threading.Thread(target=self._drain, name="episode-writer", daemon=True)
        self._thread.start()
        return self._writer.path

    @property
    def error(self) -> BaseException | None:
        """Why the episode being recorded failed (a write error), None while it is fine."""
        return self._error

    def tick(self, now: float) -> bool:
        """Take one frame at time `now` (s, the streams' clock); False when it was dropped (see drop_reasons).
        RecordingError once the episode's writer failed (e.g. disk full)."""
        if not self.recording:
            return False
        if self._error is not None:
            raise RecordingError(f"recording {self._writer.path} failed: {self._error}")
        with self._lock:
            latest = dict(self._latest)
        reason = self._problem(latest, now)
        if reason is None:
            try:
                self._queue.put_nowait((now, latest))
            except queue.Full:
                reason = "writer behind"
        if reason is not None:
            self._drop(reason)
            return False
        return True

    def _drop(self, reason: str) -> None:
        with self._lock:
            self._dropped[reason] = self._dropped.get(reason, 0) + 1

    def _problem(self, latest: Mapping[str, _Sample], now: float) -> str | None:
        for stream in self.streams:
            sample = latest.get(stream)
            if sample is None:
                return f"no {stream}"
            if now - sample.stamp > self.max_age_s:
                return f"stale {stream}"
            if stream not in self.cameras and not np.all(np.isfinite(sample.value)):
                return f"non-finite {stream}"
        return None

    def _frame(self, now: float, latest: Mapping[str, _Sample]):
        joints = [latest[f"joint_states_{a}"].value for a in self.arms]
        action = [np.append(latest[f"arm_command_{a}"].value, latest[f"gripper_command_{a}"].value) for a in self.arms]
        qpos, qvel, effort = (np.concatenate([j[k] for j in joints]) for k in range(3))
        stamps = {"frame": now, **{s: latest[s].stamp for s in self.streams}}
        return qpos, qvel, effort, np.concatenate(action), {c: latest[c].value for c in self.cameras}, stamps

    def _drain(self) -> None:
        q, writer = self._queue, self._writer
        while True:
            try:
                item = q.get(timeout=FLUSH_INTERVAL_S)
            except queue.Empty:  # no frame for a while (stale streams): what was added still reaches the disk
                item = ()
            if item is None:
                return
            if self._error is not None:
                continue
            try:
                if not item:
                    if writer.unflushed_frames:
                        writer.flush()
                    continue
                writer.add(*self._frame(*item))
            except ValueError as e:  # a bad sample (e.g. an image of another size): this frame only
                self._drop(f"rejected: {e}")
                continue
            except Exception as e:  # noqa: BLE001 - disk errors end the episode: tick() raises, stop() reports
                self._error = e
                continue
            with self._lock:
                self._frame_stamps.append(item[0])

    def _finish(self) -> EpisodeWriter:
        writer = self._writer
        self._queue.put(None)
        self._thread.join()
        self._writer = None
        return writer

    def stop(self, publish: bool = True) -> EpisodeSummary:
        """Write the remaining frames and publish the episode. publish=False (shutting down mid-episode) keeps the
        finished file as `unfinished_episode_N_<time>.h5` instead: nothing is lost, and no unfinished demonstration
        slips into the data set."""
        if not self.recording:
            raise RuntimeError("not recording")
        writer = self._finish()
        summary = self._summary(writer.path)
        if self._error is not None or writer.frame_count == 0:
            writer.discard()
            why = self._error or f"no frame was recorded (dropped: {summary.drop_reasons})"
            raise RuntimeError(f"episode not saved: {why}")
        try:
            summary.path = writer.close(publish, achieved_rate_hz=summary.achieved_rate_hz,
                                        target_rate_hz=self.rate_hz, dropped_frames=summary.dropped,
                                        drop_reasons=summary.drop_reasons)
        except OSError as e:  # e.g. the disk filled up at the end: free the space, say why
            writer.discard()
            raise RuntimeError(f"episode not saved: {e}") from e
        return summary

    def discard(self) -> EpisodeSummary:
        """Drop the episode being recorded and free its space (also after a write error)."""
        if not self.recording:
            raise RuntimeError("not recording")
        writer = self._finish()
        writer.discard()
        return self._summary(None)

    def _summary(self, path) -> EpisodeSummary:
        t = self._frame_stamps
        rate = (len(t) - 1) / (t[-1] - t[0]) if len(t) > 1 and t[-1] > t[0] else 0.0
        return EpisodeSummary(path=path, frames=len(t), dropped=sum(self._dropped.values()), achieved_rate_hz=rate,
                              drop_reasons=dict(self._dropped))
