"""DiffOG ALOHA core: everything that is not ROS.

Subpackages, lowest first (each imports only those below it; tests/core/test_layering.py): robot (description,
safety filter), refine (the DiffOG QP layer and baselines), data (ALOHA HDF5 I/O, datasets, recorder), hardware
(robot backends), policy (Diffusion Policy + DiffOG), sim (MuJoCo ALOHA tasks), deploy (the policy runtime),
rostools (launch graphs, bags), evaluation (sim evaluation), training. Nothing here imports rclpy or
any ROS message package; the nodes in ros2_ws/ wrap these classes.
"""

import pathlib

__version__ = "0.1.0"
REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
