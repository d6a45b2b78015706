"""Learners on the exact IPD: naive, LOLA, outer-POLA (exact proximal step) and POLA with inner prox.

All learners are one configuration of :class:`ExactLearner` and one function, :func:`update`:

1. *lookahead*: starting from the opponent's start-of-update parameters, take ``lookahead_steps``
   differentiable gradient steps of the opponent on its own loss, plus ``beta_in`` times the KL from
   its start policy (LOLA: 1 step, no KL; POLA's inner prox: many KL-penalised steps; naive: none);
2. *outer*: gradient steps of the learner on its loss against the looked-ahead opponent (the
   gradient flows through the lookahead), plus ``beta_out`` times the KL from its own start policy.
   With ``prox=True`` the outer problem is solved to convergence (outer POLA): iterate until the
   policy change between consecutive iterates is below ``prox_tol`` in both KL directions, at most
   ``prox_max_iters`` iterations.

Rows are independent runs. Both agents of a run are rows of the same batch ("me" and "opp" swapped
for agent 2), so one call updates both agents of every run simultaneously from the start-of-update
parameters. KL terms are summed over the 5 states and only computed where some beta is positive.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import autograd.numpy as anp
import numpy as np
from autograd import grad

from pola_nb.errors import require
from pola_nb.exact.game import IPDExact, exact_values
from pola_nb.exact.params import kl_sum, probs
from pola_nb.generics import logits, logits_vjp
from pola_nb.numerics import Tensor, sigmoid

Hyper = Any  # a float, or an array of shape (N,) with one value per row
PER_ROW = ("lr_out", "lr_in", "beta_in", "beta_out")  # the hyperparameters that may differ per row


@dataclass(frozen=True)
class ExactLearner:
    """Hyperparameters of one learner (each may be a scalar or one value per row)."""

    lr_out: Hyper
    lr_in: Hyper = 0.0
    lookahead_steps: int = 1
    beta_in: Hyper = 0.0
    beta_out: Hyper = 0.0
    outer_steps: int = 1
    prox: bool = False
    prox_tol: float = 1e-8
    prox_max_iters: int = 5000

    def __post_init__(self) -> None:
        require(self.lookahead_steps >= 0, "lookahead_steps must be >= 0")
        require(self.outer_steps >= 1, "outer_steps must be >= 1")

    def rows(self, n: int) -> ExactLearner:
        """The same learner with every per-row hyperparameter broadcast to shape (n,)."""
        return replace(self, **{k: np.broadcast_to(np.asarray(getattr(self, k), float), (n,)) for k in PER_ROW})

    def tile(self, reps: int) -> ExactLearner:
        """Per-row hyperparameters (shape (n,)) repeated ``reps`` times end to end, shape (reps * n,)."""
        return replace(self, **{k: np.tile(np.atleast_1d(getattr(self, k)), reps) for k in PER_ROW})


def naive(lr: Hyper) -> ExactLearner:
    return ExactLearner(lr_out=lr, lookahead_steps=0)


def lola(lr_in: Hyper, lr_out: Hyper, steps: int = 1, beta_in: Hyper = 0.0) -> ExactLearner:
    return ExactLearner(lr_out=lr_out, lr_in=lr_in, lookahead_steps=steps, beta_in=beta_in)


def outer_pola(lr_in: Hyper, lr_out: Hyper, beta_out: Hyper, max_iters: int = 5000) -> ExactLearner:
    return ExactLearner(lr_out=lr_out, lr_in=lr_in, beta_out=beta_out, prox=True, prox_max_iters=max_iters)


@dataclass(frozen=True)
class Side:
    """A batch of policies: a parameterisation family and parameters of shape (N, n_params)."""

    family: Any
    theta: np.ndarray


def agent_loss(game: IPDExact, me_family: Any, th_me: Tensor, opp_family: Any, th_opp: Tensor,
               is2: np.ndarray) -> Tensor:
    """Per-row loss ``-V_me`` of shape (N,); ``is2[i]`` says that row i's "me" is agent 2."""
    q_me, q_opp = probs(me_family, th_me), probs(opp_family, th_opp)
    col = is2[:, None]
    v1, v2 = exact_values(game, anp.where(col, q_opp, q_me), anp.where(col, q_me, q_opp))
    return -anp.where(is2, v2, v1)


def _any_positive(x) -> bool:
    return bool(np.any(np.asarray(x) > 0))


