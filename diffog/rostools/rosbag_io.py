"""Rosbag2 (MCAP) recording and reading on `rosbags`, without ROS: messages travel as CDR bytes, so the ROS
nodes hand over what rclpy serialized and the analysis reads bags anywhere. Our interfaces (diffog_msgs,
interbotix_xs_msgs) are registered from their .msg files so every bag carries full message definitions.

A bag is only readable once closed (MCAP summary and footer, metadata.yaml): `BagRecorder.close` runs once, with
SIGINT / SIGTERM held back until it is done (`signals_deferred`), and nodes that write bags or episodes stop on
the first signal and ignore the next ones (`interrupt_once`): `ros2 launch` without a terminal sends SIGINT twice.
"""
from __future__ import annotations

import contextlib
import os
import pathlib
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import yaml
from rosbags.rosbag2 import Reader, StoragePlugin, Writer
from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore

from diffog import REPO_ROOT

INTERFACE_PACKAGES = ("diffog_msgs", "interbotix_xs_msgs")


SHUTDOWN_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def signals_deferred(signums: Iterable[int] = SHUTDOWN_SIGNALS) -> Iterator[None]:
    """Hold SIGINT / SIGTERM back while the block runs (a KeyboardInterrupt halfway through writing a file leaves it
    unreadable), then hand each one that came to the handler installed before. Python runs signal handlers in the
    main thread only, so elsewhere this does nothing: the signal interrupts the main thread, not this block."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = {}
    for signum in signums:
        previous[signum] = signal.signal(signum, lambda n, frame: caught.append(n))
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)
        for signum in dict.fromkeys(caught):
            handler = previous[signum]
            if callable(handler):
                handler(signum, None)
            elif handler in (signal.SIG_DFL, None):
                signal.raise_signal(signum)


def interrupt_once(signums: Iterable[int] = SHUTDOWN_SIGNALS, *, first_raises: bool = True,
                   on_first: Callable[[], object] | None = None) -> None:
    """The first SIGINT / SIGTERM raises KeyboardInterrupt (when `first_raises`), later ones are ignored, so the
    shutdown that follows (closing bags and episode files) runs to its end. A ROS node calls it in the main thread
    before rclpy.init with first_raises=False: rclpy's handlers, which shut the context down (the executor then
    stops), chain to this one, and no KeyboardInterrupt can cut into the node's destroy_node."""
    signums = tuple(signums)

    def handler(signum, frame):
        for s in signums:  # SIG_IGN, not a Python handler: it holds through the interpreter's exit too
            signal.signal(s, signal.SIG_IGN)
        if on_first is not None:  # e.g. rclpy.try_shutdown: stop spinning even if rclpy's own handler did not run
            on_first()
        if first_raises:
            raise KeyboardInterrupt
    for signum in signums:
        signal.signal(signum, handler)


def project_typestore() -> Typestore:
    """ROS 2 Kilted's standard types plus this workspace's message definitions."""
    store = get_typestore(Stores.ROS2_KILTED)
    types = {}
    for pkg in INTERFACE_PACKAGES:
        for msg in sorted((REPO_ROOT / "ros2_ws" / "src" / pkg / "msg").glob("*.msg")):
            types.update(get_types_from_msg(msg.read_text(), f"{pkg}/msg/{msg.stem}"))
    store.register(types)
    return store


class BagRecorder:
    """Writes one MCAP rosbag2 directory; refuses an existing path (never overwrites a recording). `close` may be
    called any number of times; the first finishes the bag, shielded from SIGINT / SIGTERM."""

    def __init__(self, path: str | os.PathLike, typestore: Typestore | None = None, humble: bool = False):
        """humble: write metadata.yaml as Humble's rosbag2 reads it (ALOHA 2 runs Humble), see `humble_metadata`."""
        self.path, self.humble = pathlib.Path(path), humble
        if self.path.exists():
            raise FileExistsError(f"{self.path} exists; a recording is never overwritten")
        self.typestore = typestore or project_typestore()
        self._writer = Writer(self.path, version=9, storage_plugin=StoragePlugin.MCAP)
        self._writer.open()
        self._connections = {}
        self.count = 0
        self._close_lock = threading.Lock()
        self.closed = False

    def add_topic(self, topic: str, msgtype: str) -> None:
        """Declare a topic before writing to it; `msgtype` as ROS names it (sensor_msgs/msg/JointState)."""
        if topic in self._connections:
            return
        if msgtype not in self.typestore.fielddefs:
            raise KeyError(f"unknown message type {msgtype!r} for {topic}; not a standard or workspace type")
        self._connections[topic] = self._writer.add_connection(topic, msgtype, typestore=self.typestore)

    def write(self, topic: str, stamp_ns: int, data: bytes) -> None:
        if self.closed:
            raise RuntimeError(f"bag {self.path} is closed")
        self._writer.write(self._connections[topic], stamp_ns, data)
        self.count += 1

    def close(self) -> None:
        """Write the MCAP summary and footer and metadata.yaml, once."""
        with self._close_lock, signals_deferred():
            if self.closed:
                return
            self.closed = True
            self._writer.close()
            if self.humble:
                meta = self.path / "metadata.yaml"
                meta.write_text(yaml.safe_dump(humble_metadata(yaml.safe_load(meta.read_text())), sort_keys=False))

    def __enter__(self) -> "BagRecorder":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


