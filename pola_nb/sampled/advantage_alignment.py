"""Advantage Alignment (Duque et al., "Advantage Alignment Algorithms", ICLR 2025) as a learner type of
:mod:`pola_nb.generics`: ``aa`` (a policy gradient with the aligned advantage) and ``paa`` (Proximal
AA: the PPO clipped surrogate with KL early stopping).

One parameter set ``theta = {"pol": policy, "val": critic}`` (the run's :class:`Architecture`)
plays both seats of a game with agent-centric observations (self-play). Every update:

1. ``B = batch_size`` episodes of ``theta`` against itself; both seats' episodes are training data,
   stacked along the batch axis as ``2B`` episodes of "me" (seat 1's ``B``, then seat 2's), each
   with the other seat of the same episode as its opponent;
2. advantages from the ONLINE critic's values (plain numbers, before this update's critic step):
   GAE(``gamma``, ``gae_lambda``) with :func:`~pola_nb.sampled.dice.gae_advantages`, then the
   aligned advantage ``A* = aa_advantages(A_me, A_opp, aa_beta, gamma, aa_form, normalise)``, a
   constant (:mod:`pola_nb.sampled.aa_terms`);
3. the policy: ``aa``, one Adam step of ``-mean(A* log pi(a)) - entropy_beta H``; ``paa``, up to
   ``epochs`` Adam steps of ``ppo_loss(log pi, log pi_old, A*) - entropy_beta H`` with
   ``log pi_old`` the first epoch's log-probabilities (so the first epoch has ``rho = 1`` and is the
   vanilla policy gradient), stopping before an epoch when ``approx_kl(old, current)`` exceeds
   ``kl_threshold`` (checked from the second epoch on, i.e. after the first step, as the released
   code's ``train.py`` does). The gradient is clipped to global norm ``grad_clip`` (0: none);
   the policy's Adam state (``lr_actor``) persists across updates and counts optimiser steps;
4. the critic: one Adam step (``lr_critic``, persistent state) of the mean Huber loss of
   ``V(h_t) - sg(r_t + gamma V_target(h_{t+1}))`` over both seats' data, then the Polyak update
   ``target <- polyak critic + (1 - polyak) target``.

Horizon. The episodes have a fixed length ``T`` and are truncated, not terminated: GAE bootstraps
with ``V(h_T)`` and keeps all ``T`` steps (the convention of :mod:`pola_nb.sampled.dice`), and the
critic's TD target has no terminal cut either. The released code (``utils.py``, its GAE) instead
returns ``T - 1`` advantages, dropping the last step, which has no bootstrap there. Keeping it here
gives the last action a learning signal and keeps the data layout ``(T, 2B)`` of every other term.

The learner state is ``{"params", "target_val", "adam", "adam_val", "step"}``: ``params`` is
``theta``, ``target_val`` the critic's Polyak target, ``adam`` the policy's Adam state (over
``theta["pol"]``), ``adam_val`` the critic's, ``step`` the updates done (``np.int64``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import autograd.numpy as anp
import numpy as np
from autograd import grad, value_and_grad
from autograd.tracer import getval

from pola_nb.generics import dispatch
from pola_nb.numerics import Tensor
from pola_nb.sampled import tree
from pola_nb.sampled.aa_terms import aa_advantages, approx_kl, mean_entropy, ppo_loss
from pola_nb.sampled.config import AAHyper, RunConfig
from pola_nb.sampled.dice import gae_advantages, mean
from pola_nb.sampled.games import SampledGame
from pola_nb.sampled.loqa_terms import huber
from pola_nb.sampled.policies import F32, Architecture, PolicySampler, Recording, policy_log_probs, taken, values
from pola_nb.sampled.process import pinned_blas_threads

Params = dict[str, Any]


@dataclass(frozen=True)
class AdvantageAlignment:
    """AA or PAA (``hp.algo``) with hyperparameters ``hp``, the run's policy and critic networks
    ``arch``, on ``game`` with rollout kernels ``backend``."""

    hp: AAHyper
    arch: Architecture
    game: SampledGame
    backend: str = "cpu"


def make_aa(hp: AAHyper, cfg: RunConfig) -> AdvantageAlignment:
    """The Advantage Alignment learner of ``cfg``: its policy and critic (``cfg.architecture()``),
    its game and its backend."""
    return AdvantageAlignment(hp, cfg.architecture(), cfg.make_game(), cfg.backend)


@dataclass(frozen=True)
class SelfPlayBatch:
    """One self-play batch of ``B`` episodes of ``T`` steps, as ``2B`` episodes of "me".

    ``obs``: the two seats' own observations, each ``(T+1, B, n)`` float32 (o_0..o_T; kept apart so
    that each seat's sampler recording, ``known``, matches the rows it saw); ``actions`` ``(T, 2B)``
    int64 and ``rewards`` ``(T, 2B)`` float32 of "me": seat 1's ``B`` episodes, then seat 2's.
    Episode ``i``'s opponent is episode ``(i + B) mod 2B``.
    """

    obs: tuple[np.ndarray, np.ndarray]
    actions: np.ndarray
    rewards: np.ndarray
    known: tuple[Recording | None, Recording | None] = (None, None)

    @property
    def batch(self) -> int:
        """``B``, the episodes per seat."""
        return self.obs[0].shape[1]

    def stacked_obs(self) -> np.ndarray:
        """Both seats' observations ``(T+1, 2B, n)`` (seat 1's episodes first)."""
        return np.concatenate(self.obs, axis=1)


def opponent_view(x: np.ndarray) -> np.ndarray:
    """The opponent's row of every "me" episode: ``x`` ``(T, 2B, ...)`` with its two seat halves swapped."""
    B = x.shape[1] // 2
    return np.concatenate([x[:, B:], x[:, :B]], axis=1)


