"""ALOHA bringup: the robot description (config/aloha.yaml), the installed launch files and graphs (share/
aloha_bringup/launch) and the sim node, which serves the real robot's interface from diffog.sim. May import:
diffog, rclpy and the interface packages in package.xml."""
