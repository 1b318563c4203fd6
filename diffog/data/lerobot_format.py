"""Our ALOHA-layout episodes to and from a LeRobot dataset (codebase_version "v3.0", as LeRobot 0.6 writes it),
so ACT / pi0 / any LeRobot policy trains on what this stack records, and LeRobot datasets train ours.

    diffog-export-lerobot data/sim/sim_move_stack --out datasets/move_stack [--task "stack the blocks"] [--fps 50]
    diffog-import-lerobot datasets/move_stack data/imported/move_stack [--sim] [--compress]

The `lerobot` package is not installed here (it needs torchvision); this module writes its on-disk format itself,
following lerobot/datasets/{utils,feature_utils,io_utils,dataset_writer,dataset_metadata,compute_stats}.py:
    meta/info.json                          codebase_version, fps, features, totals, chunk/file settings, paths
    meta/stats.json                         per feature: min max mean std count q01 q10 q50 q90 q99
    meta/tasks.parquet                      task_index, task (pandas index, as pandas writes it)
    meta/episodes/chunk-000/file-000.parquet  one row per episode: episode_index, tasks, length,
                                            data/chunk_index, data/file_index, dataset_from_index, dataset_to_index,
                                            stats/<feature>/<stat>, meta/episodes/chunk_index, meta/episodes/file_index
    data/chunk-CCC/file-FFF.parquet         one row per frame, one row group per episode; a new file past 100 MB
Features (ALOHA naming of LeRobot's and openpi's converters, robot_type "aloha"): observation.state (qpos),
observation.velocity (qvel), observation.effort, action, all float32 (n,) named by joint; observation.images.<cam>
as dtype "image" (PNG inside the parquet, HF datasets' Image struct {bytes, path}; no mp4, so no ffmpeg);
the sim's object_poses as observation.environment_state (which LeRobot's ACT / Diffusion read), another extra
stream X as observation.X; our per-stream capture times as timestamps.<stream> (float64, ignored by policies);
then LeRobot's timestamp (frame_index / fps), frame_index, episode_index, index, task_index.
The importer also reads datasets LeRobot wrote, mp4 video features included (decoded with OpenCV).
"""
from __future__ import annotations

import argparse
import io
import json
import logging
import os
import pathlib
import shutil
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from diffog.data.aloha_hdf5 import Episode, list_episodes, read_episode, read_frame_images, write_episode
from diffog.robot import load_robot_description

log = logging.getLogger(__name__)

CODEBASE_VERSION = "v3.0"
CHUNKS_SIZE, DATA_FILES_SIZE_IN_MB, VIDEO_FILES_SIZE_IN_MB = 1000, 100, 200
DATA_PATH = "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
EPISODES_PATH = "meta/episodes/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
DEFAULT_FEATURES = {"timestamp": "float32", "frame_index": "int64", "episode_index": "int64", "index": "int64",
                    "task_index": "int64"}
QUANTILES = (0.01, 0.10, 0.50, 0.90, 0.99)
ENV_STATE = "observation.environment_state"
JOINT_FEATURES = {"qpos": "observation.state", "qvel": "observation.velocity", "effort": "observation.effort",
                  "action": "action"}
IMAGE_PREFIX, STAMP_PREFIX = "observation.images.", "timestamps."
PA_TYPES = {"float32": pa.float32(), "float64": pa.float64(), "int64": pa.int64()}
IMAGE_TYPE = pa.struct([("bytes", pa.binary()), ("path", pa.string())])  # datasets.Image's storage


