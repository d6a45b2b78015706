"""LOLA-DiCE, POLA-DiCE and POLA-OM (paper Algorithm 2): one generic update serves both agents.

An agent's parameters are ``{"pol": ..., "val": ...}`` (see :mod:`pola_nb.sampled.policies`); a
pair of agents is a tuple ``(agent1, agent2)``. ``me`` is the index (0 or 1) of the agent being
updated; the other index is ``1 - me``. Everything here is a pure function of its inputs: the
update of agent 2 reads the same start-of-update tuple as the update of agent 1, and the new pair is
assembled only after both, so one agent's update can never see the other's new parameters.

A ``rollout`` is any callable ``rollout(samplers, batch, rng) -> trajectory`` where ``samplers`` are
the two players in game order (agent 1 first) and the trajectory has ``obs`` ``(T+1, B, n)``,
``actions`` ``(T, B, 2)`` and ``rewards`` ``(T, B, 2)``. It never sees gradients: the samplers get
the plain numbers of possibly differentiable parameters, and :func:`agent_loss` re-scores the
recorded histories.

Algorithms differ only in their hyperparameters (:class:`Hyper`): LOLA-DiCE is one outer step with
one un-penalised inner step; POLA-DiCE is ``outer_steps`` Adam steps with a KL-penalised outer
objective around ``inner_steps`` chained KL-penalised inner SGD steps; POLA-OM is POLA-DiCE against
a learned opponent model. ``lr_in = 0`` gives naive learning.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from autograd import grad

from pola_nb.errors import require
from pola_nb.numerics import Tensor
from pola_nb.sampled import tree
from pola_nb.sampled.config import Hyper
from pola_nb.sampled.dice import dice_objective, kl_mean, mean, value_loss
from pola_nb.sampled.policies import (
    Architecture,
    Params,
    PolicySampler,
    Recording,
    policy_log_probs,
    score_pair,
    taken,
    values,
)
from pola_nb.sampled.process import pinned_blas_threads

#: One agent's parameters: ``{"pol": policy pytree, "val": value-net pytree}`` (not the rollout
#: driver's :class:`~pola_nb.sampled.rollout.Agent`, which acts in a game).
AgentParams = dict[str, Any]
Rollout = Callable[[list, int, np.random.Generator], Any]


def ordered(me: int, mine: Any, other: Any) -> list:
    """The pair in game order (agent 1 first) given the self agent's index."""
    return [mine, other] if me == 0 else [other, mine]


def samplers(arch: Architecture, me: int, my_pol: Params, other_pol: Params, record: bool = False,
             steps: int | None = None) -> list[PolicySampler]:
    return ordered(me, *(PolicySampler(arch.policy, p, record, steps) for p in (my_pol, other_pol)))


def play(arch: Architecture, me: int, my_pol: Params, other_pol: Params, hp: Hyper, rollout: Rollout,
         rng: np.random.Generator) -> tuple[Any, list[Recording | None]]:
    """One fresh batch of ``hp.batch_size`` episodes, and the two samplers' recordings (game order)
    so that scoring these policies on it does not redo their forward passes."""
    players = samplers(arch, me, my_pol, other_pol, record=True, steps=getattr(getattr(rollout, "game", None),
                                                                                 "steps", None))
    traj = rollout(players, hp.batch_size, rng)
    return traj, [p.recording() for p in players]


def reference_log_probs(arch: Architecture, pol: Params, obs: np.ndarray,
                        known: Recording | None = None) -> np.ndarray:
    """Log-probability tables of a fixed (reference) policy: plain numbers, no gradient."""
    return np.asarray(policy_log_probs(arch.policy, tree.stop(pol), obs, known))


def observations(traj: Any, k: int) -> np.ndarray:
    """Observations ``(T+1, B, n)`` of agent ``k`` (the same array for both agents unless the Coin
    Game is agent-centric)."""
    return traj.observations(k) if hasattr(traj, "observations") else traj.obs


