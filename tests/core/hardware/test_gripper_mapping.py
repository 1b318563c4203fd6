"""The gripper mapping reproduces ALOHA's constants.py functions with the constants of aloha.yaml."""
import pytest

from diffog.hardware.robot import JOINT_STATE_NAMES
from diffog.robot import GripperConstants, load_robot_description

# tonyzhaozh/aloha aloha_scripts/constants.py
MASTER_GRIPPER_POSITION_OPEN, MASTER_GRIPPER_POSITION_CLOSE = 0.02417, 0.01244
PUPPET_GRIPPER_POSITION_OPEN, PUPPET_GRIPPER_POSITION_CLOSE = 0.05800, 0.01844
MASTER_GRIPPER_JOINT_OPEN, MASTER_GRIPPER_JOINT_CLOSE = 0.3083, -0.6842
PUPPET_GRIPPER_JOINT_OPEN, PUPPET_GRIPPER_JOINT_CLOSE = 1.4910, -0.6213


def test_yaml_constants_are_alohas():
    g = load_robot_description().gripper
    assert g.leader == GripperConstants(MASTER_GRIPPER_POSITION_OPEN, MASTER_GRIPPER_POSITION_CLOSE,
                                        MASTER_GRIPPER_JOINT_OPEN, MASTER_GRIPPER_JOINT_CLOSE)
    assert g.follower == GripperConstants(PUPPET_GRIPPER_POSITION_OPEN, PUPPET_GRIPPER_POSITION_CLOSE,
                                          PUPPET_GRIPPER_JOINT_OPEN, PUPPET_GRIPPER_JOINT_CLOSE)


@pytest.mark.parametrize("leader_joint", [MASTER_GRIPPER_JOINT_CLOSE, -0.3, 0.0, MASTER_GRIPPER_JOINT_OPEN, 0.5])
def test_leader_to_follower_matches_master2puppet(leader_joint):
    m = load_robot_description().gripper
    normalized = (leader_joint - MASTER_GRIPPER_JOINT_CLOSE) / (MASTER_GRIPPER_JOINT_OPEN - MASTER_GRIPPER_JOINT_CLOSE)
    puppet = normalized * (PUPPET_GRIPPER_JOINT_OPEN - PUPPET_GRIPPER_JOINT_CLOSE) + PUPPET_GRIPPER_JOINT_CLOSE
    assert m.leader_to_follower_joint(leader_joint) == pytest.approx(puppet)


def test_end_points_and_finger_normalization():
    m = load_robot_description().gripper
    assert m.leader_to_follower_joint(MASTER_GRIPPER_JOINT_OPEN) == pytest.approx(PUPPET_GRIPPER_JOINT_OPEN)
    assert m.leader_to_follower_joint(MASTER_GRIPPER_JOINT_CLOSE) == pytest.approx(PUPPET_GRIPPER_JOINT_CLOSE)
    assert m.follower.position_to_normalized(PUPPET_GRIPPER_POSITION_OPEN) == pytest.approx(1.0)
    assert m.follower.position_to_normalized(0.03822) == pytest.approx(
        (0.03822 - PUPPET_GRIPPER_POSITION_CLOSE) / (PUPPET_GRIPPER_POSITION_OPEN - PUPPET_GRIPPER_POSITION_CLOSE))
    assert m.follower.velocity_to_normalized(0.01) == pytest.approx(0.01 / (0.058 - 0.01844))
    assert m.follower.normalized_to_joint(m.follower.joint_to_normalized(0.7)) == pytest.approx(0.7)


def test_joint_state_fields_to_aloha_qpos_use_the_finger_like_aloha():
    import numpy as np

    from diffog.hardware.robot import arm_state_from_joint_state, to_aloha

    m = load_robot_description().gripper
    names = ["waist", "shoulder", "elbow", "forearm_roll", "wrist_angle", "wrist_rotate", "gripper", "left_finger",
             "right_finger"]
    pos = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.9, 0.03822, -0.03822]
    s = arm_state_from_joint_state(names[::-1], pos[::-1], [], [1.0] * 9, stamp=3.0)  # order does not matter
    qpos, qvel, effort = to_aloha({"left": s}, m.follower)
    assert qpos[:6].tolist() == pytest.approx(pos[:6]) and qvel.tolist() == [0.0] * 7 and effort.tolist() == [1.0] * 7
    assert qpos[6] == pytest.approx((0.03822 - PUPPET_GRIPPER_POSITION_CLOSE)
                                    / (PUPPET_GRIPPER_POSITION_OPEN - PUPPET_GRIPPER_POSITION_CLOSE))
    no_finger = arm_state_from_joint_state(names[:7], pos[:7], [0.0] * 7, [0.0] * 7, stamp=3.0)
    assert to_aloha({"left": no_finger}, m.follower)[0][6] == pytest.approx(m.follower.joint_to_normalized(0.9))
    with pytest.raises(ValueError, match="lacks joints"):
        arm_state_from_joint_state(names[1:], pos[1:], [], [], stamp=0.0)
    assert np.isfinite(qpos).all()


@pytest.mark.parametrize("fields, why", [
    ({"position": [0.0] * 8}, "9 names but 8 position"),
    ({"velocity": [0.0] * 3}, "9 names but 3 velocity"),
    ({"effort": [0.0] * 10}, "9 names but 10 effort"),
    ({"position": [0.0, float("nan"), *[0.0] * 7]}, r"non-finite position .*\['shoulder'\]"),
    ({"velocity": [float("inf")] * 9}, "non-finite velocity"),
    ({"effort": [0.0] * 8 + [float("-inf")]}, r"non-finite effort .*\['right_finger'\]"),
    ({"names": ["turret", *JOINT_STATE_NAMES[1:]]}, r"unknown joints \['turret'\]"),
    ({"names": ["waist", *JOINT_STATE_NAMES[:-1]]}, "names a joint twice"),
    ({"position": ["a"] * 9}, "not a list of numbers"),
])
def test_a_malformed_joint_state_is_one_clear_value_error(fields, why):
    """Whatever is wrong with a joint_states message, the one error type the nodes catch, saying what."""
    from diffog.hardware.robot import arm_state_from_joint_state

    msg = {"names": list(JOINT_STATE_NAMES), "position": [0.0] * 9, "velocity": [0.0] * 9, "effort": [], **fields}
    with pytest.raises(ValueError, match=why):
        arm_state_from_joint_state(msg["names"], msg["position"], msg["velocity"], msg["effort"], stamp=0.0)
