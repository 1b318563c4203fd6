"""The policy's control logic without ROS: observation -> chunk (base policy, then refiner anchored to the last
executed command) -> commands at the robot's rate through the safety filter. Every failure path holds."""
from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from diffog.deploy.latency import LatencyBreakdown
from diffog.deploy.observation import NonFiniteObservation, NoObservation, Observation, ObservationMatcher
from diffog.robot.safety import SafetyFilter, UnsafeCommand
from diffog.deploy.streamer import ChunkStreamer

CLOCK_JUMP_S = 0.1  # a command clock going back by more than this is a jump, not jitter

# (observation history, oldest first) -> raw chunk (T, D) in robot units
InferFn = Callable[[list[Observation]], np.ndarray]
# (raw chunk (T, D), past action (D)) -> (refined chunk (T, D), stats), robot units
RefineFn = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, dict]]


@dataclass(frozen=True)
class Execution:
    """How a chunk is executed, one setting for the policy node and the sim evaluation alike.

    n_action_steps: chunk actions executed per inference (Diffusion Policy's paper setting is 8 of a 16-step
    chunk; 1 is receding-horizon replanning). Actions are time-aligned: action k of a chunk is due k policy
    steps after its observation, action 0 being the command for that instant, so actions 1..n run.
    overlap: start the next inference while the current chunk still runs, early enough (by the measured
    inference latency) that its successor is ready when it ends; without it the arms hold at the chunk's last
    action while the policy infers (and actions whose time passed meanwhile are skipped). In the lockstepped
    sim evaluation inference takes no sim time, so both behave alike there."""

    n_action_steps: int
    overlap: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.n_action_steps, int) or self.n_action_steps < 1:
            raise ValueError(f"n_action_steps must be an integer >= 1, got {self.n_action_steps!r}")


@dataclass
class PlanResult:
    """What one policy tick did: a new chunk, or why the robot holds (`hold_reason`)."""

    stamp: float
    latency: LatencyBreakdown = field(default_factory=LatencyBreakdown)
    raw: np.ndarray | None = None
    refined: np.ndarray | None = None
    past_action: np.ndarray | None = None
    stats: dict = field(default_factory=dict)
    hold_reason: str = ""
    fault: bool = False  # the hold comes from bad data (NaN / inf), not from waiting for data or the e-stop


