"""Training loop on the exact IPD for a batch of independent runs, and the tit-for-tat criterion."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pola_nb.exact.game import CD, DC, DD, IPDExact, exact_values
from pola_nb.exact.learners import ExactLearner, Side, fit_model, update
from pola_nb.exact.params import probs
from pola_nb.generics import logits

TFT_PROB_THRESHOLD = 0.65
TFT_RETURN_FRACTION = 0.8


def tft_like(q1: np.ndarray, q2: np.ndarray, v1: np.ndarray, v2: np.ndarray,
             max_value: float | np.ndarray) -> np.ndarray:
    """`LOLA_exact.py`'s criterion: both agents defect after the other defected and the mean value exceeds 0.8 x max.

    q1, q2: (..., 5) cooperation probabilities; v1, v2: (...) values. Agent 1 must have
    q1[DD], q1[CD] < 0.65 (states where agent 2 defected); agent 2 q2[DD], q2[DC] < 0.65.
    """
    c = TFT_PROB_THRESHOLD
    agent1 = (q1[..., DD] < c) & (q1[..., CD] < c)
    agent2 = (q2[..., DD] < c) & (q2[..., DC] < c)
    return agent1 & agent2 & ((v1 + v2) / 2 > TFT_RETURN_FRACTION * max_value)


@dataclass
class ExactHistory:
    """What a batch of N runs did over E epochs (index 0 of the epoch axis is the initial policy).

    probs: (E+1, N, 2, 5) cooperation probabilities of agents 1 and 2; values: (E+1, N, 2);
    tft: (E+1, N) criterion per epoch (never counted at index 0); found_tft: (N,) whether any epoch
    >= 1 satisfied it; iterations: (E, N, 2) outer iterations per agent (proximal solves);
    om_iterations: (E, N, 2) opponent-model fitting iterations (zeros without opponent models).
    """

    probs: np.ndarray
    values: np.ndarray
    tft: np.ndarray
    iterations: np.ndarray
    om_iterations: np.ndarray
    found_tft: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.found_tft = self.tft[1:].any(axis=0)


def run_exact(
    game: IPDExact,
    family: Any,
    learner: ExactLearner,
    epochs: int,
    theta1: np.ndarray,
    theta2: np.ndarray,
    om_family: Any = None,
    om_theta: np.ndarray | None = None,
    om_lr: float = 0.2,
    on_epoch: Callable[[int], None] | None = None,
) -> ExactHistory:
    """Train N independent runs for ``epochs`` simultaneous updates of both agents.

    Args:
        game: ``cf`` a scalar or shape (N,).
        family: the agents' parameterisation (both agents).
        learner: hyperparameters, scalars or shape (N,).
        theta1, theta2: initial parameters of agents 1 and 2, (N, n_params).
        om_family, om_theta: with opponent modelling, the models' parameterisation and initial
            parameters (2N, n_om): row i < N is agent 1's model of agent 2, row N + i agent 2's of 1.
            Models are refitted to the true policies at the start of every epoch (warm start).
        on_epoch: called with the epoch number after each epoch (progress bars).
    """
    n = theta1.shape[0]
    cf = np.broadcast_to(np.asarray(game.cf, float), (n,))
    run_game = IPDExact(cf=cf, gamma=game.gamma)  # one row per run
    pair_game = IPDExact(cf=np.concatenate([cf, cf]), gamma=game.gamma)  # one row per agent of each run
    stacked_learner = learner.rows(n).tile(2)  # row i and row n + i are the two agents of run i
    is2 = np.repeat([False, True], n)
    theta = np.concatenate([theta1, theta2])

    def measure():
        q = probs(family, theta)
        q1, q2 = q[:n], q[n:]
        v1, v2 = exact_values(run_game, q1, q2)
        return np.stack([q1, q2], 1), np.stack([v1, v2], 1)

    q, v = measure()
    all_q, all_v = [q], [v]
    iterations = np.zeros((epochs, n, 2), int)
    om_iterations = np.zeros((epochs, n, 2), int)
    for epoch in range(epochs):
        opp_theta = np.concatenate([theta[n:], theta[:n]])
        if om_family is None:
            opp = Side(family, opp_theta)
        else:
            om_theta, om_it = fit_model(Side(om_family, om_theta), logits(family, opp_theta), lr=om_lr)
            om_iterations[epoch] = om_it.reshape(2, n).T
            opp = Side(om_family, om_theta)
        theta, it = update(stacked_learner, pair_game, Side(family, theta), opp, is2)
        iterations[epoch] = it.reshape(2, n).T
        q, v = measure()
        all_q.append(q)
        all_v.append(v)
        if on_epoch is not None:
            on_epoch(epoch + 1)
    P, V = np.array(all_q), np.array(all_v)
    tft = tft_like(P[..., 0, :], P[..., 1, :], V[..., 0], V[..., 1], run_game.max_value)
    return ExactHistory(probs=P, values=V, tft=tft, iterations=iterations, om_iterations=om_iterations)

