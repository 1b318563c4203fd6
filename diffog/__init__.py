"""DiffOG ALOHA core: everything that is not ROS.

Subpackages: refine (the DiffOG QP layer and baselines), policy (Diffusion Policy), data (ALOHA HDF5 I/O and
datasets), training, sim (MuJoCo ALOHA tasks), hardware (robot backends). Nothing here imports rclpy or
any ROS message package; the nodes in ros2_ws/ wrap these classes.
"""

__version__ = "0.1.0"
