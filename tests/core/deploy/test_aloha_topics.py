import numpy as np
import pytest

from diffog.deploy.aloha_topics import AlohaTopics, image_from_msg_fields


@pytest.fixture
def topics() -> AlohaTopics:
    return AlohaTopics.load()


def test_topic_names_and_slices_follow_aloha_yaml(topics):
    assert topics.topic("joint_states", arm_ns="follower_left") == "/follower_left/joint_states"
    assert topics.topic("camera_image", camera="cam_high") == "/cam_high/camera/color/image_rect_raw"
    assert topics.qpos_slices() == {"follower_left": slice(0, 7), "follower_right": slice(7, 14)}


def test_qpos_from_joint_states_in_any_order_and_gripper_normalized(topics):
    names = ["left_finger", "right_finger", "gripper", *reversed(topics.arm_joints)]
    positions = [0.058, -0.058, 0.3, 6.0, 5.0, 4.0, 3.0, 2.0, 1.0]
    q = topics.arm_qpos(names, positions)
    np.testing.assert_allclose(q, [1, 2, 3, 4, 5, 6, 1.0])  # finger fully open -> 1
    with pytest.raises(ValueError, match="waist"):
        topics.arm_qpos(names[:-1], positions[:-1])  # no waist
    with pytest.raises(ValueError, match="9 names but 8 velocity"):  # every field is checked, not only positions
        topics.arm_qpos(names, positions, velocities=positions[:-1])
    with pytest.raises(ValueError, match="non-finite effort"):
        topics.arm_qpos(names, positions, efforts=[float("nan")] * 9)


def test_gripper_command_unnormalizes_to_the_follower_joint(topics):
    arm, grip = topics.arm_command(np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.0]))
    assert arm == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    assert grip == pytest.approx(-0.6213)
    assert topics.arm_command(np.r_[np.zeros(6), 1.0])[1] == pytest.approx(1.4910)


def test_image_decoding_handles_bgr_and_row_padding():
    rgb = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    padded = np.zeros((2, 12), np.uint8)
    padded[:, :9] = rgb[..., ::-1].reshape(2, 9)
    np.testing.assert_array_equal(image_from_msg_fields("bgr8", 2, 3, 12, padded.tobytes()), rgb)
    np.testing.assert_array_equal(image_from_msg_fields("rgb8", 2, 3, 9, rgb.tobytes()), rgb)
    with pytest.raises(ValueError, match="encoding"):
        image_from_msg_fields("mono8", 2, 3, 3, bytes(6))
    with pytest.raises(ValueError, match="too small"):
        image_from_msg_fields("rgb8", 2, 3, 9, bytes(10))
    with pytest.raises(ValueError, match="empty image"):
        image_from_msg_fields("rgb8", 0, 3, 9, b"")