def lookahead(learner: ExactLearner, game: IPDExact, me_family: Any, th_me: Tensor, opp: Side,
              is2: np.ndarray) -> Tensor:
    """The opponent's parameters after its differentiable lookahead steps, a function of ``th_me``."""
    ref = logits(opp.family, opp.theta)
    use_kl = _any_positive(learner.beta_in)

    def opp_objective(th_o, th_m):
        loss = agent_loss(game, opp.family, th_o, me_family, th_m, ~is2)
        if use_kl:
            loss = loss + learner.beta_in * kl_sum(ref, logits(opp.family, th_o))
        return anp.sum(loss)

    d_opp = grad(opp_objective)
    th_o = opp.theta
    lr = learner.lr_in[:, None]
    for _ in range(learner.lookahead_steps):
        th_o = th_o - lr * d_opp(th_o, th_me)
    return th_o


def outer_objective(learner: ExactLearner, game: IPDExact, me: Side, opp: Side,
                    is2: np.ndarray) -> Callable[[Tensor], Tensor]:
    """The learner's objective as a function of its parameters (N, n_me) -> scalar (sum over rows).

    ``L_me(theta, lookahead(theta)) + beta_out * KL_sum(pi_start || pi_theta)`` where ``me.theta``
    is the start-of-update parameters (the KL reference); hyperparameters must have shape (N,).
    """
    ref = logits(me.family, me.theta)
    use_kl = _any_positive(learner.beta_out)

    def objective(th_me):
        th_o = lookahead(learner, game, me.family, th_me, opp, is2) if learner.lookahead_steps else opp.theta
        loss = agent_loss(game, me.family, th_me, opp.family, th_o, is2)
        if use_kl:
            loss = loss + learner.beta_out * kl_sum(ref, logits(me.family, th_me))
        return anp.sum(loss)

    return objective


def update(
    learner: ExactLearner, game: IPDExact, me: Side, opp: Side, is2: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """One update of every row's "me" against its (looked-ahead) opponent.

    Args:
        learner: hyperparameters (scalars or shape (N,)).
        game: the game, its ``cf`` of shape (N,) or scalar.
        me: the learners, theta (N, n_me); their start-of-update parameters.
        opp: the opponents (true policies or opponent models) at the start of the update, (N, n_opp).
        is2: bool (N,), True where "me" is agent 2.

    Returns:
        ``(theta_new, iterations)``: new parameters (N, n_me) and the number of outer iterations
        each row took (the proximal solve stops rows independently).
    """
    n = me.theta.shape[0]
    learner = learner.rows(n)
    d_me = grad(outer_objective(learner, game, me, opp, is2))
    lr = learner.lr_out[:, None]
    theta = me.theta
    if not learner.prox:
        for _ in range(learner.outer_steps):
            theta = theta - lr * d_me(theta)
        return theta, np.full(n, learner.outer_steps)

    active = np.ones(n, bool)
    iters = np.zeros(n, int)
    old_l = logits(me.family, theta)
    for _ in range(learner.prox_max_iters):
        new = theta - lr * d_me(theta)
        new_l = logits(me.family, new)
        converged = (kl_sum(old_l, new_l) < learner.prox_tol) & (kl_sum(new_l, old_l) < learner.prox_tol)
        iters += active
        step = active & ~converged
        theta = np.where(step[:, None], new, theta)
        old_l = np.where(step[:, None], new_l, old_l)  # the logits of theta, carried to the next iteration
        active = step
        if not active.any():
            break
    return theta, iters


def fit_model(model: Side, target_logits: np.ndarray, lr: float = 0.2, tol: float = 1e-7,
              max_iters: int = 10_000) -> tuple[np.ndarray, np.ndarray]:
    """Fit opponent models to true policies by SGD on KL_sum(pi_true || pi_model) (paper Appendix B.1.6).

    Rows stop independently once their KL is at most ``tol``. Returns ``(theta, iterations)``.
    The gradient of the KL with respect to the model's logits is ``sigmoid(model) - sigmoid(target)``,
    pulled back through the parameterisation by ``logits_vjp`` (plain numpy, no autograd).
    """
    p = sigmoid(target_logits)
    theta = np.array(model.theta, dtype=float)
    iters = np.zeros(theta.shape[0], int)
    for _ in range(max_iters):
        z = logits(model.family, theta)
        active = kl_sum(target_logits, z) > tol
        if not active.any():
            break
        step = lr * logits_vjp(model.family, theta[active], sigmoid(z[active]) - p[active])
        theta[active] -= step
        iters += active
    return theta, iters
