"""LeRobot v3.0 export and import. `lerobot` itself is not installed here, so the checks read the dataset the way
LeRobot 0.6's loaders do (utils.py / io_utils.py load_info, load_tasks, load_episodes; feature_utils.py
get_hf_features_from_features, whose `datasets` features fix the parquet's Arrow schema), with pyarrow alone."""
import io
import json
import pathlib
import shutil

import cv2
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from diffog.data import lerobot_format
from diffog.data.aloha_hdf5 import read_episode, write_episode
from diffog.data.lerobot_format import export_lerobot, export_main, import_lerobot, import_main
from diffog.robot import load_robot_description

NAMES = load_robot_description().action_joint_names
LENGTHS = (7, 5)
STAT_KEYS = {"min", "max", "mean", "std", "count", "q01", "q10", "q50", "q90", "q99"}
DEFAULTS = {"timestamp": "float32", "frame_index": "int64", "episode_index": "int64", "index": "int64",
            "task_index": "int64"}


@pytest.fixture(scope="module")
def episode_dir(tmp_path_factory) -> pathlib.Path:
    d = tmp_path_factory.mktemp("episodes")
    rng = np.random.default_rng(0)
    for length in LENGTHS:
        qpos = np.cumsum(rng.normal(0, 0.05, (length, 14)), axis=0)
        images = {"cam_high": rng.integers(0, 256, (length, 6, 8, 3), dtype=np.uint8)}
        stamps = 1.7e9 + 0.02 * np.arange(length)
        write_episode(d, qpos, rng.normal(size=(length, 14)), rng.normal(size=(length, 14)), qpos + 0.01, images,
                      timestamps={"qpos": stamps, "action": stamps + 0.003, "cam_high": stamps - 0.01},
                      extras={"object_poses": rng.normal(size=(length, 7))}, sim=True,
                      metadata={"joint_names": NAMES, "task": "synthetic", "dt": 0.02, "robot": "aloha"})
    return d


@pytest.fixture(scope="module")
def dataset(episode_dir, tmp_path_factory) -> pathlib.Path:
    return export_lerobot(episode_dir, tmp_path_factory.mktemp("lerobot") / "ds")


# --- a reader after LeRobot's own ---------------------------------------------------------------------------------
def load_info(root):  # utils.load_info / DatasetInfo.__post_init__: shapes as tuples
    info = json.loads((root / "meta/info.json").read_text())
    for ft in info["features"].values():
        ft["shape"] = tuple(ft["shape"])
    return info


def hf_arrow_schema(features) -> pa.Schema:
    """get_hf_features_from_features, then the Arrow type `datasets` gives each: Image -> struct{bytes, path},
    Value(dtype) for shape (1,), Sequence(length=n, Value(dtype)) -> fixed-size list; video features skipped."""
    fields = []
    for key, ft in features.items():
        if ft["dtype"] == "video":
            continue
        if ft["dtype"] == "image":
            fields.append((key, pa.struct([("bytes", pa.binary()), ("path", pa.string())])))
        elif ft["shape"] == (1,):
            fields.append((key, pa.from_numpy_dtype(np.dtype(ft["dtype"]))))
        else:
            assert len(ft["shape"]) == 1, ft
            fields.append((key, pa.list_(pa.from_numpy_dtype(np.dtype(ft["dtype"])), ft["shape"][0])))
    return pa.schema(fields)


def load_tasks(root) -> dict[str, int]:  # pd.read_parquet: the pandas metadata names the index column "task"
    table = pq.read_table(root / "meta/tasks.parquet")
    index_columns = json.loads(table.schema.metadata[b"pandas"])["index_columns"]
    assert index_columns == ["task"]
    return dict(zip(table.column("task").to_pylist(), table.column("task_index").to_pylist()))


def load_episodes(root) -> list[dict]:  # io_utils.load_episodes: every file, no stats/ columns, by episode_index
    table = pa.concat_tables([pq.read_table(p) for p in sorted((root / "meta/episodes").glob("*/*.parquet"))])
    return sorted(table.select([c for c in table.column_names if not c.startswith("stats/")]).to_pylist(),
                  key=lambda e: e["episode_index"])


