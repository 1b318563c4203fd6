"""ALOHA / ACT episode files: write ours, read ours and theirs.

Layout (tonyzhaozh/aloha record_episodes.py, ACT's sim episodes):
    /observations/qpos, /observations/qvel, /observations/effort   (T, 14) float
    /observations/images/<cam>   (T, H, W, 3) uint8, or (T, L) uint8 JPEG bytes zero-padded when compressed
    /action                      (T, 14)
    /compress_len                (n_cams, T), only when compressed (cameras in attrs "camera_names" order)
    attrs: sim (bool), compress (bool)
What we add, and ALOHA/ACT readers ignore:
    /timestamps/<stream>         (T,) float64 seconds at capture, one per stream (e.g. qpos, action, each camera)
    /observations/<name>         (T, K) float64 extra low-dim observations, e.g. the sim's object_poses
    attrs: robot, task, note, joint_names, camera_names, created, format and any caller metadata (JSON for
    non-scalars, see `Episode.metadata`).

Episodes are written to a hidden temporary file in the same directory and hard-linked to `episode_N.hdf5`
when complete, so a crash mid-episode never leaves a partial `episode_N.hdf5` and an existing episode is never
overwritten (os.link fails instead of replacing).
"""
from __future__ import annotations

import dataclasses
import datetime
import json
import os
import pathlib
import re
from collections.abc import Mapping, Sequence

import cv2
import h5py
import numpy as np

from diffog.robot.validation import finite_vector

FORMAT = "diffog-aloha-1"
EPISODE_RE = re.compile(r"^episode_(\d+)\.hdf5$")
JPEG_QUALITY = 50  # ALOHA's setting
GROW = 256  # frames by which every dataset grows


class EpisodeFormatError(ValueError):
    """An episode file that is not a readable ALOHA/ACT episode (corrupt, truncated, missing datasets)."""


@dataclasses.dataclass
class Episode:
    """One episode as arrays. `effort` is None for files without it (ACT sim episodes)."""

    qpos: np.ndarray
    qvel: np.ndarray
    action: np.ndarray
    effort: np.ndarray | None
    images: dict[str, np.ndarray]
    timestamps: dict[str, np.ndarray]
    sim: bool
    compressed: bool
    metadata: dict
    path: pathlib.Path
    extras: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)  # other /observations/<name> streams

    def __len__(self) -> int:
        return len(self.action)


def episode_path(directory: str | os.PathLike, index: int) -> pathlib.Path:
    return pathlib.Path(directory) / f"episode_{index}.hdf5"


def next_episode_index(directory: str | os.PathLike) -> int:
    """One past the highest `episode_N.hdf5` in `directory` (0 when there is none)."""
    d = pathlib.Path(directory)
    taken = [int(m.group(1)) for p in d.iterdir() if (m := EPISODE_RE.match(p.name))] if d.is_dir() else []
    return max(taken, default=-1) + 1


