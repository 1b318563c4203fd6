"""Runtime of the deployed policy, ROS-free: the deployed policy (checkpoint -> raw and refined chunks in the
robot's layout), its typed deployment config, observation matching, refiner choice, chunk streaming, latency
accounting and the controller that ties them to the safety filter. The ROS policy node is this behind topics.
May import: diffog.robot, diffog.refine, diffog.data, diffog.policy, diffog.hardware.
"""
