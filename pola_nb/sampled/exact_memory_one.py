"""Exact T-step objective of memory-one tabular policies on the full-history IPD (a test oracle).

With :class:`~pola_nb.sampled.policies.MemoryOneTable` policies the joint action is a Markov chain
over DD, DC, CD, CC (agent 1 first, C = action 1) started from the start state, so the expected
truncated discounted return that the DiCE estimator targets,

    J_k = E[ sum_{t<T} gamma^t r_k(a_t) + gamma^T V_k(o_T) ],

is a dynamic programme over the 4-state distribution of the joint action. ``V_k`` is the agent's
(tabular, constant) value table used to bootstrap at the truncation, exactly the term that the
GAE baseline with bootstrap adds. Written with ``autograd.numpy``: exact first and second
derivatives w.r.t. both policy tables, to compare with the sampled DiCE estimates.
"""

from __future__ import annotations

import autograd.numpy as anp
import numpy as np

from pola_nb.ipd_rules import joint_rewards
from pola_nb.numerics import Tensor
from pola_nb.sampled.policies import log_softmax


def payoffs(cf: float) -> np.ndarray:
    """Rewards ``(2, 4)`` of agents 1 and 2 for joint actions DD, DC, CD, CC."""
    return joint_rewards(cf)


def joint_transition(table1: Tensor, table2: Tensor) -> Tensor:
    """``P[s, s']`` ``(5, 4)``: joint-action distribution after state s (DD, DC, CD, CC, start)."""
    p1 = anp.exp(log_softmax(table1))  # (5, 2): [P(D), P(C)] per state
    p2 = anp.exp(log_softmax(table2))
    # s' = 2 a1 + a2
    return anp.concatenate([p1[:, a1:a1 + 1] * p2[:, a2:a2 + 1] for a1 in (0, 1) for a2 in (0, 1)], axis=1)


def exact_objectives(table1: Tensor, table2: Tensor, cf: float, gamma: float, T: int,
                     terminal_values: np.ndarray | None = None) -> tuple[Tensor, Tensor]:
    """``(J_1, J_2)`` for policy logit tables ``(5, 2)``; ``terminal_values`` ``(2, 5)`` or None."""
    P = joint_transition(table1, table2)
    r = payoffs(cf)
    dist = P[4]  # distribution of a_0
    J = anp.zeros(2)
    for t in range(T):
        J = J + gamma**t * anp.dot(r, dist)
        if t < T - 1:
            dist = anp.dot(dist, P[:4])
    if terminal_values is not None:
        J = J + gamma**T * anp.dot(np.asarray(terminal_values)[:, :4], dist)
    return J[0], J[1]
