"""Policy parameterisations of the exact IPD: tabular, pre-conditioned tabular and a small neural net.

Each family maps a flat parameter vector ``theta`` of shape ``(..., n_params)`` to the 5 cooperation
logits (state order DD, DC, CD, CC, start); probabilities are their sigmoid. Flat vectors keep the
learners generic: SGD, masking and batching act on one array whatever the family.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import autograd.numpy as anp
import numpy as np

from pola_nb.errors import require
from pola_nb.generics import dispatch
from pola_nb.ipd_rules import OBS_DIM, STATE_OBSERVATIONS
from pola_nb.numerics import Tensor, sigmoid

# Inputs of the neural net: the observation of each of the 5 states, [onehot3(a1), onehot3(a2)], (5, 6).
STATE_INPUTS = STATE_OBSERVATIONS

# Pre-conditioning matrix: logit(DD) = theta_0, logit(s) = theta_s - 2 theta_0 for the other states.
PRECOND_A = np.eye(5)
PRECOND_A[1:, 0] = -2.0


@dataclass(frozen=True)
class Tabular:
    """One logit per state; initial logits ~ N(0, std^2)."""

    std: float = 0.1


@dataclass(frozen=True)
class Precond:
    """Tabular with logits ``A theta`` (``PRECOND_A``): the same policy set in a different geometry."""

    std: float = 0.1


@dataclass(frozen=True)
class NeuralNet:
    """Linear(6, H) -> tanh -> [Linear(H, H) -> tanh] * extra_layers -> Linear(H, 1) on the state one-hots.

    ``init`` is ``"random"`` (PyTorch's default Linear init: weights and biases uniform in
    +-1/sqrt(fan_in)) or one of the hard-coded H = 2 nets ``"nn1"``/``"nn2"`` of Figure 1, which both
    start at exactly 0.5 cooperation in every state.
    """

    hidden: int = 16
    extra_layers: int = 0
    init: str = "random"

    def __post_init__(self) -> None:
        require(self.hidden >= 1, f"hidden size must be >= 1, got {self.hidden}")
        require(self.init in ("random", "nn1", "nn2"), f"unknown NN init {self.init!r}")
        if self.init != "random":
            require(self.hidden == 2 and self.extra_layers == 0, f"init {self.init!r} needs hidden=2")

    def shapes(self) -> list[tuple[int, ...]]:
        """Shapes of the weight and bias arrays in the order they sit in the flat vector."""
        h = self.hidden
        shapes = [(h, OBS_DIM), (h,)]
        shapes += [(h, h), (h,)] * self.extra_layers
        return shapes + [(h,), ()]

    def unpack(self, theta: Tensor) -> list[Tensor]:
        """Split ``theta`` (..., n) into arrays of shape (..., *shape) for each entry of :meth:`shapes`."""
        out, i = [], 0
        lead = theta.shape[:-1]
        for s in self.shapes():
            size = int(np.prod(s))
            out.append(anp.reshape(theta[..., i : i + size], lead + s))
            i += size
        return out


# Hard-coded H = 2 nets of Figure 1 (hidden W (2, 6), hidden b (2,), output w (2,), output b).
_NN1 = ([[-1, 1, -1, 1, -1, 1], [-1, 1, -1, 1, -1, 1]], [0, 0], [-1, 1], 0.0)
_NN2 = (
    [
        [1.1074687263023, 0.275260757781574, 0.489599039857568, 0.130220650429065, 0.130220650428934,
         -0.0416038405697266],
        [0.0142691805853789, 0.933207934425381, -0.0153849853273826, 0.170635830969251, 0.17063583096918,
         0.985901625511033],
    ],
    [0.286705849, -0.00180708],
    [1.0, 0.5],
    -1.0,
)


def _flatten(parts) -> np.ndarray:
    return np.concatenate([np.ravel(np.asarray(p, dtype=float)) for p in parts])


@dispatch
def n_params(family: Tabular | Precond) -> int:
    return 5


@dispatch
def n_params(family: NeuralNet) -> int:
    return sum(int(np.prod(s)) for s in family.shapes())


@dispatch
def logits(family: Tabular, theta):
    return theta


@dispatch
def logits(family: Precond, theta):
    return anp.dot(theta, PRECOND_A.T)


@dispatch
def logits(family: NeuralNet, theta):
    parts = family.unpack(theta)
    w, b = parts[0], parts[1]
    h = anp.tanh(anp.einsum("...ji,si->...sj", w, STATE_INPUTS) + b[..., None, :])  # (..., 5, H)
    for k in range(family.extra_layers):
        w, b = parts[2 + 2 * k], parts[3 + 2 * k]
        h = anp.tanh(anp.einsum("...ji,...si->...sj", w, h) + b[..., None, :])
    w_out, b_out = parts[-2], parts[-1]
    return anp.einsum("...j,...sj->...s", w_out, h) + b_out[..., None]


@dispatch
def logits_vjp(family: Tabular, theta, g):
    return g


@dispatch
def logits_vjp(family: Precond, theta, g):
    return g @ PRECOND_A


@dispatch
def logits_vjp(family: NeuralNet, theta, g):
    parts = family.unpack(theta)
    layers = [(parts[2 * k], parts[2 * k + 1]) for k in range(family.extra_layers + 1)]
    acts = [np.broadcast_to(STATE_INPUTS, theta.shape[:-1] + STATE_INPUTS.shape)]  # inputs of each layer
    for w, b in layers:
        acts.append(np.tanh(np.einsum("...ji,...si->...sj", w, acts[-1]) + b[..., None, :]))
    w_out = parts[-2]
    grads = [np.einsum("...s,...sj->...j", g, acts[-1]), g.sum(-1)]  # output weights and bias
    delta = g[..., :, None] * w_out[..., None, :]  # d/d(hidden activations), (..., 5, H)
    for (w, _), x, h in zip(reversed(layers), reversed(acts[:-1]), reversed(acts[1:]), strict=True):
        pre = delta * (1 - h**2)
        grads = [np.einsum("...sj,...si->...ji", pre, x), pre.sum(-2), *grads]
        delta = np.einsum("...sj,...ji->...si", pre, w)
    lead = theta.shape[:-1]
    return np.concatenate([np.reshape(x, lead + (-1,)) for x in grads], axis=-1)


@dispatch
def init_params(family: Tabular | Precond, rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.normal(0.0, family.std, size=(n, 5))


@dispatch
def init_params(family: NeuralNet, rng: np.random.Generator, n: int) -> np.ndarray:
    if family.init != "random":
        fixed = _flatten(_NN1 if family.init == "nn1" else _NN2)
        return np.tile(fixed, (n, 1))
    h = family.hidden
    fan_ins = [OBS_DIM, OBS_DIM] + [h, h] * family.extra_layers + [h, h]
    cols = []
    for shape, fan_in in zip(family.shapes(), fan_ins, strict=True):
        bound = 1.0 / np.sqrt(fan_in)
        cols.append(rng.uniform(-bound, bound, size=(n, int(np.prod(shape)))))
    return np.concatenate(cols, axis=1)


def probs(family: Any, theta: Tensor) -> Tensor:
    """Cooperation probabilities ``sigmoid(logits)``, shape ``(..., 5)``."""
    return sigmoid(logits(family, theta))


def log_sigmoid(x: Tensor) -> Tensor:
    """``log sigmoid(x)``, finite for all finite ``x``."""
    return -anp.logaddexp(0.0, -x)


def kl_sum(ref_logits: Tensor, cur_logits: Tensor) -> Tensor:
    """Bernoulli KL(pi_ref || pi_cur) summed over the 5 states, from logits; shape ``(...)``.

    Computed from logits so it stays finite when a probability saturates (no 0 * log 0 = NaN).
    """
    p = sigmoid(ref_logits)
    kl = p * (log_sigmoid(ref_logits) - log_sigmoid(cur_logits)) + (1 - p) * (
        log_sigmoid(-ref_logits) - log_sigmoid(-cur_logits)
    )
    return anp.sum(kl, axis=-1)
