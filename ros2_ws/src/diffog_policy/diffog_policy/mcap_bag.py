"""An MCAP rosbag2 per episode, next to the HDF5 file, of the topics the recorder hears (diffog.rostools'
BagRecorder on rosbags): messages are stored as the CDR bytes rclpy serializes, with full definitions."""
from __future__ import annotations

import os
import pathlib
import shutil
import threading
import time

from rclpy.serialization import serialize_message

from diffog.rostools.rosbag_io import BagRecorder


def type_name(msg_type) -> str:
    """'pkg/msg/Name' of an rclpy message class."""
    return f"{msg_type.__module__.split('.')[0]}/msg/{msg_type.__name__}"


class EpisodeBag:
    """Records under a hidden name while the episode runs; `close` names it after the episode file or deletes it."""

    def __init__(self, directory: pathlib.Path):
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()  # callbacks arrive on several executor threads
        self._bag: BagRecorder | None = None

    def open(self) -> pathlib.Path:
        with self._lock:
            self._bag = BagRecorder(self.directory / f".recording.{os.getpid()}.{time.time_ns()}")
            return self._bag.path

    def write(self, topic: str, msg_type, msg, stamp_ns: int) -> None:
        with self._lock:
            if self._bag is not None:
                self._bag.add_topic(topic, type_name(msg_type))
                self._bag.write(topic, stamp_ns, serialize_message(msg))

    def close(self, name: str | None) -> pathlib.Path | None:
        """Finish the bag as `name` (the episode file's name without .hdf5), or delete it when None."""
        with self._lock:
            if self._bag is None:
                return None
            bag, self._bag = self._bag, None
            bag.close()
            if name is None:
                shutil.rmtree(bag.path, ignore_errors=True)
                return None
            target = self.directory / name
            bag.path.rename(target)  # a directory rename fails rather than replace a non-empty one
            return target
