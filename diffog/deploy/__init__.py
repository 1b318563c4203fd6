"""Runtime of the deployed policy, ROS-free: observation matching, refiner choice, chunk streaming, safety,
latency accounting, the node-graph runner and rosbag helpers. The ROS node in diffog_policy is a shell over it."""
