"""Test helper: the simulated followers on the real robot's topics, driven over ROS.

Steps diffog.sim's env at 50 Hz through the sim backend, publishes each follower's joint_states (xs_sdk names,
fingers included), applies the commands heard on the xs_sdk command topics, and itself sends a slow waist sine as
those commands (standing in for teleop). cam_high is a synthetic 24x32 image whose pixels hold the tick count
(a MuJoCo render costs ~0.15 s on this CPU, too slow for 50 Hz). Exits after --duration seconds.
"""
import argparse
import math
import time

import numpy as np
import rclpy
from interbotix_xs_msgs.msg import JointGroupCommand, JointSingleCommand
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Header

from diffog.config import load_robot_description
from diffog.hardware.robot import Arm
from diffog.hardware.sim_arm import SimRobot
from diffog.sim import make_env


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=60.0)
    args = parser.parse_args()
    d = load_robot_description()
    ros = d["ros_interface"]
    env = make_env("transfer_cube", seed=0)
    robot = SimRobot(env)
    rclpy.init()
    node = rclpy.create_node("sim_followers")
    arms = dict(zip(ros["followers"], robot.arms.values()))
    state_pubs, cmd_pubs = {}, {}
    for name, arm in arms.items():
        state_pubs[name] = node.create_publisher(JointState, ros["joint_states"].format(arm_ns=name), 10)
        cmd_pubs[name] = (node.create_publisher(JointGroupCommand, ros["arm_group_command"].format(arm_ns=name), 10),
                          node.create_publisher(JointSingleCommand, ros["gripper_command"].format(arm_ns=name), 10))
        node.create_subscription(JointGroupCommand, ros["arm_group_command"].format(arm_ns=name),
                                 lambda m, a=arm: a.command_arm(m.cmd), 10)
        node.create_subscription(JointSingleCommand, ros["gripper_command"].format(arm_ns=name),
                                 lambda m, a=arm: a.command_gripper(m.cmd), 10)
    image_pub = node.create_publisher(Image, ros["camera_image"].format(camera="cam_high"), 10)
    start_arm = list(d["start_pose"][:6])
    print("sim followers ready", flush=True)
    t0 = time.monotonic()
    k = 0
    while time.monotonic() - t0 < args.duration:
        k += 1
        for name, arm in arms.items():
            s = arm.read()
            stamp = node.get_clock().now().to_msg()
            half = s.finger_position
            state_pubs[name].publish(JointState(
                header=Header(stamp=stamp), name=[*Arm.JOINTS, "left_finger", "right_finger"],
                position=[*s.position, half, -half], velocity=[*s.velocity, s.finger_velocity, -s.finger_velocity],
                effort=[*s.effort, 0.0, 0.0]))
            arm_pub, grip_pub = cmd_pubs[name]
            target = start_arm.copy()
            target[0] = 0.3 * math.sin(2 * math.pi * 0.5 * (time.monotonic() - t0))
            arm_pub.publish(JointGroupCommand(name="arm", cmd=target))
            grip_pub.publish(JointSingleCommand(name="gripper", cmd=0.5))
        img = np.full((24, 32, 3), k % 256, np.uint8)
        msg = Image(height=img.shape[0], width=img.shape[1], encoding="rgb8", step=3 * img.shape[1],
                    data=np.ascontiguousarray(img).tobytes())
        msg.header.stamp = node.get_clock().now().to_msg()
        image_pub.publish(msg)
        rclpy.spin_once(node, timeout_sec=0.0)
        robot.step()
        next_tick = t0 + k * 0.02
        while (wait := next_tick - time.monotonic()) > 0:
            rclpy.spin_once(node, timeout_sec=wait)
    node.destroy_node()
    rclpy.shutdown()


if __name__ == "__main__":
    main()