HUMBLE_METADATA_VERSION = 5


def humble_metadata(meta: dict) -> dict:
    """rosbag2 metadata (version 8/9, Jazzy and later) in the form Humble's rosbag2 decodes: version 5, each
    topic's offered_qos_profiles as a YAML string (Humble's type; '' = none) and no type_description_hash,
    ros_distro or custom_data (fields Humble does not have). The MCAP file itself is the same."""
    info = dict(meta["rosbag2_bagfile_information"])
    info["version"] = HUMBLE_METADATA_VERSION
    for key in ("ros_distro", "custom_data"):
        info.pop(key, None)
    topics = []
    for entry in info.get("topics_with_message_count", []):
        topic = {k: v for k, v in entry["topic_metadata"].items() if k != "type_description_hash"}
        qos = topic.get("offered_qos_profiles", "")
        topic["offered_qos_profiles"] = qos if isinstance(qos, str) else (yaml.safe_dump(qos) if qos else "")
        topics.append({**entry, "topic_metadata": topic})
    info["topics_with_message_count"] = topics
    return {"rosbag2_bagfile_information": info}


@dataclass(frozen=True)
class BagMessage:
    topic: str
    msgtype: str
    stamp_ns: int  # when it was recorded
    data: bytes    # CDR, as published


def read_bag(path: str | os.PathLike, topics: Iterable[str] | None = None) -> Iterator[BagMessage]:
    """Messages in recording order, optionally only those on `topics`."""
    wanted = None if topics is None else set(topics)
    with Reader(path) as reader:
        conns = [c for c in reader.connections if wanted is None or c.topic in wanted]
        if not conns:  # rosbags reads every connection when given none
            return
        for conn, stamp, data in reader.messages(connections=conns):
            yield BagMessage(conn.topic, conn.msgtype, stamp, bytes(data))


def bag_topics(path: str | os.PathLike) -> dict[str, str]:
    with Reader(path) as reader:
        return {c.topic: c.msgtype for c in reader.connections}


def command_series(path: str | os.PathLike, topic: str, typestore: Typestore | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(times s, values (N, k)) of a JointGroupCommand / JointSingleCommand topic in a bag."""
    store = typestore or project_typestore()
    times, values = [], []
    for m in read_bag(path, [topic]):
        msg = store.deserialize_cdr(m.data, m.msgtype)
        times.append(m.stamp_ns * 1e-9)
        values.append(np.atleast_1d(np.asarray(msg.cmd, dtype=np.float64)))
    return np.asarray(times), np.asarray(values).reshape(len(values), -1)


def compare_series(t_ref: np.ndarray, ref: np.ndarray, t_new: np.ndarray, new: np.ndarray) -> dict[str, float]:
    """How far a replayed command series is from the recorded one: the recorded series is interpolated at the
    replayed times (over their overlap); RMS and max absolute difference over every dim."""
    if len(t_ref) < 2 or len(t_new) == 0:
        raise ValueError("need at least two recorded and one replayed command to compare")
    inside = (t_new >= t_ref[0]) & (t_new <= t_ref[-1])
    if not inside.any():
        raise ValueError("the replayed commands do not overlap the recorded ones in time")
    ref_at = np.stack([np.interp(t_new[inside], t_ref, ref[:, j]) for j in range(ref.shape[1])], axis=1)
    diff = new[inside] - ref_at
    return {"rms": float(np.sqrt(np.mean(diff ** 2))), "max_abs": float(np.abs(diff).max()),
            "n": int(inside.sum())}
