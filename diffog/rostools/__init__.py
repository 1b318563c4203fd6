"""Tooling around ROS graphs without rclpy: start launch graphs as processes (`graphs` reads launch/graphs.yaml,
`graph_runner` starts a graph's nodes), read and write MCAP bags with `rosbags` (`rosbag_io`), and replay a bag
through the policy (`replay`). May import: diffog.robot, diffog.data, diffog.policy, diffog.deploy; the ROS
nodes and the launch files import it, never the other way round."""
import os


def private_domain_id(salt: int = 0) -> int:
    """A ROS_DOMAIN_ID in 1..100 from this process's pid, for graphs that imitate the real robot's topics (the
    sim demo, the tests): they must never share a domain with a real robot's drivers, which use the user's
    domain (0 by default). 1..100 lies inside the range every RMW accepts."""
    return (os.getpid() + 7 * salt) % 100 + 1