# --- statistics: lerobot/datasets/compute_stats.py ---------------------------------------------------------------
class RunningQuantileStats:
    """LeRobot's per-dimension running min/max/mean/std and histogram quantiles (5000 bins re-binned as the range
    grows), batches promoted to at least float32 before squaring (LeRobot PR #3697)."""

    def __init__(self, bins: int = 5000):
        self.bins, self.count = bins, 0

    def update(self, batch: np.ndarray) -> None:
        batch = np.asarray(batch).reshape(-1, np.shape(batch)[-1])
        batch = batch.astype(np.result_type(batch.dtype, np.float32), copy=False)
        n = len(batch)
        if self.count == 0:
            self.mean, self.mean_sq = batch.mean(0), (batch ** 2).mean(0)
            self.min, self.max = batch.min(0), batch.max(0)
            self.hist = [np.zeros(self.bins) for _ in range(batch.shape[1])]
            self.edges = [np.linspace(self.min[i] - 1e-10, self.max[i] + 1e-10, self.bins + 1)
                          for i in range(batch.shape[1])]
        else:
            new_min, new_max = np.minimum(self.min, batch.min(0)), np.maximum(self.max, batch.max(0))
            grew = np.any(new_min < self.min) or np.any(new_max > self.max)
            self.min, self.max = new_min, new_max
            if grew:
                self._rebin()
        self.count += n
        self.mean += (batch.mean(0) - self.mean) * (n / self.count)
        self.mean_sq += ((batch ** 2).mean(0) - self.mean_sq) * (n / self.count)
        for i in range(batch.shape[1]):
            self.hist[i] += np.histogram(batch[:, i], bins=self.edges[i])[0]

    def _rebin(self) -> None:
        for i, (edges, hist) in enumerate(zip(self.edges, self.hist)):
            pad = (self.max[i] - self.min[i]) * 1e-10
            new_edges = np.linspace(self.min[i] - pad, self.max[i] + pad, self.bins + 1)
            where = np.clip(np.searchsorted(new_edges, (edges[:-1] + edges[1:]) / 2) - 1, 0, self.bins - 1)
            self.hist[i], self.edges[i] = np.bincount(where, weights=hist, minlength=self.bins), new_edges

    def _quantile(self, hist: np.ndarray, edges: np.ndarray, target: float) -> float:
        cumsum = np.cumsum(hist)
        idx = int(np.searchsorted(cumsum, target))
        if idx == 0 or idx >= len(cumsum):
            return edges[0] if idx == 0 else edges[-1]
        in_bin = cumsum[idx] - cumsum[idx - 1]
        if in_bin == 0:
            return edges[idx]
        return edges[idx] + (target - cumsum[idx - 1]) / in_bin * (edges[idx + 1] - edges[idx])

    def stats(self, count: int) -> dict[str, np.ndarray]:
        """min max mean std count q01..q99 (count as LeRobot reports it: frames, not pixels)."""
        out = {"min": self.min.copy(), "max": self.max.copy(), "mean": self.mean.copy(),
               "std": np.sqrt(np.maximum(0, self.mean_sq - self.mean ** 2)), "count": np.array([count])}
        for q in QUANTILES:
            out[f"q{int(q * 100):02d}"] = np.array([self._quantile(h, e, q * self.count)
                                                    for h, e in zip(self.hist, self.edges)])
        return out


def _stats_shape(stats: dict, image: bool) -> dict:
    """Image stats per channel as (3, 1, 1) in [0, 1], as compute_episode_stats leaves them."""
    if not image:
        return stats
    return {k: v if k == "count" else v.reshape(-1, 1, 1) / 255.0 for k, v in stats.items()}


def _feature_stats(column: np.ndarray, image: bool) -> dict:
    """LeRobot's get_feature_stats for one episode's column: (T,) or (T, D) values, or (N, H, W, 3) images."""
    data = column.reshape(len(column), -1) if not image else column.reshape(-1, column.shape[-1])
    if len(data) < 2:  # _compute_basic_stats: quantiles are the mean
        base = {"min": data.min(0), "max": data.max(0), "mean": data.mean(0), "std": data.std(0),
                "count": np.array([len(column)])}
        return _stats_shape({**base, **{f"q{int(q * 100):02d}": base["mean"].copy() for q in QUANTILES}}, image)
    rs = RunningQuantileStats()
    rs.update(data)
    return _stats_shape(rs.stats(len(column)), image)


def _sample_images(frames: np.ndarray) -> np.ndarray:
    """compute_stats.sample_images: up to ~100 frames evenly spaced, strided down to ~150 px past 300 px."""
    n = len(frames)
    k = max(min(100, n), min(int(n ** 0.75), 10_000))
    picked = frames[np.round(np.linspace(0, n - 1, k)).astype(int)]
    h, w = picked.shape[1:3]
    if max(h, w) >= 300:
        step = int(w / 150) if w > h else int(h / 150)
        picked = picked[:, ::step, ::step]
    return picked


