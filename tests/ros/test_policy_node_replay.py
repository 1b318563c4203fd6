"""Open-loop replay through the graph runner: a bag of observations is played (with /clock) into the policy
node, a bag recorder records what it sends; each node is its own process, started from a graph + parameters
YAML like launch/graphs.yaml. The policy's commands must be finite and within the joint limits."""
import io

import numpy as np
import pytest

pytest.importorskip("rclpy", reason="run through `make test` (needs env.sh)")

from diffog.deploy.aloha_topics import AlohaTopics  # noqa: E402
from diffog.deploy.graph_runner import GraphProcess, load_graphs  # noqa: E402
from diffog.deploy.rosbag_io import BagRecorder, bag_topics, command_series, project_typestore, read_bag  # noqa: E402
from diffog.deploy.safety import JointLimits  # noqa: E402
from tests.core.deploy.tiny_checkpoint import CAMERA, write_tiny_checkpoint  # noqa: E402

pytestmark = pytest.mark.ros
TOPICS = AlohaTopics.load()
T0_NS = 1_000 * 10**9  # recorded time: far from now, so only /clock makes these observations fresh


def write_observation_bag(path, seconds=4.0):
    """Both followers' joint_states at 50 Hz (slow waist sine) and cam_high frames at 25 Hz, as recorded."""
    store = project_typestore()
    JointState, Image = store.types["sensor_msgs/msg/JointState"], store.types["sensor_msgs/msg/Image"]
    Header, Time = store.types["std_msgs/msg/Header"], store.types["builtin_interfaces/msg/Time"]
    names = [*TOPICS.arm_joints, "gripper", "left_finger", "right_finger"]
    with BagRecorder(path, store) as bag:
        joint_topics = {f: TOPICS.topic("joint_states", arm_ns=f) for f in TOPICS.followers}
        cam_topic = TOPICS.topic("camera_image", camera=CAMERA)
        for t in joint_topics.values():
            bag.add_topic(t, "sensor_msgs/msg/JointState")
        bag.add_topic(cam_topic, "sensor_msgs/msg/Image")
        for k in range(int(seconds * 50)):
            ns = T0_NS + k * 20_000_000
            header = Header(stamp=Time(sec=ns // 10**9, nanosec=ns % 10**9), frame_id="")
            pos = np.array([0.2 * np.sin(k * 0.02), -0.96, 1.16, 0.0, -0.3, 0.0, 0.5, 0.04, -0.04])
            for topic in joint_topics.values():
                msg = JointState(header=header, name=names, position=pos, velocity=np.zeros(0), effort=np.zeros(0))
                bag.write(topic, ns, store.serialize_cdr(msg, JointState.__msgtype__))
            if k % 2 == 0:
                img = Image(header=header, height=24, width=32, encoding="rgb8", is_bigendian=0, step=96,
                            data=np.full(24 * 32 * 3, k % 255, np.uint8))
                bag.write(cam_topic, ns, store.serialize_cdr(img, Image.__msgtype__))
    return path


def test_replayed_observations_give_finite_limit_respecting_commands(tmp_path):
    obs_bag = write_observation_bag(tmp_path / "observations")
    ckpt = write_tiny_checkpoint(tmp_path / "tiny.pt")
    commands = [TOPICS.topic(k, arm_ns=f) for f in TOPICS.followers for k in ("arm_group_command", "gripper_command")]
    (tmp_path / "params.yaml").write_text(f"""
policy:
  ros__parameters: {{checkpoint: "{ckpt}", rate_hz: 5.0, use_sim_time: true, observation_timeout_s: 0.5}}
bag_recorder:
  ros__parameters: {{topics: {commands + ['/policy/action_chunk']}}}
bag_player:
  ros__parameters: {{bag: "{obs_bag}", wait_for_subscribers_s: 60.0}}
""")
    (tmp_path / "graphs.yaml").write_text("""
replay:
  launch: none.launch.py
  params: params.yaml
  arguments: {out: ""}
  nodes:
    - {name: policy, package: diffog_policy, executable: policy_node}
    - {name: bag_recorder, package: diffog_policy, executable: bag_recorder, overrides: {output: "$(var out)"}}
    - {name: bag_player, package: diffog_policy, executable: bag_player, required: true}
""")
    out = tmp_path / "replayed"
    log = io.StringIO()
    graph = GraphProcess(load_graphs(tmp_path / "graphs.yaml")["replay"], {"out": str(out)}, log=log).start()
    assert len({p.pid for p in graph.procs.values()}) == 3  # one process per node
    codes = graph.wait(duration=120)
    text = log.getvalue()
    assert codes["bag_player"] == 0, text
    assert "played" in text and "wrote" in text, text

    limits = JointLimits.from_description()
    for f, arm_topic in zip(TOPICS.followers, commands[::2]):
        t, arm = command_series(out, arm_topic)
        assert len(arm) > 50, f"{f}: only {len(arm)} commands during a 4 s replay\n{text}"
        assert np.all(np.isfinite(arm)) and np.all((arm >= limits.lower[:6]) & (arm <= limits.upper[:6]))
        _, grip = command_series(out, TOPICS.topic("gripper_command", arm_ns=f))
        g = TOPICS.gripper
        assert np.all((grip >= g.joint_close - 1e-6) & (grip <= g.joint_open + 1e-6))
    assert bag_topics(out)["/policy/action_chunk"] == "diffog_msgs/msg/ActionChunk"
    store = project_typestore()
    chunks = [store.deserialize_cdr(m.data, m.msgtype) for m in read_bag(out, ["/policy/action_chunk"])]
    assert chunks and all(np.all(np.isfinite(c.refined_chunk)) for c in chunks)
    # the chunks were computed from the replayed (recorded-time) observations
    assert all(T0_NS <= c.header.stamp.sec * 10**9 + c.header.stamp.nanosec <= T0_NS + 4 * 10**9 for c in chunks)
