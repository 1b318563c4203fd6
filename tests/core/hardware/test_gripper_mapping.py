"""The gripper mapping reproduces ALOHA's constants.py functions with the constants of aloha.yaml."""
import pytest

from diffog.config import load_robot_description
from diffog.hardware.gripper import GripperMapping

# tonyzhaozh/aloha aloha_scripts/constants.py
MASTER_GRIPPER_POSITION_OPEN, MASTER_GRIPPER_POSITION_CLOSE = 0.02417, 0.01244
PUPPET_GRIPPER_POSITION_OPEN, PUPPET_GRIPPER_POSITION_CLOSE = 0.05800, 0.01844
MASTER_GRIPPER_JOINT_OPEN, MASTER_GRIPPER_JOINT_CLOSE = 0.3083, -0.6842
PUPPET_GRIPPER_JOINT_OPEN, PUPPET_GRIPPER_JOINT_CLOSE = 1.4910, -0.6213


def test_yaml_constants_are_alohas():
    g = load_robot_description()["gripper"]
    assert g["leader"] == {"position_open": MASTER_GRIPPER_POSITION_OPEN, "position_close": MASTER_GRIPPER_POSITION_CLOSE,
                           "joint_open": MASTER_GRIPPER_JOINT_OPEN, "joint_close": MASTER_GRIPPER_JOINT_CLOSE}
    assert g["follower"] == {"position_open": PUPPET_GRIPPER_POSITION_OPEN,
                             "position_close": PUPPET_GRIPPER_POSITION_CLOSE,
                             "joint_open": PUPPET_GRIPPER_JOINT_OPEN, "joint_close": PUPPET_GRIPPER_JOINT_CLOSE}


@pytest.mark.parametrize("leader_joint", [MASTER_GRIPPER_JOINT_CLOSE, -0.3, 0.0, MASTER_GRIPPER_JOINT_OPEN, 0.5])
def test_leader_to_follower_matches_master2puppet(leader_joint):
    m = GripperMapping.from_description()
    normalized = (leader_joint - MASTER_GRIPPER_JOINT_CLOSE) / (MASTER_GRIPPER_JOINT_OPEN - MASTER_GRIPPER_JOINT_CLOSE)
    puppet = normalized * (PUPPET_GRIPPER_JOINT_OPEN - PUPPET_GRIPPER_JOINT_CLOSE) + PUPPET_GRIPPER_JOINT_CLOSE
    assert m.leader_to_follower_joint(leader_joint) == pytest.approx(puppet)


def test_end_points_and_finger_normalization():
    m = GripperMapping.from_description()
    assert m.leader_to_follower_joint(MASTER_GRIPPER_JOINT_OPEN) == pytest.approx(PUPPET_GRIPPER_JOINT_OPEN)
    assert m.leader_to_follower_joint(MASTER_GRIPPER_JOINT_CLOSE) == pytest.approx(PUPPET_GRIPPER_JOINT_CLOSE)
    assert m.follower.position_to_normalized(PUPPET_GRIPPER_POSITION_OPEN) == pytest.approx(1.0)
    assert m.follower.position_to_normalized(0.03822) == pytest.approx(
        (0.03822 - PUPPET_GRIPPER_POSITION_CLOSE) / (PUPPET_GRIPPER_POSITION_OPEN - PUPPET_GRIPPER_POSITION_CLOSE))
    assert m.follower.velocity_to_normalized(0.01) == pytest.approx(0.01 / (0.058 - 0.01844))
    assert m.follower.normalized_to_joint(m.follower.joint_to_normalized(0.7)) == pytest.approx(0.7)
