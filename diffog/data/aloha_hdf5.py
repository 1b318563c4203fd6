"""ALOHA / ACT episode files: write ours, read ours and theirs.

Layout (tonyzhaozh/aloha record_episodes.py, ACT's sim episodes):
    /observations/qpos, /observations/qvel, /observations/effort   (T, 14) float32
    /observations/images/<cam>   (T, H, W, 3) uint8, or (T, L) uint8 JPEG bytes zero-padded to one width L for
                                 every camera when compressed
    /action                      (T, 14) float32
    /compress_len                (n_cams, T), only when compressed (cameras in attrs "camera_names" order)
    attrs: sim (bool), compress (bool)
What we add, and ALOHA/ACT readers ignore:
    /timestamps/<stream>         (T,) float64 seconds at capture, one per stream (e.g. qpos, action, each camera)
    /observations/<name>         (T, K) float64 extra low-dim observations, e.g. the sim's object_poses
    attrs: robot, task, note, joint_names, camera_names, created, format and any caller metadata (JSON for
    non-scalars, see `Episode.metadata`).

Episodes are written to a hidden temporary file `.episode_N.hdf5.tmp` in the same directory and hard-linked to
`episode_N.hdf5` when complete, so a crash mid-episode never leaves a partial `episode_N.hdf5` and an existing
episode is never overwritten (os.link fails instead of replacing). Creating that temporary name (a hard link, which
fails when it exists) claims index N, so writers sharing a directory never take the same index; the writer holds an
flock on it while recording. The writer flushes HDF5 every FLUSH_INTERVAL_S, so a killed writer's temporary file
holds every frame but the last fraction of a second: `recover_unfinished` (the recorder runs it when it starts)
turns it into a readable `unfinished_episode_N_<time>.h5`, kept out of the data set like an episode stopped
without publishing. Every dataset carries HDF5's fletcher32 checksum (h5py and HDF5 check it transparently on
read, ALOHA's and ACT's loaders included), so corrupted bytes raise instead of reading as numbers.

`read_episode` validates what it returns: joint streams (T, n) floating point, finite and within JOINT_LIMITS,
images (T, H, W, 3) uint8 (or JPEG rows decoding to that), equal lengths; anything else is an EpisodeFormatError
naming the file and the dataset.
"""
from __future__ import annotations

import dataclasses
import datetime
import errno
import fcntl
import itertools
import json
import os
import pathlib
import re
import secrets
import time
from collections.abc import Mapping, Sequence

import cv2
import h5py
import numpy as np

from diffog.robot.validation import finite_vector

FORMAT = "diffog-aloha-1"
EPISODE_RE = re.compile(r"^episode_(\d+)\.hdf5$")
JPEG_QUALITY = 50  # ALOHA's setting
GROW = 256  # frames by which every dataset grows
FLUSH_INTERVAL_S = 0.5  # a killed writer loses at most the frames of this long (and whatever its caller queued)
TEMP_RE = re.compile(r"^\.episode_(\d+)\..*tmp$")  # a writer's temporary file (older versions added pid and id)
COMMITTED = "committed_frames"  # attribute: frames on disk as of the last flush (removed when the episode closes)
# |value| beyond these is corruption or a unit error, not a robot state: joints in rad (gripper normalized), rad/s;
# effort in the servos' units (Interbotix reports mA, a few thousand at most)
JOINT_LIMITS = {"observations/qpos": 1e3, "observations/qvel": 1e3, "action": 1e3, "observations/effort": 1e5}


class EpisodeFormatError(ValueError):
    """An episode file that is not a readable ALOHA/ACT episode (corrupt, truncated, missing datasets)."""


class EpisodeWriteError(OSError):
    """Writing the episode failed (disk full, I/O error); the writer takes no more frames: discard() it."""


def _io_reason(e: BaseException) -> str:
    text = str(e)
    codes = {errno.ENOSPC: "disk full", errno.EFBIG: "file size limit reached", errno.EDQUOT: "disk quota exceeded"}
    for code, reason in codes.items():
        if getattr(e, "errno", None) == code or f"errno = {code}," in text or os.strerror(code) in text:
            return f"{reason} ({text})"
    return text


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


