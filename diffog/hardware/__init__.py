"""Robot hardware: one robot interface (robot.py) with Dynamixel, Interbotix-topics and sim backends, the
leader-follower teleoperation logic, camera backends and the episode recorder core. Never imports ROS."""
