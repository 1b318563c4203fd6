"""Recorder node: ALOHA episodes (episode_N.hdf5) from the follower topics and the cameras, at 50 Hz.

A thin ROS shell over diffog.data.recorder.EpisodeRecorder: subscriptions keep the newest sample per stream,
a RateLoop thread takes a frame every 1/rate_hz s, and a writer thread streams frames to a temporary file that is
published as episode_N.hdf5 on stop (a killed recorder leaves every earlier episode untouched).

Topics (aloha.yaml `ros_interface`, the same on the real robot and the sim):
  in   /<follower>/joint_states (qpos / qvel / effort), /<follower>/commands/joint_group and joint_single (the
       action: whatever drives the followers, teleop or policy), /<cam>/camera/color/image_rect_raw
  srv  ~/start_episode (diffog_msgs/StartEpisode), ~/stop_episode and ~/discard_episode (diffog_msgs/EndEpisode)
  out  /diagnostics: recording state, frames, achieved rate, dropped frames; ERROR when writing failed (disk full)
Optional: `bag_dir` also records the same topics to an MCAP bag per episode (rosbags).

On start it recovers what a killed recorder left in `dataset_dir` (an unfinished_episode_N_<time>.h5 of all but the
last ~0.5 s) and logs it. A write error (disk full) is logged and shown in the diagnostics at once; the episode can
then only be discarded (which frees its space). A malformed message is logged (throttled) and dropped. The first
SIGINT / SIGTERM shuts down, later ones are ignored, so the episode file and bag close whole.
"""
from __future__ import annotations

import pathlib

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from diffog_msgs.srv import EndEpisode, StartEpisode
from interbotix_xs_msgs.msg import JointGroupCommand, JointSingleCommand
import rclpy
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Header

from diffog.deploy.rate_loop import RateLoop
from diffog.data.recorder import EpisodeRecorder, RecordingError
from diffog.hardware.robot import arm_state_from_joint_state, to_aloha
from diffog.rostools.rosbag_io import interrupt_once
from diffog_policy.image_input import decode_image
from diffog_policy.mcap_bag import EpisodeBag
from diffog_policy.node_common import clock_now_s, robot_description, spin_main, stamp_to_s

PARAMETERS = {
    "dataset_dir": "",            # episodes go here; required
    "task_name": "",              # default task when StartEpisode leaves it empty
    "cameras": [""],              # [""] = aloha.yaml `cameras`; ["none"] = no images
    "rate_hz": 0.0,               # 0 = aloha.yaml control_rate_hz
    "max_age_s": 0.1,             # a stream older than this at a tick drops the frame
    "compress": False,            # JPEG images with compress_len, as ALOHA's COMPRESS option
    "checksums": True,            # fletcher32 on every dataset: corrupted bytes fail on read (h5py checks them)
    "bag_dir": "",                # non-empty: also an MCAP bag per episode of the same topics
    "robot_description": "",      # aloha.yaml; "" = the shipped one
}