def load_data(root) -> pa.Table:  # load_nested_dataset(root / "data", features=...): cast to the declared schema
    schema = hf_arrow_schema(load_info(root)["features"])
    return pa.concat_tables([pq.read_table(p).cast(schema) for p in sorted((root / "data").glob("*/*.parquet"))])


# --- the export -----------------------------------------------------------------------------------------------------
def test_info_declares_the_aloha_features(dataset):
    info = load_info(dataset)
    assert list(info) == ["codebase_version", "fps", "features", "total_episodes", "total_frames", "total_tasks",
                          "chunks_size", "data_files_size_in_mb", "video_files_size_in_mb", "data_path",
                          "video_path", "robot_type", "splits"]  # DatasetInfo.to_dict() without tools
    assert info["codebase_version"] == "v3.0" and info["fps"] == 50 and info["robot_type"] == "aloha"
    assert (info["total_episodes"], info["total_frames"], info["total_tasks"]) == (2, sum(LENGTHS), 1)
    assert info["splits"] == {"train": "0:2"} and info["video_path"] is None
    assert info["data_path"] == "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
    feats = info["features"]
    for key in ("observation.state", "observation.velocity", "observation.effort", "action"):
        assert feats[key] == {"dtype": "float32", "shape": (14,), "names": NAMES}
    assert feats["observation.images.cam_high"] == {"dtype": "image", "shape": (6, 8, 3),
                                                    "names": ["height", "width", "channels"]}
    assert feats["observation.environment_state"]["shape"] == (7,)
    assert {k: feats[f"timestamps.{k}"]["dtype"] for k in ("qpos", "action", "cam_high")} == dict.fromkeys(
        ("qpos", "action", "cam_high"), "float64")
    assert list(feats)[-5:] == list(DEFAULTS)  # LeRobotDatasetMetadata.create: {**features, **DEFAULT_FEATURES}
    assert all(feats[k] == {"dtype": d, "shape": (1,), "names": None} for k, d in DEFAULTS.items())
    assert not [k for k in feats if "/" in k]  # _validate_feature_names


def test_parquet_schemas_are_what_lerobots_features_declare(dataset):
    info = load_info(dataset)
    expected = hf_arrow_schema(info["features"])
    files = sorted((dataset / "data").glob("*/*.parquet"))
    assert [f.relative_to(dataset).as_posix() for f in files] == ["data/chunk-000/file-000.parquet"]
    schema = pq.read_schema(files[0])
    assert schema.remove_metadata().equals(expected), (schema, expected)
    hf = json.loads(schema.metadata[b"huggingface"])["info"]["features"]  # what `datasets` embeds
    assert hf["observation.images.cam_high"] == {"_type": "Image"}
    assert hf["observation.state"] == {"feature": {"dtype": "float32", "_type": "Value"}, "length": 14,
                                       "_type": "List"}
    assert hf["index"] == {"dtype": "int64", "_type": "Value"}
    assert pq.read_metadata(files[0]).num_row_groups == len(LENGTHS)  # one row group per episode


def test_episodes_index_the_frames(dataset):
    episodes, data, tasks = load_episodes(dataset), load_data(dataset), load_tasks(dataset)
    assert tasks == {"synthetic": 0}
    assert [e["episode_index"] for e in episodes] == [0, 1]
    start = 0
    for ep, length in zip(episodes, LENGTHS):
        assert ep["length"] == length and ep["tasks"] == ["synthetic"]
        assert (ep["dataset_from_index"], ep["dataset_to_index"]) == (start, start + length)
        assert (ep["data/chunk_index"], ep["data/file_index"]) == (0, 0)
        assert (ep["meta/episodes/chunk_index"], ep["meta/episodes/file_index"]) == (0, 0)
        rows = data.slice(start, length).to_pydict()
        assert rows["index"] == list(range(start, start + length))
        assert rows["episode_index"] == [ep["episode_index"]] * length
        assert rows["frame_index"] == list(range(length)) and rows["task_index"] == [0] * length
        np.testing.assert_allclose(rows["timestamp"], np.arange(length) / 50, rtol=1e-6)
        start += length
    assert data.num_rows == start


