"""Tooling around ROS graphs without rclpy: start launch graphs as processes (`graphs` reads launch/graphs.yaml,
`graph_runner` starts a graph's nodes), read and write MCAP bags with `rosbags` (`rosbag_io`), and replay a bag
through the policy (`replay`). May import: diffog.robot, diffog.data, diffog.policy, diffog.deploy; the ROS
nodes and the launch files import it, never the other way round."""
