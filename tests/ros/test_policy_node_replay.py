"""Open-loop replay through launch/graphs.yaml's `replay` graph: a recorded bag's observations are played (with
/clock) into the policy node and a bag recorder records what it sends, each node its own process. The policy's
commands must be finite, within the joint limits, and comparable by time with the recorded commands."""
import io

import numpy as np
import pytest

pytest.importorskip("rclpy", reason="run through `make test` (needs env.sh)")

from diffog.deploy.aloha_topics import AlohaTopics  # noqa: E402
from diffog.rostools.replay import command_topics, replay  # noqa: E402
from diffog.rostools.rosbag_io import BagRecorder, command_series, project_typestore, read_bag  # noqa: E402
from diffog.robot.safety import JointLimits  # noqa: E402
from tests.core.deploy.tiny_checkpoint import CAMERA, write_tiny_checkpoint  # noqa: E402

pytestmark = pytest.mark.ros
TOPICS = AlohaTopics.load()
T0_NS = 1_000 * 10**9  # recorded time: far from now, so only /clock makes these observations fresh


def write_observation_bag(path, seconds=4.0):
    """Both followers' joint_states at 50 Hz (slow waist sine), cam_high frames at 25 Hz, and the commands that
    drove them (arm group + gripper), as a recorded run holds them."""
    store = project_typestore()
    JointState, Image = store.types["sensor_msgs/msg/JointState"], store.types["sensor_msgs/msg/Image"]
    Group = store.types["interbotix_xs_msgs/msg/JointGroupCommand"]
    Single = store.types["interbotix_xs_msgs/msg/JointSingleCommand"]
    Header, Time = store.types["std_msgs/msg/Header"], store.types["builtin_interfaces/msg/Time"]
    names = [*TOPICS.arm_joints, "gripper", "left_finger", "right_finger"]
    with BagRecorder(path, store) as bag:
        joint_topics = {f: TOPICS.topic("joint_states", arm_ns=f) for f in TOPICS.followers}
        cam_topic = TOPICS.topic("camera_image", camera=CAMERA)
        for t in joint_topics.values():
            bag.add_topic(t, "sensor_msgs/msg/JointState")
        group_topics, single_topics = command_topics()[::2], command_topics()[1::2]
        for t in group_topics:
            bag.add_topic(t, Group.__msgtype__)
        for t in single_topics:
            bag.add_topic(t, Single.__msgtype__)
        bag.add_topic(cam_topic, "sensor_msgs/msg/Image")
        for k in range(int(seconds * 50)):
            ns = T0_NS + k * 20_000_000
            header = Header(stamp=Time(sec=ns // 10**9, nanosec=ns % 10**9), frame_id="")
            pos = np.array([0.2 * np.sin(k * 0.02), -0.96, 1.16, 0.0, -0.3, 0.0, 0.5, 0.04, -0.04])
            for topic in joint_topics.values():
                msg = JointState(header=header, name=names, position=pos, velocity=np.zeros(0), effort=np.zeros(0))
                bag.write(topic, ns, store.serialize_cdr(msg, JointState.__msgtype__))
            for topic in group_topics:
                bag.write(topic, ns, store.serialize_cdr(Group(name="arm", cmd=pos[:6].astype(np.float32)),
                                                         Group.__msgtype__))
            for topic in single_topics:
                bag.write(topic, ns, store.serialize_cdr(Single(name="gripper", cmd=0.0), Single.__msgtype__))
            if k % 2 == 0:
                img = Image(header=header, height=24, width=32, encoding="rgb8", is_bigendian=0, step=96,
                            data=np.full(24 * 32 * 3, k % 255, np.uint8))
                bag.write(cam_topic, ns, store.serialize_cdr(img, Image.__msgtype__))
    return path


def test_replayed_observations_give_finite_limit_respecting_commands(tmp_path):
    obs_bag = write_observation_bag(tmp_path / "recorded")
    ckpt = write_tiny_checkpoint(tmp_path / "tiny.pt")
    out = tmp_path / "replayed"
    log = io.StringIO()
    comparison = replay(obs_bag, str(ckpt), out, "diffog", timeout_s=150, log=log)
    text = log.getvalue()
    assert "played" in text and "wrote" in text, text

    limits = JointLimits.from_description()
    for f in TOPICS.followers:
        t, arm = command_series(out, TOPICS.topic("arm_group_command", arm_ns=f))
        assert len(arm) > 50, f"{f}: only {len(arm)} commands during a 4 s replay\n{text}"
        assert np.all(np.isfinite(arm)) and np.all((arm >= limits.lower[:6]) & (arm <= limits.upper[:6]))
        # stamped on the recorded timeline (/clock), so they line up with the recorded commands
        assert T0_NS * 1e-9 <= t[0] and t[-1] <= T0_NS * 1e-9 + 5
        _, grip = command_series(out, TOPICS.topic("gripper_command", arm_ns=f))
        g = TOPICS.gripper
        assert np.all((grip >= g.joint_close - 1e-6) & (grip <= g.joint_open + 1e-6))
    # every recorded command topic was compared over the overlap; a random policy does not track the recording
    assert set(comparison) == set(command_topics())
    assert all(c["n"] > 20 and np.isfinite(c["rms"]) and c["max_abs"] > 0 for c in comparison.values())
    store = project_typestore()
    chunks = [store.deserialize_cdr(m.data, m.msgtype) for m in read_bag(out, ["/policy/action_chunk"])]
    assert chunks and all(np.all(np.isfinite(c.refined_chunk)) for c in chunks)
    assert all(T0_NS <= c.header.stamp.sec * 10**9 + c.header.stamp.nanosec <= T0_NS + 4 * 10**9 for c in chunks)
