"""Pure loss terms of Advantage Alignment and Proximal Advantage Alignment
(Duque et al., "Advantage Alignment Algorithms", ICLR 2025).

Conventions as in :mod:`pola_nb.sampled.dice`: time-major ``(T, B)`` float32 arrays. Advantages are
constants (computed from detached critics): every function here uses their plain values. Only the
current log-probabilities of :func:`ppo_loss` may be autograd boxes.

The aligned advantage of agent 1 is ``A*_t = A^1_t + beta aa_t`` with two forms of ``aa_t``
(:func:`aa_terms`):

* ``"discounted"`` (the paper): ``aa_t = gamma sum_{k<t} gamma^(t-k) A^1_k A^2_t``;
* ``"running-mean"`` (the released code, ``train.py``): ``aa_t = (1/t) sum_{k<t} A^1_k A^2_t``, 0 at ``t = 0``.

AA is the policy gradient with ``A*``; PAA is the PPO clipped surrogate with ``A*`` (:func:`ppo_loss`).
With several opponents pass ``adv_other`` already summed over them.
"""

from __future__ import annotations

from typing import Literal

import autograd.numpy as anp
import numpy as np
from autograd.tracer import getval

from pola_nb.numerics import Tensor
from pola_nb.sampled.dice import mean
from pola_nb.sampled.loqa_terms import mean_entropy

F32 = np.float32
AAForm = Literal["discounted", "running-mean"]
AA_FORMS: tuple[str, ...] = ("discounted", "running-mean")

__all__ = ["AA_FORMS", "aa_advantages", "aa_terms", "approx_kl", "mean_entropy", "normalise", "ppo_loss"]


def _const(x) -> np.ndarray:
    return np.asarray(getval(x), dtype=F32)


def aa_terms(adv_self: np.ndarray, adv_other: np.ndarray, gamma: float, form: AAForm = "discounted") -> np.ndarray:
    """The advantage-alignment term ``aa_t`` ``(T, B)`` (constants in, constant out).

    ``"discounted"``: ``gamma sum_{k<t} gamma^(t-k) A^1_k A^2_t``; ``"running-mean"``:
    ``(1/t) sum_{k<t} A^1_k A^2_t`` for ``t >= 1`` and 0 at ``t = 0``.

    Args:
        adv_self: ``(T, B)`` the agent's advantages ``A^1``.
        adv_other: ``(T, B)`` the opponent's advantages ``A^2`` (summed over opponents if several).
        gamma: discount (unused by ``"running-mean"``).
    """
    a1, a2 = _const(adv_self).astype(np.float64), _const(adv_other).astype(np.float64)
    past = np.zeros_like(a1)  # past[t] = the weighted sum over k < t
    if form == "discounted":
        acc = np.zeros_like(a1[0])
        for t in range(1, a1.shape[0]):
            acc = gamma * (acc + a1[t - 1])  # sum_{k<t} gamma^(t-k) A^1_k
            past[t] = acc
        past *= gamma
    elif form == "running-mean":
        csum = np.cumsum(a1, axis=0)
        t = np.arange(1, a1.shape[0], dtype=np.float64).reshape((-1,) + (1,) * (a1.ndim - 1))
        past[1:] = csum[:-1] / t
    else:
        raise ValueError(f"unknown AA form {form!r}; expected one of {AA_FORMS}")
    return (past * a2).astype(F32)


def normalise(adv: np.ndarray, eps: float = 1e-8, ddof: int = 1) -> np.ndarray:
    """``(A - mean A) / (std A + eps)`` over the whole array (all steps and episodes); a constant.

    ``ddof=1`` is the unbiased standard deviation (PyTorch's ``Tensor.std`` default).
    """
    a = _const(adv).astype(np.float64)
    return ((a - a.mean()) / (a.std(ddof=ddof) + eps)).astype(F32)


def aa_advantages(adv_self: np.ndarray, adv_other: np.ndarray, beta: float, gamma: float,
                  form: AAForm = "discounted", normalise: bool = False) -> np.ndarray:
    """``A* = A^1 + beta aa(A^1, A^2)`` ``(T, B)``, a constant.

    With ``normalise=True`` both advantages are first normalised over the batch (:func:`normalise`),
    as the released code does before forming products; the returned ``A*`` then uses the normalised ``A^1``.
    """
    a1, a2 = _const(adv_self), _const(adv_other)
    if normalise:
        a1, a2 = _normalise(a1), _normalise(a2)
    return (a1 + F32(beta) * aa_terms(a1, a2, gamma, form)).astype(F32)


_normalise = normalise


def ppo_loss(logp: Tensor, logp_old: np.ndarray, adv: np.ndarray, clip: float,
             log_ratio_clamp: float = 10.0) -> Tensor:
    """PPO clipped surrogate ``-mean_{t,b} min(rho A, clip(rho, 1 - eps, 1 + eps) A)``; a scalar.

    ``rho = exp(clamp(logp - logp_old, -10, 10))``.

    Args:
        logp: ``(T, B)`` current log-probabilities of the taken actions; may be boxed.
        logp_old: ``(T, B)`` the behaviour (first-epoch) log-probabilities; constant.
        adv: ``(T, B)`` advantages (e.g. ``A*``); constant.
        clip: ``eps``.

    When ``logp_old`` equals ``logp``'s value, ``rho = 1`` and the gradient is the vanilla policy gradient
    ``-mean A dlog pi``.
    """
    a = _const(adv)
    rho = anp.exp(anp.clip(logp - _const(logp_old), -log_ratio_clamp, log_ratio_clamp))
    return -mean(anp.minimum(rho * a, anp.clip(rho, 1.0 - clip, 1.0 + clip) * a))


def approx_kl(logp_old: np.ndarray, logp: np.ndarray) -> float:
    """``mean(logp_old - logp)`` over the taken actions: the KL estimate used for early stopping between epochs."""
    return float(np.mean(_const(logp_old).astype(np.float64) - _const(logp)))