def _temp_path(directory: pathlib.Path, index: int) -> pathlib.Path:
    return directory / f".episode_{index}.hdf5.tmp"


def _claim(directory: pathlib.Path, index: int | None) -> tuple[int, pathlib.Path, int]:
    """Claim an episode index: hard-link a fresh, flock-ed file to `.episode_N.hdf5.tmp` (which fails when another
    writer has that name) for the first N without a published episode. Returns (N, the temporary path, the locked fd)."""
    token = directory / f".claim.{os.getpid()}.{secrets.token_hex(6)}"
    fd = os.open(token, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        i = next_episode_index(directory) if index is None else index
        while True:
            if episode_path(directory, i).exists():
                if index is not None:
                    raise FileExistsError(f"{episode_path(directory, i)} exists; episodes are never overwritten")
            else:
                temp = _temp_path(directory, i)
                try:
                    os.link(token, temp)
                except FileExistsError:
                    if index is not None:
                        raise FileExistsError(f"{temp} exists: episode {i} is being recorded or awaits recovery") \
                            from None
                else:  # published between the check and the link? (its writer links the episode, then unlinks)
                    if not episode_path(directory, i).exists():
                        return i, temp, fd
                    temp.unlink()
                    if index is not None:
                        raise FileExistsError(f"{episode_path(directory, i)} exists; episodes are never overwritten")
            i += 1
    except BaseException:
        os.close(fd)
        raise
    finally:
        token.unlink(missing_ok=True)


def _set_aside(source: pathlib.Path, index: int, kind: str) -> pathlib.Path:
    """Move `source` to a new visible `<kind>_episode_<index>_<time>.h5` (never replacing a file); returns it."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for k in itertools.count():
        target = source.parent / f"{kind}_episode_{index}_{stamp}{f'_{k}' if k else ''}.h5"
        try:
            os.link(source, target)
        except FileExistsError:
            continue
        source.unlink()
        return target


class EpisodeWriter:
    """Streams one episode frame by frame into a temporary HDF5 file; `close()` publishes it as episode_N.

    With `index=None` the next free index is claimed (and the next one after that if another writer takes it
    first); with an explicit index an existing file raises FileExistsError at construction. A frame with bad
    input (NaN, wrong shape, a missing camera) raises ValueError and leaves the episode as it was. A failed write
    (disk full) raises EpisodeWriteError, from then on for every call but discard(). Frames reach the disk at least
    every `flush_interval_s` (see recover_unfinished); `checksums` puts fletcher32 on every dataset.
    Use as a context manager: an exception inside the block discards the episode.
    """

    def __init__(self, directory: str | os.PathLike, cameras: Sequence[str] = (), *, compress: bool = False,
                 jpeg_quality: int = JPEG_QUALITY, sim: bool = False, index: int | None = None,
                 state_dim: int = 14, metadata: Mapping | None = None, checksums: bool = True,
                 flush_interval_s: float = FLUSH_INTERVAL_S):
        self.directory = pathlib.Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.cameras = list(cameras)
        self.compress = compress
        self.state_dim = state_dim
        self.checksums = checksums
        self.flush_interval_s = flush_interval_s
        self._auto_index = index is None
        self._jpeg_params = [int(cv2.IMWRITE_JPEG_QUALITY), int(jpeg_quality)]
        self._frames = 0
        self._flushed_frames = 0
        self._capacity = 0
        self._image_shapes: dict[str, tuple[int, ...]] = {}
        self._closed = False
        self._failed: EpisodeWriteError | None = None
        self._series: dict[str, tuple[h5py.Dataset, int]] = {}  # name -> (dataset, time axis)
        self._extras: list[str] = []  # extra low-dim streams, fixed by the first frame
        self.index, self.temp_path, self._lock_fd = _claim(self.directory, index)
        try:
            # HDF5's own file lock is off: this writer's flock on the file marks it live (recover_unfinished)
            self._file = h5py.File(self.temp_path, "w", locking=False)
            self._file.attrs.update({"sim": bool(sim), "compress": bool(compress), "format": FORMAT,
                                     "camera_names": json.dumps(self.cameras),
                                     "created": datetime.datetime.now(datetime.timezone.utc).isoformat()})
            self.set_metadata(**(metadata or {}))
            for key in ("observations/qpos", "observations/qvel", "observations/effort", "action"):
                self._add_series(key, (state_dim,), "f4")  # float32, as ALOHA writes them
            self._file.create_group("observations/images")
            self._file.create_group("timestamps")
            if compress:
                ds = self._file.create_dataset("compress_len", (len(self.cameras), 0),
                                               maxshape=(len(self.cameras), None), dtype="f4",
                                               chunks=(max(len(self.cameras), 1), GROW), fletcher32=checksums)
                self._series["compress_len"] = (ds, 1)
            self.flush()  # readable from the start
        except BaseException:
            self.discard()
            raise

    def _add_series(self, name: str, row_shape: tuple[int, ...], dtype: str, chunk_rows: int = GROW) -> h5py.Dataset:
        ds = self._file.create_dataset(name, (self._capacity, *row_shape), maxshape=(None, *row_shape), dtype=dtype,
                                       chunks=(chunk_rows, *row_shape), fletcher32=self.checksums)
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

    @property
    def unflushed_frames(self) -> int:
        """Frames added since the last flush (what a crash now would lose)."""
        return self._frames - self._flushed_frames

    def _check_writable(self) -> None:
        if self._failed is not None:
            raise self._failed
        if self._closed:
            raise RuntimeError(f"episode {self.path} is already closed")

    def _fail(self, e: BaseException) -> None:
        self._failed = EpisodeWriteError(getattr(e, "errno", None) or errno.EIO,
                                         f"{self.temp_path}: writing failed: {_io_reason(e)}; the episode takes no "
                                         f"more frames, discard it")
        raise self._failed from e

    def flush(self) -> None:
        """Put every frame added so far on disk in a state a crash of this process leaves readable."""
        self._check_writable()
        try:
            self._file.attrs[COMMITTED] = self._frames
            self._file.flush()
        except Exception as e:  # noqa: BLE001 - an I/O error, whatever h5py calls it
            self._fail(e)
        self._flushed_frames = self._frames
        self._last_flush = time.monotonic()

    def set_metadata(self, **metadata) -> None:
        """Robot / task / run metadata as root attributes (scalars as is, anything else as JSON)."""
        for key, value in metadata.items():
            ok = isinstance(value, (str, bool, int, float, np.integer, np.floating))
            self._file.attrs[key] = value if ok else json.dumps(value)

    def add(self, qpos, qvel, effort, action, images: Mapping[str, np.ndarray] | None = None,
            timestamps: Mapping[str, float] | None = None, extras: Mapping[str, np.ndarray] | None = None) -> None:
        """Append one frame. `timestamps`: capture time in seconds per stream name (qpos, action, a camera...);
        `extras`: other low-dim observations by name (e.g. object_poses), the same names and sizes every frame."""
        self._check_writable()
        rows = {k: finite_vector(k, v, self.state_dim)
                for k, v in (("qpos", qpos), ("qvel", qvel), ("effort", effort), ("action", action))}
        for k, row in rows.items():  # what read_episode would refuse
            if np.abs(row).max() > (limit := JOINT_LIMITS["action" if k == "action" else f"observations/{k}"]):
                raise ValueError(f"{k}: values beyond ±{limit:g} in {row.tolist()}; not in robot units")
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
        # Everything is validated: from here on nothing raises on bad input, so a frame lands whole or not at all
        # (an I/O error fails the writer instead).
        t = self._frames
        try:
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
        except Exception as e:  # noqa: BLE001 - an I/O error, whatever h5py calls it
            self._fail(e)
        self._frames = t + 1
        if time.monotonic() - self._last_flush >= self.flush_interval_s:
            self.flush()

    def _create_frame_series(self, frames: Mapping[str, np.ndarray], stamps: Mapping[str, float]) -> None:
        for cam, data in frames.items():
            if self.compress:  # a row per frame, zero-padded to the longest JPEG of any camera, as ALOHA does
                width = max(d.size for d in frames.values())
                ds = self._file.create_dataset(f"observations/images/{cam}", (0, width), maxshape=(None, None),
                                               dtype="u1", chunks=(1, width), fletcher32=self.checksums)
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
        if data.size > ds.shape[1]:  # every camera keeps one width, so np.array over cameras works (ALOHA)
            for c in self.cameras:
                self._series[f"observations/images/{c}"][0].resize(data.size, axis=1)
        ds[t, :data.size] = data  # the rest of the row is HDF5's fill value, 0: ALOHA's padding
        self._series["compress_len"][0][self.cameras.index(cam), t] = data.size

    def close(self, publish: bool = True, **metadata) -> pathlib.Path:
        """Finish the episode (adding `metadata`, e.g. achieved rate) and publish it; returns its path. With
        publish=False the finished file is kept out of the data set as `unfinished_episode_N_<time>.h5`."""
        self._check_writable()
        if self._frames == 0:
            raise ValueError("an episode needs at least one frame; discard() it instead")
        try:
            self.set_metadata(**metadata)
            del self._file.attrs[COMMITTED]
            for ds, axis in self._series.values():
                ds.resize(self._frames, axis=axis)
            self._file.close()
        except Exception as e:  # noqa: BLE001 - an I/O error, whatever h5py calls it
            self._fail(e)
        self._closed = True
        if not publish:
            kept = _set_aside(self.temp_path, self.index, "unfinished")
            self._release()
            return kept
        while True:
            try:
                os.link(self.temp_path, self.path)  # atomic and never replaces an existing file
                break
            except FileExistsError:
                if not self._auto_index:
                    raise FileExistsError(f"{self.path} appeared while recording; the episode is kept at "
                                          f"{self.temp_path}") from None
                self._claim_next()
        self.temp_path.unlink()
        self._release()
        return self.path

    def _claim_next(self) -> None:
        """Someone published our index meanwhile: move the claim (our temporary file) to the next free index."""
        i = max(self.index + 1, next_episode_index(self.directory))
        while True:
            temp = _temp_path(self.directory, i)
            if not episode_path(self.directory, i).exists():
                try:
                    os.link(self.temp_path, temp)
                except FileExistsError:
                    i += 1
                    continue
                if not episode_path(self.directory, i).exists():
                    self.temp_path.unlink()
                    self.temp_path, self.index = temp, i
                    return
                temp.unlink()
            i += 1

    def _release(self, delete: bool = False) -> None:
        if self._lock_fd is None:
            return
        if delete:
            try:  # frees the space now even if HDF5 could not close its handle (e.g. after a full disk)
                os.ftruncate(self._lock_fd, 0)
            except OSError:
                pass
            self.temp_path.unlink(missing_ok=True)
        os.close(self._lock_fd)
        self._lock_fd = None

    def discard(self) -> None:
        """Drop the episode being recorded and free its space; nothing is published. Never raises for I/O."""
        if not self._closed and hasattr(self, "_file"):
            self._closed = True
            if self._failed is not None:  # HDF5 cannot write there: closing would fail, and crash the process at exit
                self._detach()
            try:
                self._file.close()
            except Exception:  # noqa: BLE001 - e.g. a full disk
                self._detach()
                try:
                    self._file.close()
                except Exception:  # noqa: BLE001 - nothing more to try: the file goes anyway
                    pass
        self._release(delete=True)

    def _detach(self) -> None:
        """Point HDF5's descriptor of the file at /dev/null, so what it still flushes while closing goes nowhere."""
        try:
            if self._file.id.valid:
                fd = self._file.id.get_vfd_handle()
                null = os.open(os.devnull, os.O_RDWR)
                os.dup2(null, fd)
                os.close(null)
        except Exception:  # noqa: BLE001 - e.g. a driver without a descriptor
            pass

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
    # JPEG ends at its EOI marker (FF D9), so ALOHA's zero padding needs no compress_len (as ACT decodes it too);
    # a row not ending so is truncated (libjpeg would decode it with a grey rest, and only a warning)
    nonzero = np.flatnonzero(row)
    end = int(nonzero[-1]) + 1 if nonzero.size else 0
    if end < 4 or row[end - 2] != 0xFF or row[end - 1] != 0xD9:
        raise EpisodeFormatError(f"{path}: camera {cam} frame {t} is not a whole JPEG (no end marker)")
    try:
        image = cv2.imdecode(np.ascontiguousarray(row[:end]), cv2.IMREAD_COLOR)
    except cv2.error as e:
        raise EpisodeFormatError(f"{path}: camera {cam} frame {t} is not a decodable JPEG ({e})") from e
    if image is None or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
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


def _dataset(f: h5py.File, path: pathlib.Path, name: str) -> h5py.Dataset:
    obj = f.get(name)
    if obj is None:
        raise EpisodeFormatError(f"{path}: missing ALOHA dataset /{name}")
    if not isinstance(obj, h5py.Dataset):
        raise EpisodeFormatError(f"{path}: /{name} is a {type(obj).__name__}, not a dataset")
    return obj


def _load(path: pathlib.Path, ds: h5py.Dataset, index=()) -> np.ndarray:
    try:
        return np.asarray(ds[index])
    except (OSError, ValueError, TypeError) as e:  # truncated, corrupt chunks, failed checksum, odd types
        why = "corrupt: its fletcher32 checksum fails" if ds.fletcher32 and "filter" in str(e) else "unreadable"
        raise EpisodeFormatError(f"{path}: {ds.name} is {why} ({e})") from e


def _joint_stream(path: pathlib.Path, name: str, value: np.ndarray, n_joints: int | None) -> np.ndarray:
    """`n_joints`: /action's columns (None for /action itself)."""
    if value.dtype.kind != "f" or value.ndim != 2 or value.shape[1] != (n_joints or value.shape[1]):
        like = " like /action" if n_joints else ""
        raise EpisodeFormatError(f"{path}: /{name} is {value.dtype} {value.shape}; expected floating point "
                                 f"(T, {n_joints or 'n_joints'}){like}")
    limit = JOINT_LIMITS[name]
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(value) | (np.abs(value) > limit)
    if bad.any():
        t, j = np.argwhere(bad)[0]
        what = "a non-finite value (NaN or inf)" if not np.isfinite(value[t, j]) else f"a value beyond ±{limit:g}"
        raise EpisodeFormatError(f"{path}: /{name}[{t}, {j}] = {value[t, j]!r}: {what}; corrupt or not in robot units")
    return value


def _images(path: pathlib.Path, ds: h5py.Dataset, cam: str, compressed: bool,
            index: int | slice = slice(None)) -> np.ndarray:
    """One camera's frames `index` of an episode as (T, H, W, 3) uint8 (or (H, W, 3) for an int index)."""
    raw = _load(path, ds, index)
    rows = raw if isinstance(index, slice) else raw[None]
    if compressed:
        if ds.dtype != np.uint8 or ds.ndim != 2:
            raise EpisodeFormatError(f"{path}: camera {cam} is {ds.dtype} {ds.shape}; a compressed episode stores "
                                     f"(T, L) uint8 JPEG rows")
        start = index if isinstance(index, int) else 0
        frames = [_decode(path, cam, start + t, r) for t, r in enumerate(rows)]
        if len({f.shape for f in frames}) > 1:
            raise EpisodeFormatError(f"{path}: camera {cam} frames decode to different sizes "
                                     f"{sorted({f.shape for f in frames})}")
        rows = np.stack(frames) if frames else np.zeros((0, 0, 0, 3), np.uint8)
    elif ds.dtype != np.uint8 or ds.ndim != 4 or ds.shape[3] != 3:
        raise EpisodeFormatError(f"{path}: camera {cam} is {ds.dtype} {ds.shape}; expected (T, H, W, 3) uint8")
    return rows if isinstance(index, slice) else rows[0]


def read_episode(path: str | os.PathLike, cameras: Sequence[str] | None = None) -> Episode:
    """Load an ALOHA / ACT / diffog episode into arrays, decoding JPEG images when the file is compressed.

    `cameras`: which image streams to load (None: all, []: none; an unknown name raises KeyError). Anything that is
    not a valid episode (see the module's docstring) raises EpisodeFormatError naming the file and the dataset.
    """
    path = pathlib.Path(path)
    with _open(path) as f:
        try:
            group = f.get("observations/images")
            available = list(group) if isinstance(group, h5py.Group) else []
        except (OSError, ValueError, TypeError, KeyError) as e:
            raise EpisodeFormatError(f"{path}: /observations/images is unreadable ({e})") from e
        wanted = available if cameras is None else list(cameras)
        if missing := [c for c in wanted if c not in available]:
            raise KeyError(f"{path}: no camera {missing}; the episode has {available}")
        try:
            return _read(f, path, wanted)
        except EpisodeFormatError:
            raise
        except (OSError, ValueError, TypeError, KeyError, cv2.error) as e:
            raise EpisodeFormatError(f"{path}: not a valid ALOHA episode ({type(e).__name__}: {e})") from e


def _read(f: h5py.File, path: pathlib.Path, cameras: Sequence[str]) -> Episode:
    compressed = bool(f.attrs.get("compress", False))
    action = _joint_stream(path, "action", _load(path, _dataset(f, path, "action")), None)
    joints = {name: _joint_stream(path, name, _load(path, _dataset(f, path, name)), action.shape[1])
              for name in ("observations/qpos", "observations/qvel", "observations/effort")
              if name != "observations/effort" or name in f}
    images = {cam: _images(path, _dataset(f, path, f"observations/images/{cam}"), cam, compressed)
              for cam in cameras}
    stamps, extras = {}, {}
    if isinstance(f.get("timestamps"), h5py.Group):
        for k in f["timestamps"]:
            stamps[k] = _load(path, _dataset(f, path, f"timestamps/{k}"))
            if stamps[k].ndim != 1 or stamps[k].dtype.kind not in "fiu" or not np.all(np.isfinite(stamps[k])):
                raise EpisodeFormatError(f"{path}: /timestamps/{k} is {stamps[k].dtype} {stamps[k].shape}; "
                                         f"expected (T,) finite seconds")
    for k, v in f["observations"].items():
        if k not in ("qpos", "qvel", "effort", "images") and isinstance(v, h5py.Dataset):
            extras[k] = _load(path, v)
            if extras[k].dtype.kind not in "fiu" or extras[k].ndim not in (1, 2) \
                    or not np.all(np.isfinite(extras[k])):
                raise EpisodeFormatError(f"{path}: /observations/{k} is {extras[k].dtype} {extras[k].shape}; "
                                         f"expected finite (T, K) numbers")
    metadata = {k: _attr(v) for k, v in f.attrs.items() if k not in ("sim", "compress")}
    sim = bool(f.attrs.get("sim", False))
    lengths = {"action": len(action), **{k.removeprefix("observations/"): len(v) for k, v in joints.items()}}
    lengths.update({c: len(v) for c, v in images.items()})
    lengths.update({k: len(v) for k, v in extras.items()})
    lengths.update({f"timestamps/{k}": len(v) for k, v in stamps.items()})
    if len(set(lengths.values())) != 1:
        raise EpisodeFormatError(f"{path}: streams differ in length {lengths}")
    if not len(action):
        raise EpisodeFormatError(f"{path}: the episode has no frames")
    return Episode(qpos=joints["observations/qpos"], qvel=joints["observations/qvel"], action=action,
                   effort=joints.get("observations/effort"), images=images, timestamps=stamps, sim=sim,
                   compressed=compressed, metadata=metadata, path=path, extras=extras)


def read_frame_images(path: str | os.PathLike, t: int, cameras: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """The images of one timestep without loading the episode (what a training dataset samples)."""
    path = pathlib.Path(path)
    with _open(path) as f:
        try:
            group = f["observations/images"]
            names = list(group) if cameras is None else list(cameras)
            compressed = bool(f.attrs.get("compress", False))
            return {c: _images(path, _dataset(f, path, f"observations/images/{c}"), c, compressed, t) for c in names}
        except EpisodeFormatError:
            raise
        except (OSError, ValueError, TypeError, cv2.error) as e:
            raise EpisodeFormatError(f"{path}: frame {t} is unreadable ({type(e).__name__}: {e})") from e


def list_episodes(directory: str | os.PathLike) -> list[pathlib.Path]:
    """The published episode files of a directory in index order (temporary files are skipped)."""
    d = pathlib.Path(directory)
    found = [(int(m.group(1)), p) for p in d.iterdir() if (m := EPISODE_RE.match(p.name))]
    return [p for _, p in sorted(found)]


# --- crash recovery ----------------------------------------------------------------------------------------------
@dataclasses.dataclass
class Recovered:
    """What `recover_unfinished` did with one writer's leftover temporary file."""

    source: pathlib.Path       # the temporary file a killed (or interrupted) writer left
    path: pathlib.Path | None  # the readable unfinished episode made of it; None when there was nothing to make
    frames: int                # frames recovered
    problem: str | None = None  # why nothing was recovered (and where the file went), None when `path` holds it

    def __str__(self) -> str:
        if self.problem is None:
            return f"recovered {self.frames} frames of an interrupted recording {self.source.name} as {self.path}"
        return f"interrupted recording {self.source}: {self.problem}"


def recover_unfinished(directory: str | os.PathLike) -> list[Recovered]:
    """Turn the temporary files of writers that died mid-episode (killed, crashed, power cut) into readable
    `unfinished_episode_N_<time>.h5` files of every frame flushed before (all but the last ~FLUSH_INTERVAL_S),
    kept out of the data set like an episode stopped without publishing: rename one to `episode_M.hdf5` to use it.
    Files of live writers (they hold an flock) are left alone; an unreadable one is moved to
    `unreadable_episode_N_<time>.h5`; one that cannot be copied now (disk full) stays for the next call."""
    d = pathlib.Path(directory)
    if not d.is_dir():
        return []
    done = []
    for p in sorted(d.iterdir()):
        if p.name.startswith((".claim.", ".recovering.")):  # left by a writer killed while claiming its index
            _with_dead_writers_file(p, lambda fd, p=p: p.unlink())  # or a recovery killed while copying
        elif m := TEMP_RE.match(p.name):
            _with_dead_writers_file(p, lambda fd, p=p, i=int(m.group(1)): done.append(_recover(p, i)))
    return done


def _with_dead_writers_file(path: pathlib.Path, action) -> None:
    """Run action(fd) on `path` when no live writer holds its flock (holding it meanwhile)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # gone meanwhile
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return  # a live writer's
        try:
            if os.stat(path).st_ino != os.fstat(fd).st_ino:
                return
        except FileNotFoundError:  # published or recovered meanwhile
            return
        action(fd)
    finally:
        os.close(fd)


def _recover(source: pathlib.Path, index: int) -> Recovered:
    try:
        with h5py.File(source, "r", locking=False) as f:
            frames = int(f.attrs[COMMITTED]) if COMMITTED in f.attrs else len(f["action"])
    except Exception as e:  # noqa: BLE001 - whatever HDF5 makes of a broken file
        kept = _set_aside(source, index, "unreadable")
        return Recovered(source, None, 0, f"not a readable episode ({e}); moved to {kept}")
    if frames == 0:
        source.unlink()
        return Recovered(source, None, 0, f"killed before its first frames reached the disk (within "
                                          f"{FLUSH_INTERVAL_S:g} s of the start); removed")
    part = source.parent / f".recovering.{os.getpid()}.{secrets.token_hex(6)}.tmp"
    fd = os.open(part, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # live: another recover_unfinished leaves it alone
        try:
            _copy_frames(source, part, frames)
        except EpisodeFormatError as e:
            part.unlink(missing_ok=True)
            kept = _set_aside(source, index, "unreadable")
            return Recovered(source, None, 0, f"{e}; moved to {kept}")
        except Exception as e:  # noqa: BLE001 - writing the copy failed (disk full): try again next time
            part.unlink(missing_ok=True)
            return Recovered(source, None, 0, f"could not write the recovered copy ({_io_reason(e)}); left in "
                                              f"place for the next attempt")
        target = _set_aside(part, index, "unfinished")
    finally:
        os.close(fd)
    source.unlink()
    return Recovered(source, target, frames)


def _copy_frames(source: pathlib.Path, target: pathlib.Path, frames: int) -> None:
    """The first `frames` frames of every dataset of `source` into a new file `target`, checksummed."""
    with h5py.File(source, "r", locking=False) as src, h5py.File(target, "w", locking=False) as dst:
        for k, v in src.attrs.items():
            if k != COMMITTED:
                dst.attrs[k] = v
        dst.attrs["unfinished"] = f"recovered from {source.name}: the recorder stopped mid-episode"
        items: list[tuple[str, h5py.Dataset | h5py.Group]] = []
        src.visititems(lambda name, obj: items.append((name, obj)))
        for name, obj in items:
            if isinstance(obj, h5py.Group):
                dst.require_group(name)
                continue
            axis = 1 if name == "compress_len" else 0
            shape = list(obj.shape)
            shape[axis] = min(shape[axis], frames)
            out = dst.create_dataset(name, shape, dtype=obj.dtype, maxshape=obj.maxshape, chunks=obj.chunks,
                                     fletcher32=True)
            step = max(1, (32 << 20) // max(1, obj.dtype.itemsize * int(np.prod(shape)) // max(1, shape[axis])))
            for start in range(0, shape[axis], step):
                sl = [slice(None)] * len(shape)
                sl[axis] = slice(start, min(start + step, shape[axis]))
                out[tuple(sl)] = _rows(source, obj, tuple(sl))


def _rows(path: pathlib.Path, ds: h5py.Dataset, sel: tuple[slice, ...]) -> np.ndarray:
    """ds[sel]; when a checksum fails (a chunk rewritten while the writer was killed: the rows it had already
    flushed are the same in its old and new halves), from the raw chunks, unchecked."""
    try:
        return ds[sel]
    except OSError as e:
        filters = ds.id.get_create_plist()
        if not ds.fletcher32 or filters.get_nfilters() != 1 or ds.chunks is None:
            raise EpisodeFormatError(f"{path}: {ds.name} is unreadable ({e})") from e
    start = [s.indices(n)[0] for s, n in zip(sel, ds.shape)]
    stop = [s.indices(n)[1] for s, n in zip(sel, ds.shape)]
    out = np.zeros([b - a for a, b in zip(start, stop)], ds.dtype)
    grid = [range(a // c * c, b, c) for a, b, c in zip(start, stop, ds.chunks)]
    for offset in itertools.product(*grid):
        try:
            raw = ds.id.read_direct_chunk(offset)[1]
        except (OSError, ValueError, KeyError) as e:
            raise EpisodeFormatError(f"{path}: {ds.name} chunk {offset} is unreadable ({e})") from e
        chunk = np.frombuffer(raw[:-4], ds.dtype).reshape(ds.chunks)  # fletcher32 appends 4 bytes
        lo = [max(o, a) for o, a in zip(offset, start)]
        hi = [min(o + c, b) for o, c, b in zip(offset, ds.chunks, stop)]
        out[tuple(slice(l - a, h - a) for l, h, a in zip(lo, hi, start))] = \
            chunk[tuple(slice(l - o, h - o) for l, h, o in zip(lo, hi, offset))]
    return out
