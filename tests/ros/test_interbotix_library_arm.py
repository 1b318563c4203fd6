"""The interbotix_xs_modules backend against an in-test double of the library, injected into sys.modules: each
of our Arm calls must land on the library call that does the same thing, with the arguments the real source takes
(Interbotix/interbotix_ros_toolboxes xs_robot/core.py, xs_robot/arm.py, common_robot/robot.py; Interbotix/aloha)."""
import sys
import threading
import types

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy", reason="run through `make test` (needs env.sh)")
from builtin_interfaces.msg import Time  # noqa: E402
from sensor_msgs.msg import JointState  # noqa: E402

from diffog.robot import load_robot_description  # noqa: E402
from diffog.hardware.robot import RobotError  # noqa: E402
from diffog_policy.interbotix_arm import InterbotixArm  # noqa: E402
from diffog_policy.interbotix_library_arm import InterbotixLibraryArm, make_xs_arms  # noqa: E402

pytestmark = pytest.mark.ros
NAMES = ["waist", "shoulder", "elbow", "forearm_roll", "wrist_angle", "wrist_rotate", "gripper", "left_finger",
         "right_finger"]
LIMIT = 3.0  # rad: the double refuses arm goals beyond it, as set_joint_positions does outside group_info limits


class FakeClock:
    def __init__(self):
        self.ns = 1_700_000_000 * 10**9

    def now(self):
        return types.SimpleNamespace(nanoseconds=self.ns)


class FakeRobotNode:
    """common_robot/robot.py InterbotixRobotNode: the library's node (only its clock is used by our backend)."""

    def __init__(self, node_name):
        self.node_name, self.clock = node_name, FakeClock()

    def get_clock(self):
        return self.clock


class FakeLibrary:
    """Records, in one ordered list, every call our backend makes into the library."""

    def __init__(self, exit_on=()):
        self.calls, self.bots, self.node, self.exit_on = [], {}, None, set(exit_on)
        lib = self

        class Core:  # xs_robot/core.py InterbotixRobotXSCore, same parameter names and defaults
            def __init__(self, name):
                self.name, self.js_mutex, self.joint_states = name, threading.Lock(), None

            def robot_torque_enable(self, cmd_type, name, enable):
                lib.calls.append((self.name, "robot_torque_enable", cmd_type, name, enable))

            def robot_set_operating_modes(self, cmd_type, name, mode, profile_type="velocity", profile_velocity=0,
                                          profile_acceleration=0):
                lib.calls.append((self.name, "robot_set_operating_modes", cmd_type, name, mode, profile_type))

            def robot_reboot_motors(self, cmd_type, name, enable, smart_reboot=False):
                lib.calls.append((self.name, "robot_reboot_motors", cmd_type, name, enable, smart_reboot))

            def robot_write_joint_command(self, joint_name, command):
                lib.calls.append((self.name, "robot_write_joint_command", joint_name, command))

        class ArmInterface:  # xs_robot/arm.py InterbotixArmXSInterface
            def __init__(self, name):
                self.name = name

            def set_joint_positions(self, joint_positions, moving_time=None, accel_time=None, blocking=True):
                ok = all(abs(x) <= LIMIT for x in joint_positions)
                lib.calls.append((self.name, "set_joint_positions", list(joint_positions), blocking, ok))
                return ok

        class InterbotixManipulatorXS:  # xs_robot/arm.py, as Interbotix/aloha real_env.py constructs it
            def __init__(self, robot_model, group_name="arm", gripper_name="gripper", robot_name=None,
                         moving_time=2.0, accel_time=0.3, gripper_pressure=0.5, gripper_pressure_lower_limit=150,
                         gripper_pressure_upper_limit=350, topic_joint_states="joint_states",
                         logging_level=None, node_name="robot_manipulation", node=None, start_on_init=True,
                         iterative_update_fk=True, args=None):
                lib.calls.append((robot_name, "InterbotixManipulatorXS", robot_model, group_name, gripper_name,
                                  node, iterative_update_fk))
                if robot_name in lib.exit_on:
                    raise SystemExit(1)  # core.py: no xs_sdk services under the namespace
                self.core, self.arm = Core(robot_name), ArmInterface(robot_name)
                lib.bots[robot_name] = self

        def create_interbotix_global_node(node_name="interbotix_robot_manipulation", namespace=None):
            lib.node = FakeRobotNode(node_name)
            lib.calls.append((None, "create_interbotix_global_node", node_name))
            return lib.node

        def robot_startup(node=None, node_name="interbotix_robot_manipulation", namespace=None):
            lib.calls.append((None, "robot_startup", node))

        self.modules = {
            "interbotix_xs_modules": types.ModuleType("interbotix_xs_modules"),
            "interbotix_xs_modules.xs_robot": types.ModuleType("interbotix_xs_modules.xs_robot"),
            "interbotix_xs_modules.xs_robot.arm": types.ModuleType("interbotix_xs_modules.xs_robot.arm"),
            "interbotix_common_modules": types.ModuleType("interbotix_common_modules"),
            "interbotix_common_modules.common_robot": types.ModuleType("interbotix_common_modules.common_robot"),
            "interbotix_common_modules.common_robot.robot":
                types.ModuleType("interbotix_common_modules.common_robot.robot"),
        }
        self.modules["interbotix_xs_modules.xs_robot.arm"].InterbotixManipulatorXS = InterbotixManipulatorXS
        robot = self.modules["interbotix_common_modules.common_robot.robot"]
        robot.create_interbotix_global_node, robot.robot_startup = create_interbotix_global_node, robot_startup
        robot.InterbotixRobotNode = FakeRobotNode

    def install(self, monkeypatch):
        for name, module in self.modules.items():
            monkeypatch.setitem(sys.modules, name, module)
        return self


