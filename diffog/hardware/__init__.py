"""Robot hardware, never importing ROS.

robot.py: the robot interface (`Arm`, ALOHA's 14-dim `Bimanual` view); backends dynamixel_arm.py (dynamixel-sdk,
tested against servo_bus_emulator.py on a pty) and sim_arm.py (drives a diffog.sim env handed to it); the
Interbotix xs_sdk backends speak ROS, so they live in ros2_ws/src/diffog_policy/diffog_policy/: interbotix_arm.py
(the xs_sdk topics) and interbotix_library_arm.py (interbotix_xs_modules, chosen when it imports). teleop.py:
leader-follower teleoperation; cameras.py: RealSense / OpenCV cameras (the sim node renders the sim's). May import: diffog.robot.
"""
