"""The iterated prisoner's dilemma's rules, written once for the exact and the sampled IPD.

Actions: 0 = D (defect), 1 = C (cooperate). The game is in contribution form with factor ``cf``
(1 < cf < 2): a cooperator pays 1 and each player receives ``cf / 2`` per cooperator, so the
reward of playing ``my`` against ``other`` is ::

    M[my, other] = [[0,          cf/2  ],      my = D
                    [cf/2 - 1,   cf - 1]]      my = C

(with cf = 1.33: CC 0.33 each, temptation 0.665, sucker -0.335, DD 0). Agent 1 gets
``M[a1, a2]``, agent 2 gets ``M[a2, a1]``.

Joint states: the previous joint action in absolute (agent-1-first) order, index ``2 * a1 + a2``,
plus the start state (before the first step)::

    index  0    1    2    3    4
    state  DD   DC   CD   CC   start      (first letter = agent 1's action)

Observation, ``OBS_DIM`` = 6: ``[onehot3(a1), onehot3(a2)]`` of the previous actions with the slots
0 = D, 1 = C, ``START_SLOT`` = 2 (no previous action); both agents see the same vector. The kernels
(``pola_kernels.ipd``) write the same encoding and take the rewards as :func:`payoff_matrix`
flattened.
"""

from __future__ import annotations

import numpy as np

N_ACTIONS = 2  # 0 = D, 1 = C

STATES = ("DD", "DC", "CD", "CC", "start")
DD, DC, CD, CC, START = range(5)

START_SLOT = 2
OBS_DIM = 6  # two one-hots of 3 slots


def payoff_matrix(cf: float | np.ndarray) -> np.ndarray:
    """``M[..., my, other]`` (float64, shape ``cf.shape + (2, 2)``) for a scalar or array ``cf``."""
    cf = np.asarray(cf, dtype=float)
    half = cf / 2
    return np.stack([np.stack([np.zeros_like(cf), half], axis=-1),
                     np.stack([half - 1.0, cf - 1.0], axis=-1)], axis=-2)


def joint_rewards(cf: float | np.ndarray) -> np.ndarray:
    """Rewards of agents 1 and 2 in the joint states DD, DC, CD, CC: shape ``cf.shape + (2, 4)``."""
    m = payoff_matrix(cf)
    lead = m.shape[:-2]
    return np.stack([np.reshape(m, lead + (4,)), np.reshape(np.swapaxes(m, -1, -2), lead + (4,))], axis=-2)


def _observation(p1: int, p2: int) -> np.ndarray:
    obs = np.zeros(OBS_DIM)
    obs[p1] = obs[3 + p2] = 1.0
    return obs


# Observation seen in each of the 5 states (rows in STATES order), shape (5, OBS_DIM).
STATE_OBSERVATIONS = np.array([_observation(*divmod(s, 2)) for s in range(4)]
                              + [_observation(START_SLOT, START_SLOT)])


def observed_states(obs: np.ndarray) -> np.ndarray:
    """Memory-one states of observations ``(..., OBS_DIM)`` as one-hots ``(..., 5)`` float32, in
    the order of ``STATES`` (DD, DC, CD, CC, start)."""
    obs = np.asarray(obs)
    start = obs[..., START_SLOT] > 0.5
    idx = np.where(start, START, 2 * (obs[..., 1] > 0.5) + (obs[..., 3 + 1] > 0.5))
    return np.eye(len(STATES), dtype=np.float32)[idx]