def self_play(learner: AdvantageAlignment, pol: Params, rng: np.random.Generator) -> SelfPlayBatch:
    """``batch_size`` episodes of the policy ``pol`` in both seats (drawn from ``rng``), both seats'
    data stacked (:class:`SelfPlayBatch`). The samplers record their forward passes (GRU policies),
    so the first scoring of ``pol`` on the batch does not run them again."""
    from pola_nb.sampled.rollout import rollout

    players = [PolicySampler(learner.arch.policy, pol, record=True, steps=learner.game.steps) for _ in range(2)]
    traj = rollout(learner.game, players[0], players[1], learner.hp.batch_size, seed=rng, backend=learner.backend)
    actions = np.concatenate([traj.actions[..., 0], traj.actions[..., 1]], axis=1).astype(np.int64)
    rewards = np.concatenate([traj.rewards[..., 0], traj.rewards[..., 1]], axis=1).astype(F32)
    return SelfPlayBatch((traj.observations(0), traj.observations(1)), actions, rewards,
                         (players[0].recording(), players[1].recording()))


# ----------------------------------------------------------------------------------------- the critic


def td_targets(learner: AdvantageAlignment, target_val: Params, obs: np.ndarray, rewards: np.ndarray) -> np.ndarray:
    """The critic's TD(0) targets ``r_t + gamma V_target(h_{t+1})`` ``(T, 2B)`` (constants; no terminal
    cut) from the stacked observations ``obs`` ``(T+1, 2B, n)`` and rewards ``(T, 2B)``."""
    v = np.asarray(values(learner.arch.value, tree.stop(target_val), obs), F32)  # (T+1, 2B)
    return (rewards + F32(learner.hp.gamma) * v[1:]).astype(F32)


def critic_objective(val: Params, learner: AdvantageAlignment, obs: np.ndarray, targets: np.ndarray,
                     seen: dict | None = None) -> Tensor:
    """``mean_{t,b} Huber(V(h_t) - y_t)`` over ``t < T`` (a scalar), ``targets`` ``y`` ``(T, 2B)``
    constant. ``seen["values"]`` receives the plain values ``(T+1, 2B)`` of this forward pass."""
    v = values(learner.arch.value, val, obs)  # (T+1, 2B)
    if seen is not None:
        seen["values"] = np.asarray(getval(v), F32)
    return mean(huber(v[:-1] - targets))


