"""Diffusion Policy (conditional 1-D U-Net, ResNet-18/GroupNorm encoders, DDPM/DDIM via diffusers) with the
DiffOG layer on its action chunk: the model (DiffOGPolicy), its typed config (config.py), how it is built
(factory.py) and the checkpoint it is saved as. Running it on a robot is diffog.deploy's (DeployedPolicy).
May import: diffog.robot, diffog.refine, diffog.data.
"""
from diffog.policy.checkpoint import CheckpointError, read_checkpoint, save_checkpoint
from diffog.policy.config import PolicyConfig

__all__ = ["CheckpointError", "PolicyConfig", "read_checkpoint", "save_checkpoint"]