class EpisodeWriter:
    """Streams one episode frame by frame into a temporary HDF5 file; `close()` publishes it as episode_N.

    With `index=None` the next free index is used (and the next one after that if another writer takes it
    first); with an explicit index an existing file raises FileExistsError at construction. A frame with bad
    input (NaN, wrong shape, a missing camera) raises ValueError and leaves the episode as it was.
    Use as a context manager: an exception inside the block discards the episode.
    """

    def __init__(self, directory: str | os.PathLike, cameras: Sequence[str] = (), *, compress: bool = False,
                 jpeg_quality: int = JPEG_QUALITY, sim: bool = False, index: int | None = None,
                 state_dim: int = 14, metadata: Mapping | None = None):
        self.directory = pathlib.Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.cameras = list(cameras)
        self.compress = compress
        self.state_dim = state_dim
        self._auto_index = index is None
        self.index = next_episode_index(self.directory) if index is None else index
        if episode_path(self.directory, self.index).exists():
            raise FileExistsError(f"{episode_path(self.directory, self.index)} exists; episodes are never overwritten")
        self._jpeg_params = [int(cv2.IMWRITE_JPEG_QUALITY), int(jpeg_quality)]
        self.temp_path = self.directory / f".episode_{self.index}.{os.getpid()}.{id(self):x}.hdf5.tmp"
        self._file = h5py.File(self.temp_path, "w")
        self._file.attrs.update({"sim": bool(sim), "compress": bool(compress), "format": FORMAT,
                                 "camera_names": json.dumps(self.cameras),
                                 "created": datetime.datetime.now(datetime.timezone.utc).isoformat()})
        self.set_metadata(**(metadata or {}))
        self._frames = 0
        self._capacity = 0
        self._image_shapes: dict[str, tuple[int, ...]] = {}
        self._closed = False
        self._series: dict[str, tuple[h5py.Dataset, int]] = {}  # name -> (dataset, time axis)
        self._extras: list[str] = []  # extra low-dim streams, fixed by the first frame
        for key in ("observations/qpos", "observations/qvel", "observations/effort", "action"):
            self._add_series(key, (state_dim,), "f8")
        self._file.create_group("observations/images")
        self._file.create_group("timestamps")
        if compress:
            ds = self._file.create_dataset("compress_len", (len(self.cameras), 0), maxshape=(len(self.cameras), None),
                                           dtype="f4", chunks=(max(len(self.cameras), 1), GROW))
            self._series["compress_len"] = (ds, 1)

    def _add_series(self, name: str, row_shape: tuple[int, ...], dtype: str, chunk_rows: int = GROW) -> h5py.Dataset:
        ds = self._file.create_dataset(name, (self._capacity, *row_shape), maxshape=(None, *row_shape), dtype=dtype,
                                       chunks=(chunk_rows, *row_shape))
        self._series[name] = (ds, 0)
        return ds

    def _reserve(self, t: int) -> None:
        # datasets grow GROW frames at a time (resizing every frame costs more than writing it); close() trims
        if t < self._capacity:
            return
        self._capacity += GROW
        for ds, axis in self._series.values():
            ds.resize(self._capacity, axis=axis)

    @property
    def path(self) -> pathlib.Path:
        """Where the episode will be (or was) published."""
        return episode_path(self.directory, self.index)

    @property
    def frame_count(self) -> int:
        return self._frames

    def set_metadata(self, **metadata) -> None:
        """Robot / task / run metadata as root attributes (scalars as is, anything else as JSON)."""
        for key, value in metadata.items():
            ok = isinstance(value, (str, bool, int, float, np.integer, np.floating))
            self._file.attrs[key] = value if ok else json.dumps(value)

    def add(self, qpos, qvel, effort, action, images: Mapping[str, np.ndarray] | None = None,
            timestamps: Mapping[str, float] | None = None, extras: Mapping[str, np.ndarray] | None = None) -> None:
        """Append one frame. `timestamps`: capture time in seconds per stream name (qpos, action, a camera...);
        `extras`: other low-dim observations by name (e.g. object_poses), the same names and sizes every frame."""
        if self._closed:
            raise RuntimeError(f"episode {self.path} is already closed")
        rows = {k: finite_vector(k, v, self.state_dim)
                for k, v in (("qpos", qpos), ("qvel", qvel), ("effort", effort), ("action", action))}
        extras = dict(extras or {})
        if bad := set(extras) & {"qpos", "qvel", "effort", "images"}:
            raise ValueError(f"extra streams may not reuse ALOHA's names {sorted(bad)}")
        if self._frames and set(extras) != set(self._extras):
            raise ValueError(f"extra streams {sorted(extras)}, earlier frames had {sorted(self._extras)}")
        for k, v in extras.items():
            size = self._series[f"observations/{k}"][0].shape[1] if self._frames else np.size(v)
            rows[k] = finite_vector(k, v, size)
        images = dict(images or {})
        if set(images) != set(self.cameras):
            raise ValueError(f"images for {sorted(images)} but the episode records cameras {self.cameras}")
        frames = {cam: self._encode(cam, img) for cam, img in images.items()}
        stamps = {k: float(v) for k, v in (timestamps or {}).items()}
        earlier = {k.removeprefix("timestamps/") for k in self._series if k.startswith("timestamps/")}
        if self._frames and set(stamps) != earlier:
            raise ValueError(f"timestamps for {sorted(stamps)}, earlier frames had {sorted(earlier)}")
        if not all(np.isfinite(v) for v in stamps.values()):
            raise ValueError(f"non-finite timestamp in {stamps}")
        # Everything is validated: from here on nothing raises on bad input, so a frame lands whole or not at all.
        t = self._frames
        if t == 0:
            self._image_shapes = {cam: np.shape(img) for cam, img in images.items()}
            self._create_frame_series(frames, stamps)
            for key in extras:
                self._add_series(f"observations/{key}", (len(rows[key]),), "f8")
                self._extras.append(key)
        self._reserve(t)
        for key, row in rows.items():
            self._series["action" if key == "action" else f"observations/{key}"][0][t] = row
        for cam, data in frames.items():
            self._write_image(cam, data, t)
        for key, value in stamps.items():
            self._series[f"timestamps/{key}"][0][t] = value
        self._frames = t + 1

    def _create_frame_series(self, frames: Mapping[str, np.ndarray], stamps: Mapping[str, float]) -> None:
        for cam, data in frames.items():
            if self.compress:  # a row per frame, zero-padded to the longest JPEG as ALOHA does
                ds = self._file.create_dataset(f"observations/images/{cam}", (0, data.size), maxshape=(None, None),
                                               dtype="u1", chunks=(1, data.size))
                self._series[f"observations/images/{cam}"] = (ds, 0)
            else:
                self._add_series(f"observations/images/{cam}", data.shape, "u1", chunk_rows=1)
        for key in stamps:
            self._add_series(f"timestamps/{key}", (), "f8")

    def _encode(self, cam: str, image: np.ndarray) -> np.ndarray:
        image = np.asarray(image)
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"camera {cam}: expected an HxWx3 uint8 image, got {image.dtype} {image.shape}")
        first = self._image_shapes.get(cam, image.shape)
        if image.shape != first:
            raise ValueError(f"camera {cam}: image shape {image.shape} differs from earlier frames {first}")
        if not self.compress:
            return image
        ok, buf = cv2.imencode(".jpg", image, self._jpeg_params)
        if not ok:
            raise ValueError(f"camera {cam}: JPEG encoding failed")
        return buf.reshape(-1)

    def _write_image(self, cam: str, data: np.ndarray, t: int) -> None:
        ds = self._series[f"observations/images/{cam}"][0]
        if not self.compress:
            ds[t] = data
            return
        if data.size > ds.shape[1]:
            ds.resize(data.size, axis=1)
        ds[t, :data.size] = data  # the rest of the row is HDF5's fill value, 0: ALOHA's padding
        self._series["compress_len"][0][self.cameras.index(cam), t] = data.size

    def close(self, publish: bool = True, **metadata) -> pathlib.Path:
        """Finish the episode (adding `metadata`, e.g. achieved rate) and publish it; returns its path. With
        publish=False the finished file stays at `temp_path` (a complete episode under a hidden name)."""
        if self._closed:
            raise RuntimeError(f"episode {self.path} is already closed")
        if self._frames == 0:
            raise ValueError("an episode needs at least one frame; discard() it instead")
        self.set_metadata(**metadata)
        for ds, axis in self._series.values():
            ds.resize(self._frames, axis=axis)
        self._file.close()
        self._closed = True
        if not publish:
            return self.temp_path
        while True:
            try:
                os.link(self.temp_path, self.path)  # atomic and never replaces an existing file
                break
            except FileExistsError:
                if not self._auto_index:
                    raise FileExistsError(f"{self.path} appeared while recording; the episode is kept at "
                                          f"{self.temp_path}") from None
                self.index = next_episode_index(self.directory)
        self.temp_path.unlink()
        return self.path

    def discard(self) -> None:
        """Drop the episode being recorded; nothing is published."""
        if not self._closed:
            self._file.close()
            self._closed = True
        self.temp_path.unlink(missing_ok=True)

    def __enter__(self) -> EpisodeWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.discard()
        elif not self._closed:
            self.close()


