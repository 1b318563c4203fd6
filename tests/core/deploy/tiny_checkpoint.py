"""A randomly initialized, few-thousand-parameter policy checkpoint (qpos + one small camera, or qpos + object
poses; DiffOG layer) for deployment tests: real loading, DDIM sampling and refinement, none of the training cost.
It is a move_stack policy, so it commands the right arm only (7 of the robot's 14 joints)."""
import pathlib

import torch

from diffog.robot import load_robot_description
from diffog.data.normalizer import MinMaxNormalizer
from diffog.robot.safety import JointLimits
from diffog.policy.checkpoint import save_checkpoint
from diffog.policy.factory import build_policy
from diffog.training.config import compose_config

CAMERA = "cam_high"
IMAGE_SIZE = (24, 32)


def write_tiny_checkpoint(path: pathlib.Path, mode: str = "dataset", seed: int = 0,
                          object_pose_dim: int = 0) -> pathlib.Path:
    """An image policy (qpos + CAMERA), or with `object_pose_dim` a state policy (qpos + object_poses)."""
    torch.manual_seed(seed)
    inputs = ["policy.lowdim_keys=[qpos,object_poses]", "policy.cameras=[]"] if object_pose_dim else \
        ["policy.lowdim_keys=[qpos]", f"policy.cameras=[{CAMERA}]"]
    cfg = compose_config(["task=move_stack", "policy=tiny", *inputs, "policy.resnet_width=4",
                          f"policy.image_size=[{IMAGE_SIZE[0]},{IMAGE_SIZE[1]}]", "policy.num_inference_steps=2",
                          f"mode={mode}", "task.refine.bound=0.05"])
    robot = load_robot_description()
    names = robot.policy_joint_names(cfg.task.arms)
    index = robot.joint_indices(names)
    lim = JointLimits.from_description()
    lo, hi = torch.tensor(lim.lower[index] * 0.5), torch.tensor(lim.upper[index] * 0.5)
    hi[[i for i, n in enumerate(names) if n.endswith("gripper")]] = 1.0
    stats = {"action": (lo, hi), "qpos": (lo, hi)}
    if object_pose_dim:
        stats["object_poses"] = (-torch.ones(object_pose_dim), torch.ones(object_pose_dim))
    normalizer = MinMaxNormalizer(stats)
    policy = build_policy(cfg, normalizer, names)
    return save_checkpoint(path, weights=policy.state_dict(), normalizer_state=normalizer.state_dict(), config=cfg.to_dict(),
                           joint_names=names, robot=robot.robot)
