"""Closed-loop evaluation in the MuJoCo sim through the deploy runtime (the policy node's controller, refiner,
chunk streamer and safety filter against the sim robot backend, without ROS), many seeds in parallel processes,
and the paper's comparison table (base DP, DiffOG, clipping, penalty).

sim_rollout.py: one episode and many (`evaluate`); failures.py: failure modes from the physics state;
compare.py: the comparison command (Markdown table and plots).
May import: diffog.robot, diffog.refine, diffog.data, diffog.policy, diffog.hardware, diffog.sim, diffog.deploy.
"""
