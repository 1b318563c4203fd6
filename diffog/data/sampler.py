"""Fixed-length windows over episodes, Diffusion Policy style: each window holds `horizon` steps whose first
`n_obs_steps` carry the observations; windows may start before the episode and end after it (edge frames are
repeated), so the first action and the last `n_action_steps` actions of every episode are trained on."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class SequenceSampler:
    """Enumerates (episode, window) pairs; `frame_indices(i)` gives the clamped frame indices of window i."""

    def __init__(self, episode_lengths: Sequence[int], horizon: int, n_obs_steps: int, n_action_steps: int):
        if not 1 <= n_obs_steps <= horizon or not 1 <= n_action_steps <= horizon - n_obs_steps + 1:
            raise ValueError(f"need 1 <= n_obs_steps ({n_obs_steps}) <= horizon ({horizon}) and "
                             f"1 <= n_action_steps ({n_action_steps}) <= horizon - n_obs_steps + 1")
        if any(n < 1 for n in episode_lengths):
            raise ValueError(f"empty episode among lengths {list(episode_lengths)}")
        self.horizon = horizon
        pad_before, pad_after = n_obs_steps - 1, n_action_steps - 1
        rows = []
        for ep, length in enumerate(episode_lengths):
            # The last window still has at least one real action among those executed (pad_after + 1 of them).
            starts = np.arange(-pad_before, max(length - horizon + pad_after, -pad_before) + 1)
            rows.append(np.stack([np.full_like(starts, ep), starts, np.full_like(starts, length)], axis=1))
        self._index = np.concatenate(rows) if rows else np.zeros((0, 3), dtype=np.int64)

    def __len__(self) -> int:
        return len(self._index)

    def frame_indices(self, i: int) -> tuple[int, np.ndarray]:
        """(episode index, frame index per window step), padded at the edges by repeating the edge frame."""
        ep, start, length = self._index[i]
        return int(ep), np.clip(start + np.arange(self.horizon), 0, length - 1)