@dataclass(frozen=True)
class GameRollout:
    """The rollout driver of :mod:`pola_nb.sampled.rollout` as a (picklable) ``rollout`` callable."""

    game: Any
    backend: str = "cpu"

    def __call__(self, players, batch, rng):
        from pola_nb.sampled.rollout import rollout

        return rollout(self.game, players[0], players[1], batch, seed=rng, backend=self.backend)


def game_rollout(game: Any, backend: str = "cpu") -> Rollout:
    return GameRollout(game, backend)


def agent_loss(arch: Architecture, agent: AgentParams, other_pol: Params, traj: Any, me: int, hp: Hyper,
               ref_pol: Params | None = None, beta: float = 0.0,
               recordings: Sequence[Recording | None] = (None, None)) -> Tensor:
    """``-J_me + ValueLoss_me + beta * KL(ref, me)`` on one trajectory (paper Algorithm 2); a scalar.

    ``agent`` = the self agent's policy and value parameters (differentiable); ``other_pol`` = the
    other agent's policy parameters (differentiable too: its log-probabilities enter the magic box).
    The KL term is added only when ``beta > 0`` (as in the official code). ``recordings``: the samplers'
    forward passes (game order, see :func:`play`); they only save work, the value is the same.
    """
    obs, obs_other = observations(traj, me), observations(traj, 1 - me)
    known = (recordings[me], recordings[1 - me])
    logp_tab, logp_other_tab, v = score_pair(arch, agent["pol"], other_pol, agent["val"], obs, obs_other, known)
    logp_me = taken(logp_tab, traj.actions[..., me])
    logp_other = taken(logp_other_tab, traj.actions[..., 1 - me])
    r = traj.rewards[..., me]
    loss = -dice_objective(logp_me, logp_other, r, v, hp.gamma, hp.gae_lambda, hp.baseline)
    loss = loss + value_loss(r, v, hp.gamma)
    if beta > 0:
        ref = reference_log_probs(arch, ref_pol, obs[:-1], known[0])  # known: in the first inner step
        loss = loss + beta * kl_mean(ref, logp_tab, hp.kl)
    return loss


def lookahead(arch: Architecture, my_pol: Params, opp0: AgentParams, me: int, hp: Hyper, rollout: Rollout,
              rng: np.random.Generator, value_last: bool = True) -> AgentParams:
    """The opponent after ``inner_steps`` chained SGD steps on its own KL-penalised loss.

    Differentiable w.r.t. ``my_pol`` (second order through every step); each step starts from the
    previous step's result and plays a fresh rollout against ``my_pol``. ``value_last=False`` skips
    the value net's last step (its value parameters are then those after ``inner_steps - 1`` steps):
    the outer objective reads only the looked-ahead policy, and the value net's derivative costs as
    much as the policy's.
    """
    opp = opp0
    lr = {"pol": hp.lr_in, "val": hp.lr_v}
    for k in range(hp.inner_steps):
        traj, rec = play(arch, me, my_pol, opp["pol"], hp, rollout, rng)

        def inner_loss(o, traj=traj, rec=rec):
            return agent_loss(arch, o, my_pol, traj, 1 - me, hp, opp0["pol"], hp.inner_beta, rec)

        if value_last or k < hp.inner_steps - 1:
            opp = tree.sgd_step(opp, grad(inner_loss)(opp), lr)
        else:
            val = opp["val"]
            g = grad(lambda p, val=val, inner_loss=inner_loss: inner_loss({"pol": p, "val": val}))(opp["pol"])
            opp = {"pol": tree.sgd_step(opp["pol"], g, hp.lr_in), "val": val}
    return opp


def outer_loss(arch: Architecture, cur: AgentParams, ref_pol: Params, opp0: AgentParams, me: int, hp: Hyper,
               rollout: Rollout, rng: np.random.Generator, shape_opponent: bool = True) -> Tensor:
    """Outer objective of the self agent: look ahead, then score a fresh rollout (paper Algorithm 2).

    ``shape_opponent=False`` cuts the dependence of the looked-ahead opponent on ``cur`` (used to
    isolate the opponent-shaping term in the estimator check).
    """
    # naive learning (lr_in = 0): the opponent does not move, so its lookahead is skipped
    opp = (lookahead(arch, cur["pol"], opp0, me, hp, rollout, rng, value_last=False)
           if hp.inner_steps and hp.lr_in > 0 else opp0)
    if not shape_opponent:
        opp = tree.stop(opp)
    traj, rec = play(arch, me, cur["pol"], opp["pol"], hp, rollout, rng)
    return agent_loss(arch, cur, opp["pol"], traj, me, hp, ref_pol, hp.outer_beta, rec)