# --- export -------------------------------------------------------------------------------------------------------
def _episode_paths(source) -> list[pathlib.Path]:
    items = [source] if isinstance(source, (str, os.PathLike)) else list(source)
    paths: list[pathlib.Path] = []
    for item in map(pathlib.Path, items):
        paths.extend(list_episodes(item) if item.is_dir() else [item])
    return paths


def _common(named: list[dict[str, int]], what: str) -> dict[str, int]:
    """Streams every episode has with the same width (LeRobot's schema is one for the whole dataset)."""
    keep = {k: v for k, v in named[0].items() if all(d.get(k) == v for d in named)}
    if dropped := sorted(set().union(*named) - set(keep)):
        log.warning("not exported (missing or shaped differently in some episodes): %s %s", what, dropped)
    return keep


def _plan(paths: list[pathlib.Path], task: str | None, fps: float | None):
    """One pass over the low-dim streams: the features every episode can fill, the rate and each episode's task."""
    heads = [read_episode(p, cameras=[]) for p in paths]
    first = heads[0]
    dims = {len(h.action[0]) for h in heads}
    if len(dims) != 1:
        raise ValueError(f"episodes differ in action size {sorted(dims)}; export them as separate datasets")
    n = dims.pop()
    names = list(first.metadata.get("joint_names") or [])
    if len(names) != n:
        default = load_robot_description().action_joint_names
        names = list(default) if len(default) == n else [f"joint_{i}" for i in range(n)]
    cams = [{c: tuple(v.shape) for c, v in read_frame_images(p, 0).items()} for p in paths]
    cams = {c: s for c, s in cams[0].items() if all(d.get(c) == s for d in cams)}
    if len(cams) != len(read_frame_images(paths[0], 0)):
        raise ValueError(f"episodes differ in cameras or image sizes; common to all: {sorted(cams)}")
    extras = _common([{k: v.reshape(len(v), -1).shape[1] for k, v in h.extras.items()} for h in heads], "streams")
    stamps = _common([{k: 1 for k in h.timestamps} for h in heads], "timestamps")
    if fps is None:
        dt = first.metadata.get("dt")
        fps = 1.0 / float(dt) if dt else float(first.metadata.get("target_rate_hz") or 50.0)
    if round(fps) < 1 or abs(fps - round(fps)) > 1e-3 * fps:
        log.warning("LeRobot stores an integer fps: %.4g Hz written as %d", fps, max(1, round(fps)))
    tasks = [task or str(h.metadata.get("task") or "ALOHA episode") for h in heads]
    effort = all(h.effort is not None for h in heads)
    return names, cams, extras, stamps, max(1, round(fps)), tasks, effort, str(first.metadata.get("robot") or "aloha")


def _features(names, cams, extras, stamps, effort) -> dict[str, dict]:
    vec = lambda width, labels: {"dtype": "float32", "shape": [width], "names": labels}  # noqa: E731
    feats = {"observation.state": vec(len(names), names), "action": vec(len(names), names),
             "observation.velocity": vec(len(names), names)}
    if effort:
        feats["observation.effort"] = vec(len(names), names)
    for k, width in extras.items():
        feats[ENV_STATE if k == "object_poses" else f"observation.{k}"] = vec(width, [f"{k}_{i}" for i in range(width)])
    for k in stamps:
        feats[STAMP_PREFIX + k] = {"dtype": "float64", "shape": [1], "names": None}
    for c, (h, w, ch) in cams.items():
        feats[IMAGE_PREFIX + c] = {"dtype": "image", "shape": [h, w, ch], "names": ["height", "width", "channels"]}
    feats.update({k: {"dtype": d, "shape": [1], "names": None} for k, d in DEFAULT_FEATURES.items()})
    return feats


def _hf_feature(ft: dict) -> dict:
    """feature_utils.get_hf_features_from_features, as `datasets.Features.to_dict()` serializes it."""
    if ft["dtype"] == "image":
        return {"_type": "Image"}
    value = {"dtype": ft["dtype"], "_type": "Value"}
    return value if list(ft["shape"]) == [1] else {"feature": value, "length": ft["shape"][0], "_type": "List"}


def arrow_type(ft: dict) -> pa.DataType:
    """The Arrow type `datasets` stores a LeRobot feature as (Image struct, Value, fixed-size List)."""
    if ft["dtype"] == "image":
        return IMAGE_TYPE
    value = PA_TYPES[ft["dtype"]]
    return value if list(ft["shape"]) == [1] else pa.list_(value, ft["shape"][0])