def test_stats_cover_every_feature(dataset, episode_dir):
    info, stats = load_info(dataset), json.loads((dataset / "meta/stats.json").read_text())
    assert set(stats) == set(info["features"])
    for key, st in stats.items():
        assert set(st) == STAT_KEYS, key
        shape = (3, 1, 1) if info["features"][key]["dtype"] == "image" else info["features"][key]["shape"]
        assert all(np.shape(v) == shape for k, v in st.items() if k != "count"), key
    eps = [read_episode(p) for p in sorted(episode_dir.glob("episode_*.hdf5"))]
    qpos = np.concatenate([e.qpos for e in eps]).astype(np.float32)
    s = stats["observation.state"]
    assert s["count"] == [sum(LENGTHS)]
    np.testing.assert_array_equal(s["min"], qpos.min(0))
    np.testing.assert_array_equal(s["max"], qpos.max(0))
    np.testing.assert_allclose(s["mean"], qpos.mean(0), atol=1e-6)
    np.testing.assert_allclose(s["std"], qpos.std(0), atol=1e-5)
    assert np.all(np.array(s["q01"]) <= np.array(s["q99"]))
    pixels = np.concatenate([e.images["cam_high"] for e in eps]).reshape(-1, 3) / 255.0
    np.testing.assert_allclose(np.reshape(stats["observation.images.cam_high"]["mean"], 3), pixels.mean(0),
                               atol=1e-6)
    assert stats["index"]["max"] == [sum(LENGTHS) - 1]
    episode_columns = pq.read_schema(dataset / "meta/episodes/chunk-000/file-000.parquet").names
    assert {f"stats/{k}/{s}" for k in info["features"] for s in STAT_KEYS} <= set(episode_columns)


def test_images_decode_to_the_recorded_frames(dataset, episode_dir):
    data = load_data(dataset)
    first = read_episode(episode_dir / "episode_0.hdf5").images["cam_high"]
    cells = data.column("observation.images.cam_high").to_pylist()[:LENGTHS[0]]
    assert cells[0]["path"] == "frame-000000.png"
    decoded = np.stack([np.asarray(Image.open(io.BytesIO(c["bytes"])).convert("RGB")) for c in cells])
    assert decoded.shape == (LENGTHS[0], 6, 8, 3)
    np.testing.assert_array_equal(decoded, first)


def test_running_quantiles_match_numpy():
    x = np.random.default_rng(1).normal(size=(20000, 2))
    rs = lerobot_format.RunningQuantileStats()
    rs.update(x[:5000])
    rs.update(x[5000:] * 1.5)  # a wider range re-bins the histograms
    y = np.concatenate([x[:5000], x[5000:] * 1.5])
    st = rs.stats(len(y))
    np.testing.assert_allclose(st["q50"], np.quantile(y, 0.5, axis=0), atol=0.02)
    np.testing.assert_allclose(st["q99"], np.quantile(y, 0.99, axis=0), atol=0.05)
    np.testing.assert_allclose(st["std"], y.std(0), rtol=1e-6)


