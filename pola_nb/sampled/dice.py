"""The DiCE surrogate with a GAE baseline, the value loss and the KL penalties (official `POLA_dice_jax.py`).

All per-step arrays are time-major ``(T, B)`` float32: ``T`` steps of ``B`` episodes. Log-probability
arrays may be autograd boxes; rewards are constants. Values ``(T + 1, B)`` cover o_0..o_T (the last
one bootstraps the truncated return).

What is stop-gradiented (as in the official code): advantages see values only through their plain numbers, so the
policy objective never differentiates the value net; value targets are constants; the value loss
never sees log-probabilities. One gradient of ``-J + value_loss`` therefore gives the policy gradient
(w.r.t. policy parameters) and the value gradient (w.r.t. value parameters) at once.
"""

from __future__ import annotations

from typing import Literal

import autograd.numpy as anp
import numpy as np
from autograd.tracer import getval

from pola_nb.numerics import Tensor

KLDirection = Literal["ref-current", "current-ref"]
F32 = np.float32


def mean(x: Tensor) -> Tensor:
    """Mean of all entries of ``x``, differentiable. ``anp.mean``'s derivative divides by a NumPy integer,
    which under NumPy 2 promotes float32 cotangents to float64 (and everything upstream with them)."""
    return anp.sum(x) / int(np.prod(anp.shape(x)))


def magic_box(x: Tensor) -> Tensor:
    """``exp(x - stop_grad(x))``: value 1, derivatives of every order those of ``x``."""
    return anp.exp(x - getval(x))


def discounts(T: int, gamma: float) -> np.ndarray:
    """``gamma ** t`` for t = 0..T-1, shape ``(T, 1)`` float32."""
    return (gamma ** np.arange(T, dtype=np.float64)).astype(F32)[:, None]


def gae_advantages(rewards: np.ndarray, values: np.ndarray, gamma: float, lam: float) -> np.ndarray:
    """``A_t = sum_l (gamma lam)^l delta_{t+l}``, ``delta_t = r_t + gamma V_{t+1} - V_t``; ``(T, B)``.

    ``values`` ``(T+1, B)`` are plain numbers; ``V_T`` bootstraps (no terminal cut).
    """
    deltas = rewards + gamma * values[1:] - values[:-1]
    adv = np.empty_like(deltas)
    acc = np.zeros_like(deltas[0])
    for t in range(deltas.shape[0] - 1, -1, -1):
        acc = deltas[t] + (gamma * lam) * acc
        adv[t] = acc
    return adv.astype(F32)


def returns_to_go(rewards: np.ndarray, gamma: float) -> np.ndarray:
    """``G_t = sum_{u >= t} gamma^(u - t) r_u`` along axis 0."""
    out = np.empty_like(rewards)
    acc = np.zeros_like(rewards[0])
    for t in range(rewards.shape[0] - 1, -1, -1):
        acc = rewards[t] + gamma * acc
        out[t] = acc
    return out


def dice_objective(logp_self: Tensor, logp_other: Tensor, rewards: np.ndarray, values: Tensor, gamma: float,
                   gae_lambda: float = 1.0, baseline: bool = True) -> Tensor:
    """Loaded DiCE objective ``J`` of the self agent (to be maximised); a scalar.

    ``logp_self``, ``logp_other``: log-probabilities ``(T, B)`` of the actions both agents took;
    ``rewards``: the self agent's rewards ``(T, B)``; ``values``: the self agent's ``(T+1, B)``
    (only their numbers are used). With the baseline:
    ``J = mean_b sum_t [MB(c_t) - MB(c_{t-1})] gamma^t A_t``, ``c_t = sum_{u<=t} (logp_self + logp_other)``,
    ``MB(c_{-1}) = 1``; without: ``J = mean_b sum_t MB(c_t) gamma^t r_t``.
    """
    T = rewards.shape[0]
    w = discounts(T, gamma)
    c = anp.cumsum(logp_self + logp_other, axis=0)
    mb = magic_box(c)
    if not baseline:
        return anp.sum(mb * (w * rewards)) / rewards.shape[1]
    adv = gae_advantages(rewards, np.asarray(getval(values), F32), gamma, gae_lambda)
    # MB(c_t) - MB(c_{t-1}); both have value 1, so only the derivative structure matters.
    mb_prev = anp.concatenate([np.ones_like(rewards[:1]), mb[:-1]], axis=0)
    return anp.sum((mb - mb_prev) * (w * adv)) / rewards.shape[1]


def value_loss(rewards: np.ndarray, values: Tensor, gamma: float) -> Tensor:
    """``mean_b sum_t (G_t + gamma^(T-t) V_T - V_t)^2`` with constant targets (no 1/2); a scalar."""
    T = rewards.shape[0]
    v_last = np.asarray(getval(values), F32)[-1]
    boot = (gamma ** np.arange(T, 0, -1, dtype=np.float64)).astype(F32)[:, None] * v_last
    target = returns_to_go(rewards, gamma) + boot
    return anp.sum((target - values[:-1]) ** 2) / rewards.shape[1]


def kl_mean(logp_ref: Tensor, logp_cur: Tensor, direction: KLDirection = "ref-current") -> Tensor:
    """Mean over the visited histories ``(T, B)`` of the KL divergence summed over actions.

    ``logp_ref``, ``logp_cur``: log-probability tables ``(T, B, A)``. ``ref-current`` is
    ``KL(pi_ref || pi_cur)`` (the official code's default since March 2023), ``current-ref`` is
    ``KL(pi_cur || pi_ref)`` (the paper-era code).
    """
    if direction == "ref-current":
        kl = anp.sum(anp.exp(logp_ref) * (logp_ref - logp_cur), axis=-1)
    elif direction == "current-ref":
        kl = anp.sum(anp.exp(logp_cur) * (logp_cur - logp_ref), axis=-1)
    else:
        raise ValueError(f"unknown KL direction {direction!r}")
    return mean(kl)
