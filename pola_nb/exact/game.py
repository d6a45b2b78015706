"""The iterated prisoner's dilemma with one-step memory, solved exactly.

States are the previous joint action in absolute (agent-1-first) order plus a start state, as
defined in :mod:`pola_nb.ipd_rules`::

    index  0    1    2    3    4
    state  DD   DC   CD   CC   start      (first letter = agent 1's action, C = cooperate)

A policy is the vector ``q`` of cooperation probabilities in those 5 states, the same state order
for both agents (no perspective swap: agent 2's "I cooperated, the other defected" is index 1).

The discounted value of agent k is ``V_k = p0 (I - gamma P)^-1 r_k`` where ``p0`` is the
distribution of the first joint action (both agents act on their start-state probability) and ``P``
the 4x4 transition matrix between joint actions. ``V`` is not normalised by ``1 - gamma``: mutual
cooperation is worth ``(cf - 1) / (1 - gamma)``.

Everything is written with ``autograd.numpy`` and broadcasts over leading batch dimensions, so the
values of many independent runs (and many contribution factors) are one computation and can be
differentiated to any order.
"""

from __future__ import annotations

from dataclasses import dataclass

import autograd.numpy as anp
import numpy as np
from autograd.extend import defvjp, primitive

from pola_nb.errors import require
from pola_nb.ipd_rules import CC, CD, DC, DD, START, STATES, joint_rewards  # noqa: F401  (state names re-exported)
from pola_nb.numerics import Tensor


@dataclass(frozen=True)
class IPDExact:
    """Two-player IPD in contribution-game form with discount ``gamma``.

    ``cf`` is the contribution factor, 1 < cf < 2 (a scalar, or an array that broadcasts against the
    batch shape of the policies so that one computation covers several games). A cooperator pays 1
    and each player receives ``cf / 2`` per cooperator, so with cf = 1.33: CC 0.33 each, temptation
    0.665, sucker -0.335, DD 0 (:func:`pola_nb.ipd_rules.payoff_matrix`).
    """

    cf: float | np.ndarray = 1.33
    gamma: float = 0.96

    def __post_init__(self) -> None:
        cf = np.asarray(self.cf, dtype=float)
        require(bool(np.all((cf > 1) & (cf < 2))), f"contribution factor must lie in (1, 2), got {self.cf}")
        require(0 < self.gamma < 1, f"gamma must lie in (0, 1), got {self.gamma}")

    @property
    def rewards(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-joint-state rewards ``(r1, r2)``, each of shape ``cf.shape + (4,)`` (states DD, DC, CD, CC)."""
        r = joint_rewards(self.cf)
        return r[..., 0, :], r[..., 1, :]

    @property
    def max_value(self) -> np.ndarray:
        """Value of mutual cooperation forever, ``(cf - 1) / (1 - gamma)``."""
        return (np.asarray(self.cf, dtype=float) - 1) / (1 - self.gamma)


def _transition_rows(q):
    """Next-joint-action distributions from each of the 5 states, shape (..., 5, 4).

    ``q`` holds both agents' cooperation probabilities, shape (..., 2, 5). Row s < 4 of the result is
    row s of the transition matrix P; row 4 (the start state) is the distribution p0 of the first
    joint action. Column 2*a1 + a2 is the joint action (a1, a2), 1 = cooperate. Also returns the
    per-agent action probabilities U (..., 2, 5, 2), U[..., k, s, a] = P(agent k plays a in s).
    """
    u = anp.stack([1 - q, q], axis=-1)
    joint = u[..., 0, :, :, None] * u[..., 1, :, None, :]  # (..., 5, 2, 2)
    return anp.reshape(joint, joint.shape[:-2] + (4,)), u


def _solve_visitation(rows, gamma):
    """``M = p0 (I - gamma P)^-1`` (..., 4) and ``A = I - gamma P`` from :func:`_transition_rows`."""
    A = anp.eye(4) - gamma * rows[..., :4, :]
    return anp.linalg.solve(anp.swapaxes(A, -1, -2), rows[..., 4, :, None])[..., 0], A


def values_composite(q: Tensor, r: Tensor, gamma: float) -> Tensor:
    """Both values, (..., 2), written with autograd.numpy primitives only (the slow, plain twin).

    q: (..., 2, 5) cooperation probabilities of agents 1 and 2; r: (..., 2, 4) their rewards.
    """
    m, _ = _solve_visitation(_transition_rows(q)[0], gamma)
    return anp.sum(m[..., None, :] * r, axis=-1)


@primitive
def values_fused(q, r, gamma):
    """Same as :func:`values_composite`, as one autograd primitive (fewer traced operations).

    Its adjoint :func:`values_adjoint` is itself written in autograd.numpy, so gradients of any
    order still work: the second-order LOLA/POLA objectives differentiate through it.
    """
    return values_composite(q, r, gamma)


def values_adjoint(q: Tensor, r: Tensor, gamma: float, g: Tensor) -> Tensor:
    """Vector-Jacobian product of the values with respect to q: (..., 2, 5) for a cotangent g (..., 2).

    With x = A^-1 w for the cotangent-weighted rewards w = g1 r1 + g2 r2, the value g . V = p0 . x
    has gradient x with respect to p0 and gamma M^T x^T with respect to P; the chain rule through the
    product form P[s, (a1, a2)] = U1[s, a1] U2[s, a2] gives the gradient with respect to q.
    """
    rows, u = _transition_rows(q)
    m, A = _solve_visitation(rows, gamma)
    w = anp.sum(g[..., :, None] * r, axis=-2)  # (..., 4)
    x = anp.linalg.solve(A, w[..., None])[..., 0]
    d_rows = anp.concatenate([gamma * m[..., :, None] * x[..., None, :], x[..., None, :]], axis=-2)
    d = anp.reshape(d_rows, d_rows.shape[:-1] + (2, 2))  # (..., 5, a1, a2)
    dq1 = anp.sum((d[..., 1, :] - d[..., 0, :]) * u[..., 1, :, :], axis=-1)
    dq2 = anp.sum((d[..., :, 1] - d[..., :, 0]) * u[..., 0, :, :], axis=-1)
    return anp.stack([dq1, dq2], axis=-2)


defvjp(values_fused, lambda ans, q, r, gamma: lambda g: values_adjoint(q, r, gamma, g))


def visitation(game: IPDExact, q1: Tensor, q2: Tensor) -> Tensor:
    """Discounted visitation counts of the 4 joint states, shape ``(..., 4)``; they sum to 1/(1-gamma)."""
    return _solve_visitation(_transition_rows(anp.stack([q1, q2], axis=-2))[0], game.gamma)[0]


def exact_values(game: IPDExact, q1: Tensor, q2: Tensor) -> tuple[Tensor, Tensor]:
    """Both agents' exact discounted values.

    Args:
        game: the game (its ``cf`` broadcasts against the leading shape of ``q1``, ``q2``).
        q1, q2: cooperation probabilities of agents 1 and 2, shape ``(..., 5)``, state order
            DD, DC, CD, CC, start.

    Returns:
        ``(v1, v2)``, each of the leading shape ``(...)``; unnormalised discounted sums of rewards.
    """
    v = values_fused(anp.stack([q1, q2], axis=-2), anp.stack(game.rewards, axis=-2), game.gamma)
    return v[..., 0], v[..., 1]