def _png(image: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG", compress_level=6)  # LeRobot's level for dtype "image"
    return buf.getvalue()


def _episode_columns(ep: Episode, feats: dict, ep_index: int, start: int, task_index: int, fps: int, pool):
    """Column values (numpy, or PNG bytes for images) of one episode, keyed by feature."""
    n = len(ep)
    stream = {"observation.state": ep.qpos, "action": ep.action, "observation.velocity": ep.qvel,
              "observation.effort": ep.effort}
    cols = {}
    for key, ft in feats.items():
        if key in stream:
            cols[key] = np.asarray(stream[key], np.float32)
        elif key.startswith(IMAGE_PREFIX):
            cols[key] = ep.images[key.removeprefix(IMAGE_PREFIX)]
        elif key.startswith(STAMP_PREFIX):
            cols[key] = np.asarray(ep.timestamps[key.removeprefix(STAMP_PREFIX)], np.float64)
        elif key.startswith("observation."):
            name = ft["names"][0].rsplit("_", 1)[0]
            cols[key] = np.asarray(ep.extras[name], np.float32).reshape(n, -1)
    frame = np.arange(n)
    cols.update(timestamp=frame / fps, frame_index=frame, episode_index=np.full(n, ep_index),
                index=start + frame, task_index=np.full(n, task_index))
    stats = {k: _feature_stats(_sample_images(v) if k.startswith(IMAGE_PREFIX) else v, k.startswith(IMAGE_PREFIX))
             for k, v in cols.items()}
    arrays = []
    for key, ft in feats.items():
        if ft["dtype"] == "image":
            data = list(pool.map(_png, cols[key]))
            paths = [f"frame-{i:06d}.png" for i in frame]  # embed_table_storage keeps the basename
            arrays.append(pa.StructArray.from_arrays([pa.array(data, pa.binary()), pa.array(paths, pa.string())],
                                                     fields=list(IMAGE_TYPE)))
        elif list(ft["shape"]) == [1]:
            arrays.append(pa.array(cols[key].reshape(n), PA_TYPES[ft["dtype"]]))
        else:
            flat = pa.array(cols[key].reshape(-1), PA_TYPES[ft["dtype"]])
            arrays.append(pa.FixedSizeListArray.from_arrays(flat, ft["shape"][0]))
    return arrays, stats


def _tasks_table(tasks: list[str]) -> pa.Table:
    """meta/tasks.parquet as `pandas.DataFrame({"task_index": ...}, index=Index(tasks, name="task")).to_parquet`
    writes it (the pandas metadata makes `pd.read_parquet` give back the task index LeRobot looks tasks up in)."""
    pandas_meta = {"index_columns": ["task"], "column_indexes": [
        {"name": None, "field_name": None, "pandas_type": "unicode", "numpy_type": "object",
         "metadata": {"encoding": "UTF-8"}}], "columns": [
        {"name": "task_index", "field_name": "task_index", "pandas_type": "int64", "numpy_type": "int64",
         "metadata": None},
        {"name": "task", "field_name": "task", "pandas_type": "unicode", "numpy_type": "object", "metadata": None}],
        "creator": {"library": "pyarrow", "version": pa.__version__}, "pandas_version": "2.3.3"}
    schema = pa.schema([("task_index", pa.int64()), ("task", pa.string())],
                       metadata={"pandas": json.dumps(pandas_meta)})
    return pa.table([pa.array(range(len(tasks)), pa.int64()), pa.array(tasks, pa.string())], schema=schema)


def _write_json(data: dict, path: pathlib.Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=4, ensure_ascii=False))