def write_episode(directory: str | os.PathLike, qpos, qvel, effort, action,
                  images: Mapping[str, np.ndarray] | None = None, *, timestamps: Mapping[str, np.ndarray] | None = None,
                  extras: Mapping[str, np.ndarray] | None = None, **writer_kwargs) -> pathlib.Path:
    """Write a whole episode from (T, ...) arrays in one call; returns the published path."""
    images, stamps, extras = dict(images or {}), dict(timestamps or {}), dict(extras or {})
    with EpisodeWriter(directory, list(images), **writer_kwargs) as writer:
        for t in range(len(action)):
            writer.add(qpos[t], qvel[t], effort[t], action[t], {c: v[t] for c, v in images.items()},
                       {k: v[t] for k, v in stamps.items()}, {k: v[t] for k, v in extras.items()})
        return writer.close()


def _decode(path: pathlib.Path, cam: str, t: int, row: np.ndarray) -> np.ndarray:
    # JPEG ends at its EOI marker, so ALOHA's zero padding needs no compress_len (as ACT decodes it too).
    image = cv2.imdecode(row, cv2.IMREAD_COLOR)
    if image is None:
        raise EpisodeFormatError(f"{path}: camera {cam} frame {t} is not a decodable JPEG")
    return image


def _attr(value):
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _open(path: pathlib.Path) -> h5py.File:
    try:
        return h5py.File(path, "r")
    except (OSError, ValueError) as e:
        raise EpisodeFormatError(f"{path}: not a readable HDF5 episode ({e})") from e


