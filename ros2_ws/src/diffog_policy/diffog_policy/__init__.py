"""ROS 2 nodes of the DiffOG stack: policy, teleop, camera, recorder, bag record/play and the sim episode runner.
Each is a thin shell over a tested class of the diffog core, sharing node_common.py. May import: diffog (any
package), rclpy and the interface packages in package.xml; diffog never imports this package."""