def update(arch: Architecture, agents: tuple[AgentParams, AgentParams], me: int, hp: Hyper, rollout: Rollout,
           rng: np.random.Generator, opponent_model: AgentParams | None = None) -> AgentParams:
    """New parameters of agent ``me`` after one update from the start-of-update pair ``agents``.

    The opponent's start point is ``agents[1 - me]`` or, for POLA-OM, ``opponent_model``. The Adam
    state (lr_out for the policy, lr_v for the value) is created here, so it never carries over.
    """
    ref = tree.stop(agents[me])
    opp0 = tree.stop(opponent_model if opponent_model is not None else agents[1 - me])
    cur = tree.copy(ref)
    state = tree.adam_init(cur)
    lr = {"pol": hp.lr_out, "val": hp.lr_v}
    for _ in range(hp.outer_steps):
        g = grad(outer_loss, 1)(arch, cur, ref["pol"], opp0, me, hp, rollout, rng)
        cur, state = tree.adam_step(cur, g, state, lr)
    return cur


def opponent_model_loss(arch: Architecture, model: AgentParams, traj: Any, opp: int, hp: Hyper) -> Tensor:
    """Behaviour cloning of agent ``opp``: cross-entropy on its actions + value loss on its rewards."""
    obs = observations(traj, opp)
    ce = -mean(taken(policy_log_probs(arch.policy, model["pol"], obs[:-1]), traj.actions[..., opp]))
    return ce + value_loss(traj.rewards[..., opp], values(arch.value, model["val"], obs), hp.gamma)


def fit_opponent_model(arch: Architecture, model: AgentParams, agents: tuple[AgentParams, AgentParams], me: int,
                       hp: Hyper, rollout: Rollout, rng: np.random.Generator) -> AgentParams:
    """Agent ``me``'s model of its opponent after ``om_batches`` fresh rollouts of the true agents,
    ``om_steps`` Adam steps each (Adam(lr_out) policy, Adam(lr_v) value, fresh state, as in the official code)."""
    opp = 1 - me
    model = tree.copy(model)
    state = tree.adam_init(model)
    lr = {"pol": hp.lr_out, "val": hp.lr_v}
    play = [PolicySampler(arch.policy, a["pol"]) for a in agents]
    for _ in range(hp.om_batches):
        traj = rollout(play, hp.batch_size, rng)
        for _ in range(hp.om_steps):
            g = grad(opponent_model_loss, 1)(arch, model, traj, opp, hp)
            model, state = tree.adam_step(model, g, state, lr)
    return model


def agent_step(arch: Architecture, agents: tuple[AgentParams, AgentParams], me: int, hp: Hyper, rollout: Rollout,
               seed: int, model: AgentParams | None = None) -> tuple[AgentParams, AgentParams | None]:
    """Agent ``me``'s part of an update with its own random stream ``seed``: for POLA-OM first refit
    its opponent model, then :func:`update`. Returns ``(new_agent, new_model)``.

    Runs with one BLAS thread whatever the calling process's setting (the rounding of the long
    weight-gradient products depends on the thread count), so the result does not depend on where
    it runs."""
    rng = np.random.Generator(np.random.PCG64(seed))
    with pinned_blas_threads(1):
        if hp.uses_opponent_model:
            require(model is not None, "pola-om needs opponent models")
            model = fit_opponent_model(arch, model, agents, me, hp, rollout, rng)
        return update(arch, agents, me, hp, rollout, rng, model), model


def lola_dice(**kw: Any) -> Hyper:
    """LOLA-DiCE = one outer step, one inner step, no KL penalties."""
    return replace(Hyper(algo="lola-dice", inner_steps=1, outer_steps=1, inner_beta=0.0, outer_beta=0.0), **kw)
