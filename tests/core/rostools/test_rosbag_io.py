import numpy as np
import pytest

from diffog.rostools.rosbag_io import (BagRecorder, bag_topics, command_series, compare_series, project_typestore,
                                      read_bag)


@pytest.fixture(scope="module")
def store():
    return project_typestore()


def test_commands_round_trip_through_an_mcap_bag(tmp_path, store):
    Cmd = store.types["interbotix_xs_msgs/msg/JointGroupCommand"]
    path = tmp_path / "run"
    with BagRecorder(path, store) as bag:
        bag.add_topic("/follower_left/commands/joint_group", "interbotix_xs_msgs/msg/JointGroupCommand")
        bag.add_topic("/policy/action_chunk", "diffog_msgs/msg/ActionChunk")
        for k in range(5):
            msg = Cmd(name="arm", cmd=np.full(6, k, dtype=np.float32))
            data = store.serialize_cdr(msg, Cmd.__msgtype__)
            bag.write("/follower_left/commands/joint_group", 10**9 + k * 20_000_000, data)
    assert next(path.glob("*.mcap")).stat().st_size > 0
    assert bag_topics(path)["/policy/action_chunk"] == "diffog_msgs/msg/ActionChunk"
    t, v = command_series(path, "/follower_left/commands/joint_group", store)
    np.testing.assert_allclose(t, 1.0 + 0.02 * np.arange(5))
    np.testing.assert_allclose(v[:, 0], np.arange(5))
    assert [m.topic for m in read_bag(path, ["/nothing"])] == []
    with pytest.raises(FileExistsError):
        BagRecorder(path, store)


def test_unknown_types_are_refused(tmp_path, store):
    with BagRecorder(tmp_path / "b", store) as bag, pytest.raises(KeyError, match="unknown message type"):
        bag.add_topic("/x", "nope_msgs/msg/Nothing")


def test_compare_interpolates_the_recording_at_the_replayed_times():
    t_ref = np.array([0.0, 1.0, 2.0])
    ref = np.array([[0.0], [1.0], [2.0]])
    out = compare_series(t_ref, ref, np.array([0.5, 1.5, 3.0]), np.array([[0.5], [1.7], [9.0]]))
    assert out["n"] == 2 and out["max_abs"] == pytest.approx(0.2)
    assert out["rms"] == pytest.approx(np.sqrt(0.02))
    with pytest.raises(ValueError, match="overlap"):
        compare_series(t_ref, ref, np.array([5.0]), np.array([[0.0]]))


def test_close_runs_once_and_a_signal_meanwhile_waits_for_it(tmp_path, store):
    import signal

    from rosbags.rosbag2 import Reader
    # Python's own Ctrl-C handler, whatever an earlier test in this process installed
    earlier = signal.signal(signal.SIGINT, signal.default_int_handler)
    bag = BagRecorder(tmp_path / "b", store)
    bag.add_topic("/x", "std_msgs/msg/String")
    bag.write("/x", 1, store.serialize_cdr(store.types["std_msgs/msg/String"](data="hi"), "std_msgs/msg/String"))
    close = bag._writer.close

    def interrupted_close():  # Ctrl-C arrives halfway through writing the summary
        signal.raise_signal(signal.SIGINT)
        close()
    bag._writer.close = interrupted_close
    with pytest.raises(KeyboardInterrupt):  # delivered, but only once the bag is whole
        bag.close()
    bag.close()  # again: nothing happens
    assert (tmp_path / "b" / "metadata.yaml").exists()
    with Reader(tmp_path / "b") as reader:
        assert reader.message_count == 1
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    signal.signal(signal.SIGINT, earlier)


def test_humble_compatible_bags_carry_metadata_humble_decodes(tmp_path, store):
    import yaml

    Cmd = store.types["interbotix_xs_msgs/msg/JointGroupCommand"]
    with BagRecorder(tmp_path / "h", store, humble=True) as bag:
        bag.add_topic("/cmd", "interbotix_xs_msgs/msg/JointGroupCommand")
        bag.write("/cmd", 10**9, store.serialize_cdr(Cmd(name="arm", cmd=np.zeros(6, np.float32)), Cmd.__msgtype__))
    info = yaml.safe_load((tmp_path / "h" / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert info["version"] == 5 and "ros_distro" not in info
    [entry] = info["topics_with_message_count"]
    assert entry["message_count"] == 1 and isinstance(entry["topic_metadata"]["offered_qos_profiles"], str)
    assert "type_description_hash" not in entry["topic_metadata"]
    assert len(list(read_bag(tmp_path / "h"))) == 1  # rosbags reads it too
