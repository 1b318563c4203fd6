"""The dataset command: N successful episodes per task through the shared EpisodeWriter, images and all."""
import numpy as np

from diffog.data.aloha_hdf5 import list_episodes, read_episode
from diffog.sim.demo import run_demo
from diffog.sim.make_dataset import main


def test_dataset_command_writes_sim_episodes_that_reproduce_their_seed(tmp_path, capsys):
    main([str(tmp_path), "--tasks", "transfer_cube", "--episodes", "1", "--render", "24", "32",
          "--cameras", "cam_high", "--compress", "--variability", "--first-seed", "5"])
    assert "transfer_cube: 1 episodes" in capsys.readouterr().out
    [path] = list_episodes(tmp_path / "sim_transfer_cube")
    ep = read_episode(path)
    assert ep.sim and ep.compressed and ep.metadata["task"] == "transfer_cube" and ep.metadata["variability"]
    assert ep.images["cam_high"].shape == (len(ep), 24, 32, 3)
    assert ep.qpos.shape == ep.action.shape == (len(ep), 14)
    np.testing.assert_allclose(np.diff(ep.timestamps["qpos"]), 0.02)
    from diffog.sim.trajectory import Variability
    again = run_demo("transfer_cube", ep.metadata["seed"], variability=Variability())
    np.testing.assert_allclose(again.action, ep.action)