def test_a_full_data_file_rolls_over_to_the_next(episode_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(lerobot_format, "DATA_FILES_SIZE_IN_MB", 1e-9)
    out = export_lerobot(episode_dir, tmp_path / "ds")
    assert [(e["data/chunk_index"], e["data/file_index"]) for e in load_episodes(out)] == [(0, 0), (0, 1)]
    assert load_data(out).column("index").to_pylist() == list(range(sum(LENGTHS)))
    assert len(import_lerobot(out, tmp_path / "back")) == 2


# --- the import -----------------------------------------------------------------------------------------------------
def test_round_trip_gives_back_the_episodes(dataset, episode_dir, tmp_path):
    paths = import_lerobot(dataset, tmp_path / "back", sim=True)
    assert [p.name for p in paths] == ["episode_0.hdf5", "episode_1.hdf5"]
    for original, path in zip(sorted(episode_dir.glob("episode_*.hdf5")), paths):
        a, b = read_episode(original), read_episode(path)
        for name in ("qpos", "qvel", "effort", "action"):
            np.testing.assert_allclose(getattr(b, name), getattr(a, name), atol=1e-6, err_msg=name)
        np.testing.assert_array_equal(b.images["cam_high"], a.images["cam_high"])
        np.testing.assert_allclose(b.extras["object_poses"], a.extras["object_poses"], atol=1e-6)
        assert set(b.timestamps) == set(a.timestamps)
        assert all(np.array_equal(b.timestamps[k], a.timestamps[k]) for k in a.timestamps)
        assert b.sim and b.metadata["task"] == "synthetic" and b.metadata["joint_names"] == NAMES
        assert b.metadata["dt"] == pytest.approx(0.02)


def test_imports_an_mp4_video_feature(dataset, tmp_path):
    """A dataset as LeRobot records it by default: the camera as an mp4 under videos/ (mp4v here; LeRobot's AV1
    decodes where OpenCV's FFmpeg has the codec)."""
    root = tmp_path / "video_ds"
    shutil.copytree(dataset, root)
    info, key = json.loads((root / "meta/info.json").read_text()), "observation.images.cam_high"
    info["features"][key]["dtype"] = "video"
    info["video_path"] = "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
    (root / "meta/info.json").write_text(json.dumps(info, indent=4))
    data_path = root / "data/chunk-000/file-000.parquet"
    table = pq.read_table(data_path)
    frames = [np.asarray(Image.open(io.BytesIO(c["bytes"])).convert("RGB")).repeat(8, 0).repeat(8, 1)
              for c in table.column(key).to_pylist()]
    video = root / info["video_path"].format(video_key=key, chunk_index=0, file_index=0)
    video.parent.mkdir(parents=True)
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 50, (64, 48))
    if not writer.isOpened():
        pytest.skip("OpenCV here cannot write mp4v")
    for f in frames:
        writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    writer.release()
    pq.write_table(table.drop_columns([key]), data_path)
    ep_path = root / "meta/episodes/chunk-000/file-000.parquet"
    eps = pq.read_table(ep_path)
    starts = np.asarray(eps.column("dataset_from_index").to_pylist()) / 50
    for name, values in ((f"videos/{key}/chunk_index", [0, 0]), (f"videos/{key}/file_index", [0, 0]),
                         (f"videos/{key}/from_timestamp", starts.tolist()),
                         (f"videos/{key}/to_timestamp", (starts + np.array(LENGTHS) / 50).tolist())):
        eps = eps.append_column(name, pa.array(values))
    pq.write_table(eps, ep_path)
    second = read_episode(import_lerobot(root, tmp_path / "back")[1]).images["cam_high"]
    assert second.shape == (LENGTHS[1], 48, 64, 3)
    expected = np.stack(frames[LENGTHS[0]:]).astype(float)
    assert np.abs(second.astype(float) - expected).mean() < 12, "frames from the wrong place in the video"


def test_refuses_an_older_codebase_version(dataset, tmp_path):
    root = tmp_path / "old"
    shutil.copytree(dataset, root)
    info = json.loads((root / "meta/info.json").read_text())
    (root / "meta/info.json").write_text(json.dumps({**info, "codebase_version": "v2.1"}))
    with pytest.raises(ValueError, match="v2.1"):
        import_lerobot(root, tmp_path / "back")


# --- command lines --------------------------------------------------------------------------------------------------
def test_command_lines(episode_dir, tmp_path, capsys):
    export_main([str(episode_dir), "--out", str(tmp_path / "ds"), "--task", "stack the blocks", "--fps", "25"])
    info = load_info(tmp_path / "ds")
    assert info["fps"] == 25 and load_tasks(tmp_path / "ds") == {"stack the blocks": 0}
    with pytest.raises(FileExistsError):
        export_lerobot(episode_dir, tmp_path / "ds")
    import_main([str(tmp_path / "ds"), str(tmp_path / "back")])
    assert "2 episodes written" in capsys.readouterr().out
    assert read_episode(tmp_path / "back" / "episode_1.hdf5").metadata["task"] == "stack the blocks"