class RecorderNode(Node):
    def __init__(self) -> None:
        super().__init__("recorder")
        p = {k: self.declare_parameter(k, v).value for k, v in PARAMETERS.items()}
        if not p["dataset_dir"]:
            raise ValueError("parameter 'dataset_dir' is required")
        d = robot_description(p["robot_description"])
        ros = d.ros_interface
        cameras = d.cameras if p["cameras"] == [""] else [c for c in p["cameras"] if c != "none"]
        self.task_name = p["task_name"]
        self.followers = list(ros.followers)
        self.gripper = d.gripper.follower
        self.rate_hz = p["rate_hz"] or d.control_rate_hz
        self.recorder = EpisodeRecorder(pathlib.Path(p["dataset_dir"]).expanduser(), self.followers, cameras,
                                        rate_hz=self.rate_hz, max_age_s=p["max_age_s"], compress=p["compress"],
                                        checksums=p["checksums"],
                                        metadata={"robot": d.robot, "joint_names": d.action_joint_names,
                                                  "control_rate_hz": self.rate_hz})
        for r in self.recorder.recovered:
            (self.get_logger().warning if r.path is not None else self.get_logger().error)(str(r))
        self.bag = None
        if p["bag_dir"]:
            self.bag = EpisodeBag(pathlib.Path(p["bag_dir"]).expanduser())
        topics = []
        for f in self.followers:
            topics += [(JointState, ros.joint_states.format(arm_ns=f), lambda m, f=f: self._on_joint_state(f, m)),
                       (JointGroupCommand, ros.arm_group_command.format(arm_ns=f),
                        lambda m, f=f: self._on_arm_command(f, m)),
                       (JointSingleCommand, ros.gripper_command.format(arm_ns=f),
                        lambda m, f=f: self._on_gripper_command(f, m))]
        for msg_type, topic, callback in topics:
            self.create_subscription(msg_type, topic, self._bagged(topic, msg_type, callback), 10)
        for c in cameras:  # best effort matches both reliable and best-effort (sensor data) camera publishers
            topic = ros.camera_image.format(camera=c)
            self.create_subscription(Image, topic, self._bagged(topic, Image, lambda m, c=c: self._on_image(c, m)),
                                     qos_profile_sensor_data)
        self.create_service(StartEpisode, "~/start_episode", self._on_start)
        self.create_service(EndEpisode, "~/stop_episode", self._on_stop)
        self.create_service(EndEpisode, "~/discard_episode", self._on_discard)
        self.diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.create_timer(1.0, self._publish_diagnostics)
        self.loop = RateLoop(self.rate_hz, self._on_tick,
                             on_error=lambda e: self.get_logger().error(f"recorder tick failed: {e!r}"))
        self.loop.start()
        self.get_logger().info(f"recorder ready: {self.rate_hz} Hz, followers {self.followers}, cameras {cameras}, "
                               f"episodes in {self.recorder.directory}")

    def now_s(self) -> float:
        return clock_now_s(self)

    def _bagged(self, topic, msg_type, callback):
        if self.bag is None:
            return callback

        def both(msg):
            try:
                self.bag.write(topic, msg_type, msg, self.get_clock().now().nanoseconds)
            except (OSError, ValueError, RuntimeError) as e:  # e.g. disk full: the episode file is what counts
                self.get_logger().error(f"bag: writing {topic} failed: {e}", throttle_duration_sec=5.0)
            callback(msg)
        return both

    # --- streams -----------------------------------------------------------------------------------------
    def _on_joint_state(self, follower: str, msg: JointState) -> None:
        n = len(msg.name)
        lengths = {"position": len(msg.position), "velocity": len(msg.velocity), "effort": len(msg.effort)}
        # sensor_msgs/JointState: each array as long as `name`; velocity and effort may be empty
        if bad := {k: v for k, v in lengths.items() if v != n and (k == "position" or v != 0)}:
            self.get_logger().error(f"{follower}: dropping a joint_states message with {n} names but "
                                    f"{', '.join(f'{v} {k} values' for k, v in bad.items())}",
                                    throttle_duration_sec=5.0)
            return
        try:
            state = arm_state_from_joint_state(list(msg.name), list(msg.position), list(msg.velocity),
                                               list(msg.effort), stamp_to_s(msg.header.stamp))
            self.recorder.joint_state(follower, state.stamp, *to_aloha({follower: state}, self.gripper))
        except (KeyError, ValueError, IndexError, TypeError) as e:
            self.get_logger().error(f"{follower}: dropping a joint_states message: {e}", throttle_duration_sec=5.0)

    def _on_arm_command(self, follower: str, msg: JointGroupCommand) -> None:
        if msg.name != "arm" or len(msg.cmd) != 6:
            self.get_logger().error(f"{follower}: ignoring group command {msg.name!r} with {len(msg.cmd)} values",
                                    throttle_duration_sec=5.0)
            return
        self.recorder.arm_command(follower, self.now_s(), list(msg.cmd))

    def _on_gripper_command(self, follower: str, msg: JointSingleCommand) -> None:
        if msg.name == "gripper":
            self.recorder.gripper_command(follower, self.now_s(), float(self.gripper.joint_to_normalized(msg.cmd)))

    def _on_image(self, camera: str, msg: Image) -> None:
        img = decode_image(self, camera, msg)
        if img is not None:
            self.recorder.image(camera, stamp_to_s(msg.header.stamp), img)

    def _on_tick(self) -> None:
        try:
            self.recorder.tick(self.now_s())
        except RecordingError as e:  # every tick until the episode is discarded: say it every few seconds
            self.get_logger().error(f"{e}; call ~/discard_episode", throttle_duration_sec=5.0)

    # --- services ----------------------------------------------------------------------------------------
    def _on_start(self, request: StartEpisode.Request, response: StartEpisode.Response):
        task = request.task_name or self.task_name
        try:
            path = self.recorder.start(self.now_s(), task=task, note=request.note)
        except (RuntimeError, OSError) as e:
            response.success, response.message = False, str(e)
            return response
        if self.bag is not None:
            try:
                self.bag.open()
            except OSError as e:  # the episode records on; only its bag is missing
                self.get_logger().error(f"bag: not recording this episode's bag: {e}")
        response.success, response.path, response.frame_count = True, str(path), 0
        response.message = f"recording {task or 'episode'} to {path}"
        self.get_logger().info(response.message)
        return response

    def _end(self, response: EndEpisode.Response, keep: bool):
        try:
            summary = self.recorder.stop() if keep else self.recorder.discard()
        except (RuntimeError, OSError) as e:
            self._close_bag(None)
            response.success, response.message = False, str(e)
            self.get_logger().error(response.message)
            return response
        self._close_bag(summary.path)
        response.success, response.frame_count = True, summary.frames
        response.path = str(summary.path or "")
        response.message = (f"{'saved' if keep else 'discarded'} {summary.frames} frames at "
                            f"{summary.achieved_rate_hz:.1f} Hz (target {self.rate_hz:g}), "
                            f"{summary.dropped} dropped {summary.drop_reasons or ''}".rstrip())
        self.get_logger().info(response.message)
        return response

    def _close_bag(self, episode: pathlib.Path | None) -> None:
        """The bag takes the episode file's name (hidden too when the episode is), or goes with a discarded one."""
        if self.bag is not None:
            try:
                self.bag.close(None if episode is None else episode.name.split(".")[0])
            except (OSError, ValueError, RuntimeError) as e:
                self.get_logger().error(f"bag: closing failed: {e}")

    def _on_stop(self, request, response):
        return self._end(response, keep=True)

    def _on_discard(self, request, response):
        return self._end(response, keep=False)

    def _publish_diagnostics(self) -> None:
        status = DiagnosticStatus(name="recorder", hardware_id="aloha", level=DiagnosticStatus.OK,
                                  message="recording" if self.recorder.recording else "idle")
        if self.recorder.recording and self.recorder.error is not None:
            status.level = DiagnosticStatus.ERROR
            status.message = f"writing the episode failed: {self.recorder.error}; discard it"
        frames, dropped = self.recorder.progress()
        status.values = [KeyValue(key="loop_rate_hz", value=f"{self.loop.achieved_rate_hz():.2f}"),
                         KeyValue(key="frames", value=str(frames)), KeyValue(key="dropped", value=str(dropped))]
        self.diag_pub.publish(DiagnosticArray(header=self._header(), status=[status]))

    def _header(self) -> Header:
        return Header(stamp=self.get_clock().now().to_msg())

    def destroy_node(self) -> None:
        self.loop.stop()
        if self.recorder.recording:  # shut down mid-episode: keep the frames, but out of the data set
            try:
                summary = self.recorder.stop(publish=False)
                self._close_bag(summary.path)
                self.get_logger().warning(f"shut down mid-episode: {summary.frames} frames kept unpublished at "
                                          f"{summary.path}; rename it to episode_N.hdf5 to use it")
            except RuntimeError as e:
                self._close_bag(None)
                self.get_logger().error(str(e))
        super().destroy_node()


def main(args=None) -> None:
    # before rclpy.init: a second signal must not cut the closing files short; the first also shuts rclpy down
    # itself, so spinning stops even where rclpy's own handler does not get the signal
    interrupt_once(first_raises=False, on_first=rclpy.try_shutdown)
    spin_main(RecorderNode, args, threads=2)


if __name__ == "__main__":
    main()
