"""Pure loss terms of LOQA (Aghajohari et al., "LOQA: Learning with Opponent Q-Learning Awareness", ICLR 2024).

Conventions (shared with :mod:`pola_nb.sampled.dice`): per-step arrays are time-major ``(T, B)``
float32 (``T`` steps of ``B`` episodes), per-action tables ``(T, B, A)``, integer actions ``(T, B)``.
Agent *i* is the one being trained, *j* its opponent. Arguments documented as "may be boxed" may be
autograd boxes (the functions differentiate through them); arguments documented as constants are used
through their plain values only (``getval``), so no gradient ever flows into them.

The actor objective of the official code (``coin_train.py``, ``coin_agent.py``) is

    L = L_pg + beta_H * L_H + w * L_os,

* ``L_pg = -mean_{t,b} log pi(a_t|h_t) A_t`` and ``L_H = -mean_{t,b} H[pi(.|h_t)]`` (:func:`actor_loss`),
  with the TD(0) advantage ``A_t = r_t + gamma V(h_{t+1}) - V(h_t)``, ``V = sum_a pi Q``
  (:func:`td0_advantages`, :func:`policy_values`). The official code does not stop the gradient of
  ``V`` inside ``A``; the flag ``stop_gradient`` of :func:`td0_advantages` selects the paper's reading.
* ``L_os`` (:func:`shaping_loss`) scores the opponent's actions under a model of the opponent whose
  logit of the taken action is a differentiable estimate of the opponent's return
  (:func:`opponent_return`, :func:`opponent_q_hat`, :func:`opponent_model_log_prob`).

The Q-head is trained by SARSA towards an EMA target (:func:`sarsa_targets`, :func:`q_loss`).

Everything here is first order: forward values equal the plain Monte-Carlo quantities, only
first derivatives carry the opponent-shaping signal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import autograd.numpy as anp
import numpy as np
from autograd.tracer import getval

from pola_nb.numerics import Tensor
from pola_nb.sampled.dice import magic_box, mean, returns_to_go

F32 = np.float32
ShapingKind = Literal["loaded-dice", "loaded-aa", "loaded-ios"]
SHAPING_KINDS: tuple[str, ...] = ("loaded-dice", "loaded-aa", "loaded-ios")

__all__ = [
    "SHAPING_KINDS",
    "OpponentBatch",
    "actor_loss",
    "argmax_targets",
    "huber",
    "mean_entropy",
    "opponent_model_log_prob",
    "opponent_q_hat",
    "opponent_return",
    "policy_values",
    "q_loss",
    "sarsa_targets",
    "shaping_loss",
    "td0_advantages",
]


def _const(x) -> np.ndarray:
    return np.asarray(getval(x), dtype=F32)


def _decay_matrix(T: int, rate: float) -> np.ndarray:
    """Upper-triangular ``M[t, k] = rate^(k - t)`` for ``k >= t`` (0 below the diagonal), float32."""
    d = np.arange(T)[None, :] - np.arange(T)[:, None]
    return np.where(d >= 0, float(rate) ** np.maximum(d, 0).astype(np.float64), 0.0).astype(F32)


# ----------------------------------------------------------------------------------------------
# the differentiable opponent return and the opponent model


def opponent_return(logp_self: Tensor, returns_opp: np.ndarray, values_opp: np.ndarray, gamma: float,
                    lam: float) -> Tensor:
    """DiCE-loaded opponent return ``R~`` ``(T, B)`` (LOQA, ``coin_train.py``).

    ``R~_t = G_t + sum_{k >= t} (gamma lam)^(k - t) (G_k - V_k) d_k``, with
    ``d_k = MB(c_k) - MB(c_{k-1})``, ``c_k = sum_{u <= k} logp_self_u`` and ``MB(c_{-1}) = 1``.

    Args:
        logp_self: ``(T, B)`` log-probabilities of the actions the agent took; may be boxed.
        returns_opp: ``(T, B)`` the opponent's discounted reward-to-go ``G^j_t`` (no bootstrap); constant.
        values_opp: ``(T, B)`` the opponent's values ``V^j(h^j_t)``; constant.
        gamma, lam: discount and the DiCE decay ``lambda_d`` (0.9 in LOQA).

    Every ``d_k`` is 0, so the value equals ``G`` exactly; the first derivative is
    ``dR~_t = sum_{k >= t} (gamma lam)^(k - t) (G_k - V_k) dlog pi(a_k|h_k)``.
    """
    G, V = _const(returns_opp), _const(values_opp)
    T = G.shape[0]
    mb = magic_box(anp.cumsum(logp_self, axis=0))
    mb_prev = anp.concatenate([np.ones_like(G[:1]), mb[:-1]], axis=0)
    weighted = (G - V) * (mb - mb_prev)
    # The backward scan S_t = x_t + gamma lam S_{t+1} as one triangular product.
    return G + anp.dot(_decay_matrix(T, gamma * lam), weighted)


def opponent_q_hat(r_tilde: Tensor, rewards_opp: np.ndarray, gamma: float, current_reward: bool = False) -> Tensor:
    """Differentiable estimate ``Q^_t`` ``(T, B)`` of the opponent's action value.

    With ``current_reward=False`` (LOQA default): ``Q^_t = r^j_t + gamma R~_{t+1}`` for ``t < T - 1`` and
    ``Q^_{T-1} = r^j_{T-1}``, so the agent's simultaneous action ``a_t`` and the last step carry no
    gradient. With ``current_reward=True``: ``Q^_t = R~_t``.

    Args:
        r_tilde: ``(T, B)`` from :func:`opponent_return`; may be boxed.
        rewards_opp: ``(T, B)`` the opponent's rewards; constant.
    """
    if current_reward:
        return r_tilde
    r = _const(rewards_opp)
    return anp.concatenate([r[:-1] + gamma * r_tilde[1:], r[-1:]], axis=0)


def opponent_model_log_prob(q_opp: np.ndarray, q_hat: Tensor, actions_opp: np.ndarray, tau: float = 1.0,
                            stop_normaliser: bool = False) -> Tensor:
    """``log pi^j(b_t | h^j_t)`` ``(T, B)`` of the opponent model.

    The logits are the opponent's Q-values ``q_opp`` with the taken action's entry overwritten by
    ``q_hat``: ``z = Q^j(h^j_t, .)``, ``z[b_t] <- Q^_t``; the result is ``log_softmax(z / tau)[b_t]``.
    Hence ``d/dQ^_t = (1 - pi^(b_t)) / tau``; with ``stop_normaliser=True`` the log-sum-exp normaliser is
    a constant and the derivative is ``1 / tau`` (``utils.py``, ``stop_grad_normalizing_constant``).

    Args:
        q_opp: ``(T, B, A)`` the opponent's Q-values on its own observations; constant.
        q_hat: ``(T, B)`` from :func:`opponent_q_hat`; may be boxed.
        actions_opp: ``(T, B)`` int, the opponent's actions ``b_t``.
    """
    q = _const(q_opp)
    onehot = np.eye(q.shape[-1], dtype=F32)[np.asarray(actions_opp)]
    z = (q * (1.0 - onehot) + onehot * q_hat[..., None]) / tau
    shift = np.max(getval(z), axis=-1, keepdims=True)
    lse = anp.log(anp.sum(anp.exp(z - shift), axis=-1)) + shift[..., 0]
    if stop_normaliser:
        lse = getval(lse)
    return anp.sum(z * onehot, axis=-1) - lse


# ----------------------------------------------------------------------------------------------
# the agent's own terms


def policy_values(logp_table: Tensor, q_table: Tensor) -> Tensor:
    """``V = sum_a pi(a) Q(a)`` over the last axis: ``(..., A), (..., A) -> (...)``; both may be boxed."""
    return anp.sum(anp.exp(logp_table) * q_table, axis=-1)


def td0_advantages(rewards: np.ndarray, values: Tensor, gamma: float, stop_gradient: bool = False) -> Tensor:
    """``A_t = r_t + gamma V_{t+1} - V_t`` ``(T, B)``; ``values`` ``(T + 1, B)`` over ``h_0..h_T`` (no terminal cut).

    ``stop_gradient=False`` (default) is the official LOQA code's behaviour (``coin_train.py``, TD0
    branch): ``values`` (possibly boxed, e.g. from :func:`policy_values`) stay differentiable, so actor
    losses that use ``A`` also push gradients through ``V = sum_a pi Q`` into the actor and the Q-head.
    ``stop_gradient=True`` treats ``A`` as a constant, as the paper presents it.
    """
    if stop_gradient:
        values = _const(values)
    return _const(rewards) + gamma * values[1:] - values[:-1]


def mean_entropy(logp_table: Tensor) -> Tensor:
    """``mean_{t,b} H[pi(.|h_t)]`` of log-probability tables ``(T, B, A)`` (may be boxed); a scalar."""
    return -mean(anp.sum(anp.exp(logp_table) * logp_table, axis=-1))


def actor_loss(logp_table: Tensor, actions: np.ndarray, advantages: Tensor, entropy_weight: float) -> Tensor:
    """``L_pg + beta_H L_H``: ``-mean_{t,b} log pi(a_t|h_t) A_t - beta_H mean_{t,b} H[pi(.|h_t)]``; a scalar.

    Args:
        logp_table: ``(T, B, A)`` the agent's log-probabilities; may be boxed.
        actions: ``(T, B)`` int, the agent's actions.
        advantages: ``(T, B)``; may be boxed (see :func:`td0_advantages`), used as given.
        entropy_weight: ``beta_H`` (0.1 for the Coin Game in LOQA).
    """
    onehot = np.eye(logp_table.shape[-1], dtype=F32)[np.asarray(actions)]
    logp = anp.sum(logp_table * onehot, axis=-1)
    return -mean(logp * advantages) - entropy_weight * mean_entropy(logp_table)


# ----------------------------------------------------------------------------------------------
# the opponent-shaping loss


@dataclass(frozen=True)
class OpponentBatch:
    """The opponent's side of a batch, all constants (time-major).

    Attributes:
        rewards: ``(T, B)`` the opponent's rewards ``r^j_t``.
        values: ``(T, B)`` ``V^j(h^j_t) = sum_b pi_phi Q_phi`` on the opponent's own observations.
        q: ``(T, B, A)`` the opponent's Q-values ``Q_phi(h^j_t, .)`` (only ``loaded-dice`` uses them).
        actions: ``(T, B)`` int, the opponent's actions ``b_t`` (only ``loaded-dice`` uses them).
    """

    rewards: np.ndarray
    values: np.ndarray
    q: np.ndarray | None = None
    actions: np.ndarray | None = None


def shaping_loss(kind: ShapingKind, logp_self: Tensor, advantages: Tensor, opp: OpponentBatch, gamma: float,
                 lam: float, tau: float = 1.0, stop_normaliser: bool = False, current_reward: bool = False) -> Tensor:
    """Opponent-shaping loss ``L_os`` of the agent; a scalar (mean over ``T`` and ``B``).

    With ``G^j`` the opponent's reward-to-go (no bootstrap), ``R~`` from :func:`opponent_return` and ``Q^``
    from :func:`opponent_q_hat`:

    * ``"loaded-dice"`` (LOQA): ``-mean_t log pi^j(b_t) A_t`` with the opponent model of
      :func:`opponent_model_log_prob` (needs ``opp.q`` and ``opp.actions``).
    * ``"loaded-aa"``: ``-mean_t Q^_t A_t``. With ``A`` held fixed its gradient is the Advantage
      Alignment form (Duque et al., ICLR 2025) ``-mean_k dlog pi(a_k) (G^j_k - V^j_k)
      gamma sum_{t<k} (gamma lam)^(k-1-t) A_t``.
    * ``"loaded-ios"``: ``-mean_t 1[A^j_t > 0] A^j_t A_t`` with ``A^j_t = R~_t - V^j_t`` (the mask uses the
      forward value ``G^j_t - V^j_t``); the shaping sum includes the current step.

    Args:
        kind: one of ``SHAPING_KINDS``.
        logp_self: ``(T, B)`` log-probabilities of the agent's actions; may be boxed (the shaping gradient
            flows through it).
        advantages: ``(T, B)`` the agent's advantages ``A^i``; may be boxed (the official code does not
            stop them; pass constants for the paper's reading).
        opp: the opponent's constants (:class:`OpponentBatch`).
        gamma, lam: discount and the DiCE decay ``lambda_d``.
        tau, stop_normaliser: the opponent model's softmax temperature and normaliser stop-gradient
            (``loaded-dice`` only).
        current_reward: ``Q^_t = R~_t`` instead of ``r^j_t + gamma R~_{t+1}`` (``loaded-dice``, ``loaded-aa``).

    The caller multiplies by the weight ``w`` (1 in LOQA).
    """
    rewards_opp, values_opp = _const(opp.rewards), _const(opp.values)
    G = returns_to_go(rewards_opp, gamma).astype(F32)
    r_tilde = opponent_return(logp_self, G, values_opp, gamma, lam)
    if kind == "loaded-ios":
        adv_opp = r_tilde - values_opp
        mask = (G - values_opp > 0).astype(F32)
        return -mean(mask * adv_opp * advantages)
    q_hat = opponent_q_hat(r_tilde, rewards_opp, gamma, current_reward)
    if kind == "loaded-aa":
        return -mean(q_hat * advantages)
    if kind == "loaded-dice":
        if opp.q is None or opp.actions is None:
            raise ValueError("loaded-dice needs the opponent's Q-values and actions")
        logp_model = opponent_model_log_prob(opp.q, q_hat, opp.actions, tau, stop_normaliser)
        return -mean(logp_model * advantages)
    raise ValueError(f"unknown shaping loss {kind!r}; expected one of {SHAPING_KINDS}")


# ----------------------------------------------------------------------------------------------
# the Q loss


def sarsa_targets(rewards: np.ndarray, q_target_taken_next: np.ndarray, v_target_last: np.ndarray,
                  gamma: float) -> np.ndarray:
    """SARSA targets with EMA parameters ``psi`` (LOQA ``qvalue.mode = mean``); constants ``(T, B)``.

    ``y_t = r_t + gamma Q_psi(h_{t+1}, a_{t+1})`` for ``t < T - 1`` and
    ``y_{T-1} = r_{T-1} + gamma sum_a pi_psi(a|h_T) Q_psi(h_T, a)`` (no terminal cut).

    Args:
        rewards: ``(T, B)`` the agent's rewards.
        q_target_taken_next: ``(T - 1, B)`` ``Q_psi(h_{t+1}, a_{t+1})`` for ``t = 0..T-2`` (i.e. the
            target net's Q of the taken actions at steps ``1..T-1``).
        v_target_last: ``(B,)`` ``sum_a pi_psi(a|h_T) Q_psi(h_T, a)``.
    """
    r = _const(rewards)
    q_next, v_last = _const(q_target_taken_next), _const(v_target_last)
    if q_next.shape != (r.shape[0] - 1,) + r.shape[1:] or v_last.shape != r.shape[1:]:
        raise ValueError(f"shapes: rewards {r.shape}, q_target_taken_next {q_next.shape} (want T-1 steps), "
                         f"v_target_last {v_last.shape}")
    boot = np.concatenate([q_next, v_last[None]], axis=0)
    return (r + F32(gamma) * boot).astype(F32)


def argmax_targets(rewards: np.ndarray, q_target_next_table: np.ndarray, gamma: float) -> np.ndarray:
    """Q-learning targets ``y_t = r_t + gamma max_a Q_psi(h_{t+1}, a)`` (LOQA ``qvalue.mode = argmax``); ``(T, B)``.

    ``q_target_next_table``: ``(T, B, A)`` the target net's Q-values on ``h_1..h_T`` (no terminal cut).
    """
    return (_const(rewards) + F32(gamma) * np.max(_const(q_target_next_table), axis=-1)).astype(F32)


def huber(x: Tensor, delta: float = 1.0) -> Tensor:
    """Elementwise Huber loss ``x^2 / 2`` for ``|x| <= delta``, else ``delta (|x| - delta / 2)`` (optax's form)."""
    ax = anp.abs(x)
    quad = anp.minimum(ax, delta)
    return 0.5 * quad**2 + delta * (ax - quad)


def q_loss(q_taken: Tensor, targets: np.ndarray, delta: float = 1.0) -> Tensor:
    """``mean_{t,b} Huber(Q(h_t, a_t) - sg y_t)``; ``q_taken`` ``(T, B)`` may be boxed, ``targets`` are constants."""
    return mean(huber(q_taken - _const(targets), delta))
