"""An MCAP rosbag2 per episode, next to the HDF5 file, of the topics the recorder hears (diffog.deploy's
BagRecorder on rosbags): messages are stored as the CDR bytes rclpy serializes, with full definitions."""
from __future__ import annotations

import pathlib
import shutil
import threading

from rclpy.serialization import serialize_message

from diffog.deploy.rosbag_io import BagRecorder


def type_name(msg_type) -> str:
    """'pkg/msg/Name' of an rclpy message class."""
    return f"{msg_type.__module__.split('.')[0]}/msg/{msg_type.__name__}"


class EpisodeBag:
    def __init__(self, directory: pathlib.Path):
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()  # callbacks arrive on several executor threads
        self._bag: BagRecorder | None = None

    def open(self, name: str) -> pathlib.Path:
        with self._lock:
            self._bag = BagRecorder(self.directory / name)
            return self._bag.path

    def write(self, topic: str, msg_type, msg, stamp_ns: int) -> None:
        with self._lock:
            if self._bag is not None:
                self._bag.add_topic(topic, type_name(msg_type))
                self._bag.write(topic, stamp_ns, serialize_message(msg))

    def close(self, keep: bool) -> None:
        with self._lock:
            if self._bag is None:
                return
            self._bag.close()
            if not keep:
                shutil.rmtree(self._bag.path, ignore_errors=True)
            self._bag = None
