"""The core package must stay importable and usable without ROS."""
import pathlib
import subprocess
import sys

import diffog

CORE = pathlib.Path(diffog.__file__).parent
ROS_MODULES = ("rclpy", "rosidl_runtime_py", "std_msgs", "sensor_msgs", "diffog_msgs", "launch", "launch_ros")


def test_importing_every_core_module_loads_no_ros_module():
    modules = sorted(
        ".".join(p.relative_to(CORE.parent).with_suffix("").parts).removesuffix(".__init__")
        for p in CORE.rglob("*.py")
    )
    assert "diffog" in modules
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        f"bad = [m for m in sys.modules if m.split('.')[0] in {ROS_MODULES!r}]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"core imported ROS modules: {out.stdout}"


def test_robot_description_gives_aloha_action_layout():
    from diffog.robot import load_robot_description

    names = load_robot_description().action_joint_names
    assert len(names) == 14 and names[6] == "left_gripper" and names[13] == "right_gripper"
    d = load_robot_description()
    for joint, lim in d.joint_limits.items():
        assert lim.lower < lim.upper, joint