class Log:
    def __init__(self):
        self.lines = []

    def info(self, msg, **_):
        self.lines.append(msg)


@pytest.fixture
def node(monkeypatch):
    ctx = rclpy.Context()
    rclpy.init(context=ctx)
    n = rclpy.create_node("library_arm_test", context=ctx)
    log = Log()
    monkeypatch.setattr(n, "get_logger", lambda: log)
    yield n
    n.destroy_node()
    rclpy.shutdown(context=ctx)


def joint_states(stamp_ns, names=NAMES):
    msg = JointState(name=names, position=[0.1, -0.9, 1.1, 0.0, -0.3, 0.0, 0.5, 0.03822, -0.03822][:len(names)],
                     velocity=[0.0] * len(names), effort=[12.0] * len(names))
    msg.header.stamp = Time(sec=stamp_ns // 10**9, nanosec=stamp_ns % 10**9)
    return msg


def test_library_selected_built_in_alohas_order_and_calls_map(monkeypatch, node):
    lib = FakeLibrary().install(monkeypatch)
    arms = make_xs_arms(node, ["leader_left", "follower_left"], load_robot_description())
    assert all(isinstance(a, InterbotixLibraryArm) for a in arms.values())
    assert "interbotix_xs_modules" in node.get_logger().lines[-1]
    # one library node for every arm, every arm built before robot_startup (dual_side_teleop.py main)
    assert lib.calls == [(None, "create_interbotix_global_node", "diffog_interbotix"),
                         ("leader_left", "InterbotixManipulatorXS", "wx250s", "arm", "gripper", lib.node, False),
                         ("follower_left", "InterbotixManipulatorXS", "vx300s", "arm", "gripper", lib.node, False),
                         (None, "robot_startup", lib.node)]
    assert lib.node is not node

    lib.calls.clear()
    arm = arms["follower_left"]
    arm.command_arm(np.array([0.1, -0.9, 1.1, 0.0, -0.3, 0.2]))
    arm.command_gripper(np.float64(0.75))
    arm.set_torque(False, "arm")
    arm.set_torque(True, "gripper")
    arm.set_operating_mode("current_based_position", "gripper")
    arm.set_operating_mode("position")
    arm.reboot("gripper", enable_torque=True)
    arm.reboot("elbow")
    assert lib.calls == [
        ("follower_left", "set_joint_positions", [0.1, -0.9, 1.1, 0.0, -0.3, 0.2], False, True),
        ("follower_left", "robot_write_joint_command", "gripper", 0.75),
        ("follower_left", "robot_torque_enable", "group", "arm", False),
        ("follower_left", "robot_torque_enable", "single", "gripper", True),
        ("follower_left", "robot_set_operating_modes", "single", "gripper", "current_based_position", "velocity"),
        ("follower_left", "robot_set_operating_modes", "group", "all", "position", "velocity"),
        ("follower_left", "robot_reboot_motors", "single", "gripper", True, False),
        ("follower_left", "robot_reboot_motors", "single", "elbow", False, False),
    ]
    assert {type(x) for x in lib.calls[0][2]} == {float} and type(lib.calls[1][3]) is float  # not numpy scalars


def test_bad_commands_send_nothing_and_refusals_raise(monkeypatch, node):
    lib = FakeLibrary().install(monkeypatch)
    arm = make_xs_arms(node, ["follower_right"], load_robot_description())["follower_right"]
    lib.calls.clear()
    with pytest.raises(ValueError, match="non-finite"):
        arm.command_arm([0.0, np.nan, 0.0, 0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="expected 6"):
        arm.command_arm([0.0] * 7)
    with pytest.raises(ValueError, match="non-finite"):
        arm.command_gripper(float("inf"))
    with pytest.raises(ValueError, match="unknown joint"):
        arm.set_torque(True, "elbo")
    with pytest.raises(ValueError, match="unknown joint"):
        arm.reboot("wrist")
    assert lib.calls == []
    with pytest.raises(RobotError, match="refused"):  # the library published nothing
        arm.command_arm([4.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    assert lib.calls == [("follower_right", "set_joint_positions", [4.0, 0.0, 0.0, 0.0, 0.0, 0.0], False, False)]


def test_read_maps_joint_states_and_refuses_stale_or_incomplete(monkeypatch, node):
    lib = FakeLibrary().install(monkeypatch)
    arm = make_xs_arms(node, ["follower_left"], load_robot_description())["follower_left"]
    core, clock = lib.bots["follower_left"].core, lib.node.clock
    with pytest.raises(RobotError, match="no joint_states"):
        arm.read()
    core.joint_states = joint_states(clock.ns - 50_000_000)
    s = arm.read()
    np.testing.assert_allclose(s.position, [0.1, -0.9, 1.1, 0.0, -0.3, 0.0, 0.5])
    np.testing.assert_allclose(s.effort, [12.0] * 7)
    assert s.finger_position == pytest.approx(0.03822)
    assert s.stamp == pytest.approx(clock.ns * 1e-9 - 0.05)
    clock.ns += 10**9  # the xs_sdk went quiet for a second
    with pytest.raises(RobotError, match="old"):
        arm.read()
    core.joint_states = joint_states(clock.ns, names=NAMES[:5])
    with pytest.raises(RobotError, match="lacks joints"):
        arm.read()


def test_missing_xs_sdk_is_a_robot_error_not_an_exit(monkeypatch, node):
    lib = FakeLibrary(exit_on={"leader_right"}).install(monkeypatch)
    with pytest.raises(RobotError, match="no xs_sdk services under /leader_right"):
        make_xs_arms(node, ["leader_right"], load_robot_description())
    assert (None, "robot_startup", lib.node) not in lib.calls


def test_unknown_arm_is_refused_before_the_library_starts(monkeypatch, node):
    lib = FakeLibrary().install(monkeypatch)
    with pytest.raises(ValueError, match="unknown arms"):
        make_xs_arms(node, ["follower_middle"], load_robot_description())
    assert lib.calls == []


@pytest.mark.parametrize("missing", ["interbotix_xs_modules",  # not installed
                                     "interbotix_common_modules.common_robot.robot"])  # pre-2024 API, no node=
def test_topics_backend_when_the_library_does_not_import(monkeypatch, node, missing):
    lib = FakeLibrary()
    for name in lib.modules:
        monkeypatch.setitem(sys.modules, name, None if name.startswith(missing) else lib.modules[name])  # no import
    assert make_xs_arms(node, [], load_robot_description()) == {}
    arms = make_xs_arms(node, ["follower_left", "follower_right"], load_robot_description())
    assert [type(a) for a in arms.values()] == [InterbotixArm, InterbotixArm]
    assert "xs_sdk topics" in node.get_logger().lines[-1]
    assert "interbotix_xs_modules" in node.get_logger().lines[-1]