def read_episode(path: str | os.PathLike, cameras: Sequence[str] | None = None) -> Episode:
    """Load an ALOHA / ACT / diffog episode into arrays, decoding JPEG images when the file is compressed.

    `cameras`: which image streams to load (None: all, []: none; an unknown name raises KeyError).
    """
    path = pathlib.Path(path)
    with _open(path) as f:
        available = list(f["observations/images"]) if "observations/images" in f else []
        wanted = available if cameras is None else list(cameras)
        if missing := [c for c in wanted if c not in available]:
            raise KeyError(f"{path}: no camera {missing}; the episode has {available}")
        compressed = bool(f.attrs.get("compress", False))
        try:
            qpos = f["observations/qpos"][()]
            qvel = f["observations/qvel"][()]
            action = f["action"][()]
            effort = f["observations/effort"][()] if "observations/effort" in f else None
            images = {}
            for cam in wanted:
                raw = f["observations/images"][cam][()]
                images[cam] = np.stack([_decode(path, cam, t, r) for t, r in enumerate(raw)]) if compressed else raw
            stamps = {k: v[()] for k, v in f["timestamps"].items()} if "timestamps" in f else {}
            extras = {k: v[()] for k, v in f["observations"].items()
                      if k not in ("qpos", "qvel", "effort", "images") and isinstance(v, h5py.Dataset)}
        except KeyError as e:
            raise EpisodeFormatError(f"{path}: missing ALOHA dataset ({e})") from e
        except OSError as e:  # truncated or corrupt chunks
            raise EpisodeFormatError(f"{path}: unreadable data ({e})") from e
        metadata = {k: _attr(v) for k, v in f.attrs.items() if k not in ("sim", "compress")}
        sim = bool(f.attrs.get("sim", False))
    lengths = {"qpos": len(qpos), "qvel": len(qvel), "action": len(action), **{c: len(v) for c, v in images.items()}}
    if effort is not None:
        lengths["effort"] = len(effort)
    lengths.update({k: len(v) for k, v in extras.items()})
    if len(set(lengths.values())) != 1:
        raise EpisodeFormatError(f"{path}: streams differ in length {lengths}")
    return Episode(qpos=qpos, qvel=qvel, action=action, effort=effort, images=images, timestamps=stamps, sim=sim,
                   compressed=compressed, metadata=metadata, path=path, extras=extras)


def read_frame_images(path: str | os.PathLike, t: int, cameras: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """The images of one timestep without loading the episode (what a training dataset samples)."""
    path = pathlib.Path(path)
    with _open(path) as f:
        group = f["observations/images"]
        names = list(group) if cameras is None else list(cameras)
        compressed = bool(f.attrs.get("compress", False))
        return {c: _decode(path, c, t, group[c][t]) if compressed else group[c][t] for c in names}


def list_episodes(directory: str | os.PathLike) -> list[pathlib.Path]:
    """The published episode files of a directory in index order (temporary files are skipped)."""
    d = pathlib.Path(directory)
    found = [(int(m.group(1)), p) for p in d.iterdir() if (m := EPISODE_RE.match(p.name))]
    return [p for _, p in sorted(found)]
