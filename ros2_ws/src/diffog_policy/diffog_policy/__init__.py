"""ROS 2 nodes of the DiffOG stack. Each node is a thin shell over a tested class of the diffog core."""
