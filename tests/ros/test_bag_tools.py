"""A bag names its message types: only interface packages in the ament index are imported for them."""
import pytest

pytest.importorskip("rclpy")
from diffog_policy.bag_tools import message_class  # noqa: E402


def test_message_types_resolve_to_their_classes():
    from sensor_msgs.msg import JointState

    assert message_class("sensor_msgs/msg/JointState") is JointState
    assert message_class("diffog_msgs/msg/ActionChunk").__name__ == "ActionChunk"


@pytest.mark.parametrize("name", ["antigravity/msg/X", "os/msg/Path", "sensor_msgs/msg/NoSuchThing",
                                  "sensor_msgs/srv/SetCameraInfo", "subprocess", "a/b/c/d", "../msg/X"])
def test_a_bag_cannot_make_us_import_arbitrary_modules(name):
    import sys

    before = set(sys.modules)
    with pytest.raises(ValueError):
        message_class(name)
    assert not {"antigravity", "subprocess"} & (set(sys.modules) - before)
