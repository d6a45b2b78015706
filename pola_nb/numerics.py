"""Elementwise functions shared by the exact and the sampled learners, usable on plain numpy arrays
and on autograd boxes (any order of differentiation)."""

from __future__ import annotations

from typing import Any

import numpy as np
from autograd.extend import defvjp, primitive

#: A numpy array, or an autograd box of one inside a differentiated function (for annotations).
Tensor = Any


@primitive
def sigmoid(x):
    """Logistic function ``(tanh(x / 2) + 1) / 2`` of an array of any shape (same shape and dtype out).

    One autograd primitive; its derivative ``ans * (1 - ans)`` is written with differentiable ops,
    so higher derivatives (LOLA's second order) work.
    """
    return 0.5 * (np.tanh(0.5 * x) + 1.0)


defvjp(sigmoid, lambda ans, x: lambda g: g * ans * (1.0 - ans))
