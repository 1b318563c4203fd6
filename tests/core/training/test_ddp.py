"""torchrun with two CPU processes (gloo) runs the unchanged training command."""
import json
import os
import subprocess
import sys

from diffog.policy import read_checkpoint


def test_torchrun_two_gloo_processes_train_a_step(episode_dir, tmp_path, overrides):
    args = overrides(episode_dir, tmp_path, "mode=dataset", "training.num_steps=2", "training.batch_size=4")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "diffog.training", "train", *args]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    summary = json.loads((tmp_path / "summary.json").read_text())  # written by rank 0
    assert summary["world_size"] == 2 and summary["steps"] == 2
    payload = read_checkpoint(tmp_path / "last.ckpt")
    assert payload["train_state"]["step"] == 2
    assert payload["config"]["mode"]["name"] == "dataset"
