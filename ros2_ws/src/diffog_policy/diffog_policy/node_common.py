"""What every node of the stack does the same way: load the robot description its `robot_description` parameter
names, convert between ROS times and float seconds, call a service with a timeout, and spin (the nodes' main)."""
from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator

import rclpy
from builtin_interfaces.msg import Time as TimeMsg
from rclpy.executors import ExternalShutdownException, Executor, MultiThreadedExecutor
from rclpy.node import Node
from rclpy.time import Time

from diffog.robot import load_robot_description


# --- the robot description -----------------------------------------------------------------------------------------
def robot_description(parameter: str):
    """The robot description at the path in a node's `robot_description` parameter; "" = the shipped aloha.yaml."""
    return load_robot_description(parameter) if parameter else load_robot_description()


# --- time ------------------------------------------------------------------------------------------------------------
def clock_now_s(node: Node) -> float:
    """The node's clock (sim time with use_sim_time) in seconds."""
    return node.get_clock().now().nanoseconds * 1e-9


def stamp_to_s(stamp: TimeMsg) -> float:
    """A message stamp (builtin_interfaces/Time) in seconds."""
    return stamp.sec + stamp.nanosec * 1e-9


def stamp_from_s(seconds: float) -> TimeMsg:
    """Seconds as a message stamp, to the nearest nanosecond."""
    return Time(nanoseconds=round(seconds * 1e9)).to_msg()


# --- services --------------------------------------------------------------------------------------------------------
def call_service(client, request, timeout_s: float):
    """`client`'s answer to `request`, waiting up to `timeout_s` for the service to appear and again for the answer;
    TimeoutError when either runs out (the pending request is dropped). The client's node must be spun by an
    executor on another thread, which delivers the answer."""
    if not client.wait_for_service(timeout_sec=timeout_s):
        raise TimeoutError(f"service {client.srv_name} is not available")
    done = threading.Event()
    future = client.call_async(request)
    future.add_done_callback(lambda _: done.set())
    if not done.wait(timeout_s):
        client.remove_pending_request(future)
        raise TimeoutError(f"{client.srv_name} did not answer within {timeout_s} s")
    return future.result()


# --- spinning --------------------------------------------------------------------------------------------------------
def spin_until_shutdown(node: Node, executor: Executor | None = None) -> None:
    """Spin until Ctrl-C or an external shutdown, then destroy the node and the context."""
    try:
        if rclpy.ok():  # a signal during start-up has already shut the context down
            executor.spin() if executor is not None else rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except RuntimeError:
        # a signal shut the context down while the executor was taking a message: rclpy then fails the take
        # ("Unable to convert call argument") instead of ending the spin; that is a normal stop, anything else not
        if rclpy.ok():
            raise
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


def spin_main(make_node: Callable[[], Node], args=None, *, threads: int = 1,
              fatal: tuple[type[BaseException], ...] = (), logger: str = "") -> None:
    """A node's main: rclpy.init, build the node, spin it (on a MultiThreadedExecutor of `threads` threads when more
    than one) until shutdown. A constructor error of a `fatal` type is logged as fatal (on `logger`) and exits 1."""
    rclpy.init(args=args)
    try:
        node = make_node()
    except fatal as e:
        rclpy.logging.get_logger(logger or "node").fatal(str(e))
        rclpy.try_shutdown()
        raise SystemExit(1) from e
    except (KeyboardInterrupt, ExternalShutdownException):  # stopped while starting (a checkpoint loading)
        rclpy.try_shutdown()
        return
    executor = None
    if threads > 1:
        executor = MultiThreadedExecutor(num_threads=threads)
        executor.add_node(node)
    spin_until_shutdown(node, executor)


@contextlib.contextmanager
def spinning_in_background(node: Node, threads: int | None = None) -> Iterator[threading.Thread]:
    """`node` spun by a MultiThreadedExecutor (`threads` threads; None: one per CPU) on a background thread while
    the body works on this one; on leaving, the executor stops first (an executor still spinning at exit aborts the
    process), then the node is destroyed and the context shut down. Yields the spinning thread."""
    executor = MultiThreadedExecutor(num_threads=threads)
    executor.add_node(node)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    try:
        yield spinner
    finally:
        executor.shutdown()
        spinner.join(timeout=5.0)
        node.destroy_node()
        rclpy.try_shutdown()