def critic_grad(learner: AdvantageAlignment, state: dict, batch: SelfPlayBatch) -> tuple[Params, np.ndarray, float]:
    """The critic loss's gradient at the state's online critic: ``(gradient, the online values
    (T+1, 2B) of its forward pass, the loss)``; the gradient has the structure of
    ``state["params"]["val"]``. The values are also the advantages' (one forward pass serves both)."""
    obs = batch.stacked_obs()
    targets = td_targets(learner, state["target_val"], obs, batch.rewards)
    seen: dict = {}
    loss, g = value_and_grad(critic_objective)(state["params"]["val"], learner, obs, targets, seen)
    return g, seen["values"], float(loss)


# ----------------------------------------------------------------------------------------- the policy


def aligned_advantages(learner: AdvantageAlignment, v: np.ndarray, rewards: np.ndarray) -> np.ndarray:
    """``A*`` ``(T, 2B)`` (a constant) from the online values ``v`` ``(T+1, 2B)`` and rewards ``(T, 2B)``
    of the stacked batch: GAE for every "me" episode, its opponent's GAE from the other half."""
    hp = learner.hp
    adv = gae_advantages(rewards, v, hp.gamma, hp.gae_lambda)
    return aa_advantages(adv, opponent_view(adv), hp.aa_beta, hp.gamma, hp.aa_form, hp.normalise)


def log_prob_tables(learner: AdvantageAlignment, pol: Params, batch: SelfPlayBatch) -> Tensor:
    """Log-probability tables ``(T, 2B, A)`` of ``pol`` along both seats' histories (may be boxed);
    each seat's recording is used when ``pol`` holds the arrays that played."""
    return anp.concatenate([policy_log_probs(learner.arch.policy, pol, o[:-1], k)
                            for o, k in zip(batch.obs, batch.known, strict=True)], axis=1)


def policy_objective(pol: Params, learner: AdvantageAlignment, batch: SelfPlayBatch, adv: np.ndarray,
                     logp_old: np.ndarray | None, seen: dict | None = None) -> Tensor:
    """The policy loss of one epoch (a scalar), differentiable in ``pol``.

    ``aa``: ``-mean(A* log pi(a)) - entropy_beta H``; ``paa``: ``ppo_loss(log pi(a), logp_old, A*) -
    entropy_beta H``, with ``logp_old = None`` meaning this forward pass's own values (``rho = 1``).
    ``adv`` ``(T, 2B)`` is ``A*``; ``seen["logp"]`` receives the plain ``log pi(a)`` ``(T, 2B)``.
    """
    hp = learner.hp
    table = log_prob_tables(learner, pol, batch)
    logp = taken(table, batch.actions)
    plain = np.asarray(getval(logp), F32)
    if seen is not None:
        seen["logp"] = plain
    if hp.algo == "aa":
        pg = -mean(logp * adv)
    else:
        pg = ppo_loss(logp, plain if logp_old is None else logp_old, adv, hp.clip)
    return pg - hp.entropy_beta * mean_entropy(table)


def policy_grad(pol: Params, learner: AdvantageAlignment, batch: SelfPlayBatch, adv: np.ndarray,
                logp_old: np.ndarray | None) -> tuple[Params, np.ndarray]:
    """``(gradient of policy_objective in pol, the plain log pi(a) (T, 2B) at pol)``, unclipped."""
    seen: dict = {}
    g = grad(policy_objective)(pol, learner, batch, adv, logp_old, seen)
    return g, seen["logp"]