def export_lerobot(episode_paths_or_dir, out_dir: str | os.PathLike, task: str | None = None,
                   fps: float | None = None) -> pathlib.Path:
    """Write our episodes (files, or directories of episode_N.hdf5) as a LeRobot v3.0 dataset at `out_dir`, which
    must not exist or be empty; built in a temporary sibling directory and renamed into place when complete.
    `task`: the language instruction for every episode (default: each episode's `task` metadata); `fps`: the
    frame rate (default: 1 / the episodes' `dt` metadata, else their recorder's target rate, else 50)."""
    paths = _episode_paths(episode_paths_or_dir)
    if not paths:
        raise ValueError(f"no episode files in {episode_paths_or_dir}")
    out = pathlib.Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FileExistsError(f"{out} exists and is not an empty directory")
    names, cams, extras, stamps, fps, tasks, effort, robot = _plan(paths, task, fps)
    feats = _features(names, cams, extras, stamps, effort)
    task_list = list(dict.fromkeys(tasks))
    hf = {"info": {"features": {k: _hf_feature(ft) for k, ft in feats.items()}}}
    schema = pa.schema([(k, arrow_type(ft)) for k, ft in feats.items()], metadata={"huggingface": json.dumps(hf)})
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = pathlib.Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    writer = None
    try:
        rows, global_stats, total, chunk, file, file_start = [], {}, 0, 0, 0, 0
        with ThreadPoolExecutor(max_workers=4) as pool:
            for i, path in enumerate(paths):
                ep = read_episode(path, cameras=list(cams))
                if writer is not None:  # dataset_writer._save_episode_data: a new file once this one would pass the cap
                    size_mb = os.path.getsize(writer.where) / 1024 ** 2
                    if size_mb + size_mb / max(total - file_start, 1) * len(ep) >= DATA_FILES_SIZE_IN_MB:
                        writer.close()
                        writer, file_start = None, total
                        chunk, file = (chunk + 1, 0) if file == CHUNKS_SIZE - 1 else (chunk, file + 1)
                if writer is None:
                    target = tmp / DATA_PATH.format(chunk_index=chunk, file_index=file)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    writer = pq.ParquetWriter(target, schema, compression="snappy", use_dictionary=True)
                arrays, stats = _episode_columns(ep, feats, i, total, task_list.index(tasks[i]), fps, pool)
                writer.write_table(pa.Table.from_arrays(arrays, schema=schema))  # one row group per episode
                for key, s in stats.items():  # meta.save_episode: aggregate_stats([dataset stats, episode stats])
                    global_stats[key] = s if key not in global_stats else _aggregate(global_stats[key], s)
                rows.append({"episode_index": i, "tasks": [tasks[i]], "length": len(ep), "data/chunk_index": chunk,
                             "data/file_index": file, "dataset_from_index": total,
                             "dataset_to_index": total + len(ep),
                             **{f"stats/{k}/{s}": v.tolist() for k, st in stats.items() for s, v in st.items()},
                             "meta/episodes/chunk_index": 0, "meta/episodes/file_index": 0})
                total += len(ep)
        writer.close()
        writer = None
        (tmp / EPISODES_PATH.format(chunk_index=0, file_index=0)).parent.mkdir(parents=True)
        pq.write_table(pa.Table.from_pylist(rows), tmp / EPISODES_PATH.format(chunk_index=0, file_index=0),
                       compression="snappy", use_dictionary=True)
        pq.write_table(_tasks_table(task_list), tmp / "meta/tasks.parquet")
        _write_json({k: {s: v.tolist() for s, v in st.items()} for k, st in global_stats.items()},
                    tmp / "meta/stats.json")
        _write_json({"codebase_version": CODEBASE_VERSION, "fps": fps, "features": feats,
                     "total_episodes": len(paths), "total_frames": total, "total_tasks": len(task_list),
                     "chunks_size": CHUNKS_SIZE, "data_files_size_in_mb": DATA_FILES_SIZE_IN_MB,
                     "video_files_size_in_mb": VIDEO_FILES_SIZE_IN_MB, "data_path": DATA_PATH, "video_path": None,
                     "robot_type": robot, "splits": {"train": f"0:{len(paths)}"}}, tmp / "meta/info.json")
        if out.exists():
            out.rmdir()
        tmp.rename(out)
    except BaseException:
        if writer is not None:
            writer.close()
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _aggregate(a: dict, b: dict) -> dict:
    """compute_stats.aggregate_feature_stats of two: exact min/max/mean/std/count; quantiles count-weighted as
    LeRobot 0.6 merges them (an approximation: quantiles do not average)."""
    ca, cb = a["count"][0], b["count"][0]
    total = ca + cb
    mean = (a["mean"] * ca + b["mean"] * cb) / total
    var = ((a["std"] ** 2 + (a["mean"] - mean) ** 2) * ca + (b["std"] ** 2 + (b["mean"] - mean) ** 2) * cb) / total
    out = {"min": np.minimum(a["min"], b["min"]), "max": np.maximum(a["max"], b["max"]), "mean": mean,
           "std": np.sqrt(var), "count": np.array([total])}
    out.update({q: (a[q] * ca + b[q] * cb) / total for q in a if q[0] == "q" and q[1:].isdigit() and q in b})
    return out


