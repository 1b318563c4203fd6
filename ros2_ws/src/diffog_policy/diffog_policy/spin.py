"""The one way our nodes spin: until Ctrl-C or an external shutdown, then destroy the node and the context."""
import rclpy
from rclpy.executors import ExternalShutdownException, Executor
from rclpy.node import Node


def spin_until_shutdown(node: Node, executor: Executor | None = None) -> None:
    try:
        if rclpy.ok():  # a signal during start-up has already shut the context down
            executor.spin() if executor is not None else rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
