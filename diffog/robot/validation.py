"""Input checks shared by the robot interface and the episode writer: bad input is refused before it is used."""
from typing import Sequence

import numpy as np


def finite_vector(name: str, value: Sequence[float] | np.ndarray, dim: int) -> np.ndarray:
    """`value` as a float64 vector of `dim` finite values, else ValueError naming `name`."""
    v = np.asarray(value, dtype=np.float64).reshape(-1)
    if v.shape != (dim,):
        raise ValueError(f"{name}: expected {dim} values, got shape {np.shape(value)}")
    if not np.all(np.isfinite(v)):
        raise ValueError(f"{name}: non-finite values (NaN or inf) in {v.tolist()}")
    return v