# --- import -------------------------------------------------------------------------------------------------------
def _flat_names(names) -> list[str] | None:
    """A feature's joint names: a list, openpi's [list], or a {group: list} mapping."""
    if isinstance(names, dict):
        names = next(iter(names.values()), None)
    if isinstance(names, list) and len(names) == 1 and isinstance(names[0], list):
        names = names[0]
    return [str(n) for n in names] if isinstance(names, list) else None


def _column(table: pa.Table, key: str) -> np.ndarray:
    col = table.column(key).combine_chunks()
    if pa.types.is_fixed_size_list(col.type) or pa.types.is_list(col.type) or pa.types.is_large_list(col.type):
        return np.asarray(col.flatten().to_numpy(zero_copy_only=False)).reshape(len(col), -1)
    return col.to_numpy(zero_copy_only=False)


def _decode_images(table: pa.Table, key: str, root: pathlib.Path) -> np.ndarray:
    frames = []
    for cell in table.column(key).to_pylist():
        data = cell["bytes"] if cell["bytes"] is not None else (root / cell["path"]).read_bytes()
        frames.append(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")))
    return np.stack(frames)


def _decode_video(root: pathlib.Path, info: dict, ep: dict, key: str, n: int) -> np.ndarray:
    """An episode's frames of an mp4 video feature: n frames from its from_timestamp on."""
    path = root / info["video_path"].format(video_key=key, chunk_index=ep[f"videos/{key}/chunk_index"],
                                            file_index=ep[f"videos/{key}/file_index"])
    cap = cv2.VideoCapture(str(path))
    try:
        cap.set(cv2.CAP_PROP_POS_FRAMES, round(ep[f"videos/{key}/from_timestamp"] * info["fps"]))
        frames = []
        for _ in range(n):
            ok, bgr = cap.read()
            if not ok:
                raise ValueError(f"{path}: could not decode {n} frames for episode {ep['episode_index']} "
                                 f"(OpenCV's FFmpeg may lack the codec, e.g. AV1)")
            frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    finally:
        cap.release()
    return np.stack(frames)


def _read_parquets(pattern_dir: pathlib.Path) -> pa.Table:
    files = sorted(pattern_dir.glob("*/*.parquet"))
    if not files:
        raise FileNotFoundError(f"no parquet files in {pattern_dir}")
    return pa.concat_tables([pq.read_table(f) for f in files], promote_options="default")


def import_lerobot(dataset_dir: str | os.PathLike, out_dir: str | os.PathLike, *, sim: bool = False,
                   compress: bool = False) -> list[pathlib.Path]:
    """Write every episode of a LeRobot v3.0 dataset as an ALOHA-layout episode in `out_dir` (next free indices)
    through our EpisodeWriter; returns the paths. observation.state -> qpos, action, observation.velocity /
    effort -> qvel / effort (zeros where the dataset has none), observation.images.<cam> -> camera <cam>,
    observation.environment_state and other observation.<x> -> extra streams, timestamps.<s> -> timestamps."""
    root = pathlib.Path(dataset_dir)
    info = json.loads((root / "meta/info.json").read_text())
    if not str(info.get("codebase_version", "")).startswith("v3."):
        raise ValueError(f"{root}: codebase_version {info.get('codebase_version')}; this reads v3.x datasets "
                         f"(convert older ones with lerobot's convert_dataset_v21_to_v30)")
    feats, fps = info["features"], info["fps"]
    tasks_table = pq.read_table(root / "meta/tasks.parquet")
    task_col = "task" if "task" in tasks_table.column_names else "__index_level_0__"
    tasks = dict(zip(tasks_table.column("task_index").to_pylist(), tasks_table.column(task_col).to_pylist()))
    episodes = _read_parquets(root / "meta/episodes")  # io_utils.load_episodes: all but the stats/ columns
    episodes = sorted(episodes.select([c for c in episodes.column_names if not c.startswith("stats/")]).to_pylist(),
                      key=lambda e: e["episode_index"])
    if "observation.state" not in feats or "action" not in feats:
        raise ValueError(f"{root}: needs observation.state and action features, has {sorted(feats)}")
    n = feats["action"]["shape"][0]
    if feats["observation.state"]["shape"][0] != n:
        raise ValueError(f"{root}: observation.state has {feats['observation.state']['shape']} values, action {n}")
    names = _flat_names(feats["action"].get("names"))
    data_files: dict[pathlib.Path, pa.Table] = {}
    written = []
    for ep in episodes:
        path = root / info["data_path"].format(chunk_index=ep["data/chunk_index"], file_index=ep["data/file_index"])
        if path not in data_files:
            data_files = {path: pq.read_table(path)}  # one file in memory at a time
        table = data_files[path]
        rows = np.flatnonzero(_column(table, "episode_index") == ep["episode_index"])
        table = table.take(rows).take(np.argsort(_column(table.take(rows), "frame_index"), kind="stable"))
        length = table.num_rows
        streams = {s: _column(table, k) if k in feats else np.zeros((length, n)) for s, k in JOINT_FEATURES.items()}
        images, extras, stamps = {}, {}, {}
        for key, ft in feats.items():
            if ft["dtype"] == "image":
                images[key.removeprefix(IMAGE_PREFIX)] = _decode_images(table, key, root)
            elif ft["dtype"] == "video":
                images[key.removeprefix(IMAGE_PREFIX)] = _decode_video(root, info, ep, key, length)
            elif key.startswith(STAMP_PREFIX):
                stamps[key.removeprefix(STAMP_PREFIX)] = _column(table, key).astype(np.float64)
            elif key.startswith("observation.") and key not in JOINT_FEATURES.values() \
                    and ft["dtype"] in ("float32", "float64", "int64", "int32", "bool"):
                labels = _flat_names(ft.get("names")) or []
                prefix = {lbl.rsplit("_", 1)[0] for lbl in labels if "_" in lbl}
                name = prefix.pop() if key == ENV_STATE and len(prefix) == 1 else key.removeprefix("observation.")
                extras[name] = _column(table, key).reshape(length, -1).astype(np.float64)
        task_index = int(_column(table, "task_index")[0]) if "task_index" in table.column_names else None
        meta = {"task": tasks.get(task_index) or (ep.get("tasks") or [""])[0], "dt": 1.0 / fps,
                "robot": info.get("robot_type") or "unknown", "source": f"lerobot:{root.resolve()}",
                "lerobot_episode_index": int(ep["episode_index"])}
        if names and len(names) == n:
            meta["joint_names"] = names
        written.append(write_episode(out_dir, streams["qpos"], streams["qvel"], streams["effort"], streams["action"],
                                     images, timestamps=stamps, extras=extras, sim=sim, compress=compress,
                                     state_dim=n, metadata=meta))
    return written


# --- command lines ------------------------------------------------------------------------------------------------
def export_main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="diffog-export-lerobot", description="Write ALOHA-layout episodes as a "
                                "LeRobot v3.0 dataset (images inside the parquet files).")
    p.add_argument("episodes", nargs="+", help="episode files, or directories of episode_N.hdf5")
    p.add_argument("--out", required=True, help="the dataset directory to create (must not exist or be empty)")
    p.add_argument("--task", help="language instruction for every episode (default: each episode's task)")
    p.add_argument("--fps", type=float, help="frame rate (default: from the episodes' dt, else 50)")
    args = p.parse_args(argv)
    out = export_lerobot(args.episodes, args.out, task=args.task, fps=args.fps)
    info = json.loads((out / "meta/info.json").read_text())
    print(f"{out}: {info['total_episodes']} episodes, {info['total_frames']} frames at {info['fps']} fps")


def import_main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="diffog-import-lerobot", description="Write a LeRobot v3.0 dataset's "
                                "episodes as ALOHA-layout HDF5 episodes.")
    p.add_argument("dataset", help="the LeRobot dataset directory (with meta/info.json)")
    p.add_argument("out", help="where episode_N.hdf5 files go (next free indices)")
    p.add_argument("--sim", action="store_true", help="mark the episodes as simulated")
    p.add_argument("--compress", action="store_true", help="store images as JPEG, as ALOHA does")
    args = p.parse_args(argv)
    paths = import_lerobot(args.dataset, args.out, sim=args.sim, compress=args.compress)
    print(f"{len(paths)} episodes written to {args.out}")


if __name__ == "__main__":
    export_main()
