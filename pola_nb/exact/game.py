"""The iterated prisoner's dilemma with one-step memory, solved exactly.

States are the previous joint action in absolute (agent-1-first) order plus a start state::

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

from pola_nb.errors import require

STATES = ("DD", "DC", "CD", "CC", "start")
DD, DC, CD, CC, START = range(5)


@dataclass(frozen=True)
class IPDExact:
    """Two-player IPD in contribution-game form with discount ``gamma``.

    ``cf`` is the contribution factor, 1 < cf < 2 (a scalar, or an array that broadcasts against the
    batch shape of the policies so that one computation covers several games). A cooperator pays 1
    and each player receives ``cf / 2`` per cooperator, so with cf = 1.33: CC 0.33 each, temptation
    0.665, sucker -0.335, DD 0.
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
        cf = np.asarray(self.cf, dtype=float)[..., None]
        n_coop = np.array([0.0, 1.0, 1.0, 2.0])
        coop1 = np.array([0.0, 0.0, 1.0, 1.0])
        coop2 = np.array([0.0, 1.0, 0.0, 1.0])
        return cf * n_coop / 2 - coop1, cf * n_coop / 2 - coop2

    @property
    def max_value(self) -> np.ndarray:
        """Value of mutual cooperation forever, ``(cf - 1) / (1 - gamma)``."""
        return (np.asarray(self.cf, dtype=float) - 1) / (1 - self.gamma)


def _joint(x1, x2):
    """Joint distribution of (a1, a2) at index 2*a1 + a2, from P(cooperate) of shape (..., n)."""
    a = anp.stack([1 - x1, x1], axis=-1)  # (..., n, 2): P(a1 = D), P(a1 = C)
    b = anp.stack([1 - x2, x2], axis=-1)
    joint = a[..., :, None] * b[..., None, :]  # (..., n, 2, 2)
    return anp.reshape(joint, joint.shape[:-2] + (4,))


def visitation(game: IPDExact, q1, q2):
    """Discounted visitation counts of the 4 joint states, shape ``(..., 4)``; they sum to 1/(1-gamma)."""
    p0 = _joint(q1[..., START], q2[..., START])  # (..., 4)
    P = _joint(q1[..., :4], q2[..., :4])  # (..., 4, 4): rows = current state, columns = next
    A = anp.eye(4) - game.gamma * P
    # M = p0 (I - gamma P)^-1  <=>  (I - gamma P)^T M^T = p0^T
    return anp.linalg.solve(anp.swapaxes(A, -1, -2), p0[..., None])[..., 0]


def exact_values(game: IPDExact, q1, q2):
    """Both agents' exact discounted values.

    Args:
        game: the game (its ``cf`` broadcasts against the leading shape of ``q1``, ``q2``).
        q1, q2: cooperation probabilities of agents 1 and 2, shape ``(..., 5)``, state order
            DD, DC, CD, CC, start.

    Returns:
        ``(v1, v2)``, each of the leading shape ``(...)``; unnormalised discounted sums of rewards.
    """
    r1, r2 = game.rewards
    m = visitation(game, q1, q2)
    return anp.sum(m * r1, axis=-1), anp.sum(m * r2, axis=-1)
