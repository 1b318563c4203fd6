"""Input checks shared by the robot interface and the episode writer: bad input is refused before it is used."""
import math
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


def require_positive(where: str, **values: float) -> None:
    """Each value a positive finite number (not a bool), else ValueError naming `where.name`."""
    for name, v in values.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
            raise ValueError(f"{where}.{name} must be a positive finite number, got {v!r}")