def policy_epochs(learner: AdvantageAlignment, pol: Params, adam: dict, batch: SelfPlayBatch,
                  adv: np.ndarray) -> tuple[Params, dict, dict]:
    """The policy's steps of one update: ``(policy, Adam state, diagnostics)``.

    ``aa``: one step; ``paa``: up to ``epochs``. Each epoch's forward pass gives the log-probabilities
    of the KL check of the step before it: when ``approx_kl(first epoch's, current) > kl_threshold``
    that epoch's gradient is dropped and the update ends. Diagnostics: ``epochs`` (steps taken),
    ``approx_kl`` (the last KL checked, NaN if none) and ``grad_norm`` (the first gradient's global norm).
    """
    hp = learner.hp
    n = 1 if hp.algo == "aa" else hp.epochs
    logp_old: np.ndarray | None = None
    info = {"epochs": 0, "approx_kl": float("nan"), "grad_norm": float("nan")}
    for epoch in range(n):
        g, logp = policy_grad(pol, learner, batch, adv, logp_old)
        if logp_old is None:
            logp_old = logp
        else:
            info["approx_kl"] = approx_kl(logp_old, logp)
            if info["approx_kl"] > hp.kl_threshold:
                break
        if hp.grad_clip > 0:
            g, norm = tree.clip_by_global_norm(g, hp.grad_clip)
        else:
            norm = float(np.linalg.norm(tree.flat(g)))
        if epoch == 0:
            info["grad_norm"] = norm
        pol, adam = tree.adam_step(pol, g, adam, hp.lr_actor)
        info["epochs"] += 1
    return pol, adam, info


# ----------------------------------------------------------------------------------------- one update


def aa_update(learner: AdvantageAlignment, state: dict, seed: int) -> tuple[dict, dict]:
    """One update (module docstring) from ``state`` with the random stream ``seed``.

    Returns ``(new state, diagnostics)``: the diagnostics of :func:`policy_epochs` plus
    ``critic_loss`` (the Huber loss before the critic's step), floats.
    """
    hp, rng = learner.hp, np.random.Generator(np.random.PCG64(seed))
    theta = state["params"]
    with pinned_blas_threads(1):
        batch = self_play(learner, theta["pol"], rng)
        g_val, v, critic_loss = critic_grad(learner, state, batch)
        adv = aligned_advantages(learner, v, batch.rewards)
        pol, adam, info = policy_epochs(learner, theta["pol"], state["adam"], batch, adv)
        val, adam_val = tree.adam_step(theta["val"], g_val, state["adam_val"], hp.lr_critic)
    new = {"params": {"pol": pol, "val": val},
           "target_val": tree.ema(state["target_val"], val, keep=1.0 - hp.polyak),
           "adam": adam, "adam_val": adam_val, "step": np.int64(int(state["step"]) + 1)}
    return new, {**info, "critic_loss": critic_loss}


# ------------------------------------------------------------------------------------------ generics


@dispatch
def init_state(learner: AdvantageAlignment, game: SampledGame, rng: np.random.Generator) -> dict:
    """Policy then critic initial parameters (flax initialisers), the critic's target equal to it,
    fresh Adam states (policy, critic) and update 0."""
    theta = learner.arch.init(rng)
    return {"params": theta, "target_val": tree.copy(theta["val"]), "adam": tree.adam_init(theta["pol"]),
            "adam_val": tree.adam_init(theta["val"]), "step": np.int64(0)}


@dispatch
def step_tasks(learner: AdvantageAlignment, game: SampledGame, state: dict, rng: np.random.Generator) -> list:
    """One task: :func:`aa_update` with a seed drawn from ``rng`` (one draw per update)."""
    return [(aa_update, (learner, state, int(rng.integers(0, 2**63 - 1))))]


@dispatch
def finish_step(learner: AdvantageAlignment, game: SampledGame, state: dict, results: list) -> dict:
    """The task's new state (its diagnostics are dropped)."""
    return results[0][0]


@dispatch
def players(learner: AdvantageAlignment, state: dict) -> tuple:
    """The policy in both seats (each seat sees the game from its own side)."""
    pol: Any = state["params"]["pol"]
    return ({"pol": pol}, {"pol": pol})
