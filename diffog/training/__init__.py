"""Training, resuming, offline evaluation and export of Diffusion Policy + DiffOG checkpoints (Hydra configs in
conf/, typed by config.TrainConfig; `python -m diffog.training` or `diffog-train`). May import: diffog.robot,
diffog.refine, diffog.data, diffog.policy, diffog.deploy, diffog.evaluation.
"""