class PolicyController:
    """`plan(now)` runs on the planning thread whenever `plan_due(now)`, `command(now)` on the executor at the
    command rate, and `add_observation` from the subscriptions; a lock guards only the streamer hand-over, so inference
    never blocks the other two."""

    def __init__(self, infer: InferFn, refine: RefineFn, matcher: ObservationMatcher, safety: SafetyFilter,
                 chunk_dt: float, execution: Execution, n_obs_steps: int = 1):
        """chunk_dt: seconds between the chunk's actions, also the spacing of the observation history."""
        if n_obs_steps < 1 or not chunk_dt > 0:
            raise ValueError(f"need n_obs_steps >= 1 and chunk_dt > 0, got {n_obs_steps}, {chunk_dt}")
        self.infer, self.refine = infer, refine
        self.matcher, self.safety = matcher, safety
        self.chunk_dt, self.execution, self.n_obs_steps = chunk_dt, execution, n_obs_steps
        self.latency_s = 0.0  # inference + refinement on the controller's clock, smoothed (for overlap)
        self.streamer = ChunkStreamer()
        self.last_sent: np.ndarray | None = None
        self._start: np.ndarray | None = None  # where the current chunk starts from
        self._last_command_now = -np.inf  # the command clock's last reading: a step back is a clock jump
        self.estopped = False
        self._lock = threading.Lock()
        self._obs_lock = threading.Lock()

    def add_observation(self, stream: str, stamp: float, value: np.ndarray) -> None:
        with self._obs_lock:
            self.matcher.add(stream, stamp, value)

    def plan_due(self, now: float) -> bool:
        """Whether the next inference should start now: the chunk has run out (or, with overlap, has no more
        left than the measured latency). The caller polls this at the command rate."""
        if self.estopped:
            return False
        with self._lock:
            if not self.streamer.active:
                return True
            return self.execution.overlap and self.streamer.remaining_s(now) <= self.latency_s

    def plan(self, now: float, clock: Callable[[], float] | None = None) -> PlanResult:
        """One policy tick at time `now`; `clock` gives the time the chunk starts (after inference)."""
        if self.estopped:
            return PlanResult(stamp=now, hold_reason="e-stop engaged")
        try:
            with self._obs_lock:
                history = self.matcher.history(now, self.n_obs_steps, self.chunk_dt)
        except NoObservation as e:
            self.hold()
            return PlanResult(stamp=now, hold_reason=str(e), fault=isinstance(e, NonFiniteObservation))
        obs = history[-1]
        with self._lock:  # the last executed command; before the first one, where the arms are
            past = self.last_sent if self.last_sent is not None else obs.qpos
        result = PlanResult(stamp=obs.stamp, past_action=past.copy())
        result.latency.observation_age_s = now - obs.stamp
        with result.latency.timing("inference_s"):
            result.raw = np.asarray(self.infer(history), dtype=np.float64)
        with result.latency.timing("refinement_s"):
            refined, result.stats = self.refine(result.raw, past)
        result.refined = np.asarray(refined, dtype=np.float64)
        for name, chunk in (("raw", result.raw), ("refined", result.refined)):
            if chunk.ndim != 2 or chunk.shape[1] != len(past) or not np.all(np.isfinite(chunk)):
                self.hold()
                result.fault = True
                result.hold_reason = f"{name} chunk of shape {chunk.shape} is not a finite (T, {len(past)}) array"
                return result
        with self._lock:
            if self.estopped:
                result.hold_reason = "e-stop engaged"
                return result
            start = self.last_sent if self.last_sent is not None else past  # commands went on during inference
            begin = (clock or (lambda: now))()
            latency = max(begin - now, 0.0)
            self.latency_s = latency if self.latency_s == 0.0 else 0.8 * self.latency_s + 0.2 * latency
            # time-aligned: chunk action k is due k dt after the observation (action 0 is the command for the
            # observation's time, which the command in effect already holds), so actions 1..n are executed
            n = self.execution.n_action_steps
            self.streamer.load(self.safety.clamp(result.refined[1:n + 1]), self.chunk_dt, begin, start,
                               first_time=obs.stamp + self.chunk_dt)
            self._start = start
        return result

    def command(self, now: float) -> np.ndarray | None:
        """The command to send at `now`, or None to hold (nothing to do, stale inputs, or an unsafe command)."""
        with self._lock:
            if now < self._last_command_now - CLOCK_JUMP_S:
                # sim reset, NTP step, bag replay: the chunk's times and the last command belong to another
                # timeline, and the arms may have moved; the next chunk starts afresh from what is measured
                jumped = self._last_command_now - now
                self._last_command_now = now
                self.streamer.stop()
                self.last_sent = None
                with self._obs_lock:
                    self.matcher.reset()
                raise UnsafeCommand(f"the clock jumped back by {jumped:.3f} s: holding, history cleared")
            self._last_command_now = now
            if self.estopped or not self.streamer.active:
                return None
            with self._obs_lock:
                age = self.matcher.newest_age(now)
            if age > self.matcher.timeout_s:
                self.streamer.stop()
                raise UnsafeCommand(f"inputs are {age:.3f} s old (timeout {self.matcher.timeout_s} s): holding")
            cmd = self.streamer.sample(now)
            if cmd is None:
                return None
            try:  # the first command is checked against where the arms were measured when the chunk began
                cmd = self.safety.check(cmd, self.last_sent if self.last_sent is not None else self._start)
            except UnsafeCommand:
                self.streamer.stop()
                raise
            self.last_sent = cmd
            return cmd

    def hold(self) -> None:
        """Stop streaming; the last command sent stays the arms' goal."""
        with self._lock:
            self.streamer.stop()

    def set_estop(self, engaged: bool) -> None:
        """Engaging holds at once. Releasing starts afresh from the measured position: while stopped the arms
        may have been moved (by hand, or a sim reset), so the next chunk anchors to what is observed now."""
        with self._lock:
            self.estopped = engaged
            self.streamer.stop()
            if not engaged:
                self.last_sent = None
