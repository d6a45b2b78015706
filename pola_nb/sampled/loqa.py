"""LOQA (Aghajohari et al., ICLR 2024) as a learner type of :mod:`pola_nb.generics`.

One parameter set ``theta = {"pol": actor, "q": Q network}`` plays both seats of a game with
agent-centric observations (self-play). Every update (the official code's ``coin_train.py`` loop):

1. every ``population_every`` updates (from update 0 on) a copy of ``theta`` joins the opponent
   population; each of the ``B`` episodes then draws its opponent uniformly from all snapshots so far
   (``population_every = 0``: the opponent is ``theta`` itself, held constant);
2. ``B`` episodes of ``theta`` in seat 1 against the drawn snapshots in seat 2;
3. one Adam step (``lr_actor``, global-norm clip ``grad_clip``) of the actor objective
   ``L_pg + entropy_beta L_H + shaping_weight L_os`` over all of ``theta``: the TD(0) policy gradient
   with ``V = sum_a pi Q``, the entropy bonus and the opponent-shaping term
   (:func:`pola_nb.sampled.loqa_terms.shaping_loss`) against the opponent's Q-value softmax model;
4. one Adam step (``lr_q``) of the Q network's Huber SARSA loss on the same episodes, against the
   EMA target ``psi``, then ``psi <- ema_keep psi + (1 - ema_keep) theta``.

Both Adam states persist across updates. The Q network sees the observation and the raw step index
``t`` (0..T, not normalised, as in the official code); the actor sees the observation only.
The learner state is ``{"params", "target", "adam", "adam_q", "step", "population"}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from autograd import grad

from pola_nb.generics import dispatch, init_net, net_sequence
from pola_nb.numerics import Tensor
from pola_nb.sampled import tree
from pola_nb.sampled.config import LoqaHyper, RunConfig
from pola_nb.sampled.games import SampledGame
from pola_nb.sampled.loqa_terms import (
    OpponentBatch,
    actor_loss,
    argmax_targets,
    policy_values,
    q_loss,
    sarsa_targets,
    shaping_loss,
    td0_advantages,
)
from pola_nb.sampled.policies import F32, FeedForwardNet, GRUNet, Net, PolicySampler, Recording, log_softmax, taken
from pola_nb.sampled.population import PopulationSampler, draw_population_index, population_sequence


@dataclass(frozen=True)
class Loqa:
    """LOQA with hyperparameters ``hp``, actor network ``actor`` (the run's policy), Q network ``q``
    (input: observation and step index; one output per action), on ``game`` with rollout kernels
    ``backend``."""

    hp: LoqaHyper
    actor: Net
    q: Net
    game: SampledGame
    backend: str = "cpu"


def make_loqa(hp: LoqaHyper, cfg: RunConfig) -> Loqa:
    """The LOQA learner of ``cfg``: the actor is ``cfg``'s policy network; the Q network is a GRU
    (``q_hidden``, ``q_layers_before_gru``) or a feed-forward net over observation + step index."""
    game = cfg.make_game()
    n_in = game.obs_dim + 1
    q = (GRUNet(n_in, game.n_actions, hp.q_hidden, hp.q_layers_before_gru) if hp.q_net == "gru"
         else FeedForwardNet(n_in, game.n_actions, hp.q_hidden))
    return Loqa(hp, cfg.architecture().policy, q, game, cfg.backend)


class Population(list):
    """The opponent population: snapshots ``{"pol", "q"}`` in the order they were taken, with a
    stacked copy of each network's parameters (``(K, ...)`` float32, grown in place) for
    :class:`~pola_nb.sampled.population.PopulationSampler`."""

    def stacked(self, part: str) -> dict[str, np.ndarray]:
        """The first ``len(self)`` snapshots' ``part`` (``"pol"`` or ``"q"``) parameters, stacked."""
        cache = self.__dict__.setdefault("_stacks", {})
        arrays, n = cache.get(part, ({}, 0))
        k = len(self)
        if n < k:
            first = self[0][part]
            cap = next(iter(arrays.values())).shape[0] if arrays else 0
            if cap < k:
                cap = max(2 * cap, k, 16)
                grown = {name: np.empty((cap, *np.shape(v)), F32) for name, v in first.items()}
                for name in grown:
                    grown[name][:n] = arrays[name][:n] if arrays else 0
                arrays = grown
            for i in range(n, k):
                for name, v in self[i][part].items():
                    arrays[name][i] = v
            cache[part] = (arrays, k)
        return {name: a[:k] for name, a in arrays.items()}


class EpsilonGreedy:
    """A rollout-driver agent that plays ``agent`` but, with probability ``epsilon``, a uniformly
    random action instead (the official LOQA IPD rollouts). One uniform per step and episode
    decides both: ``u < epsilon`` picks action ``floor(u / epsilon * A)``, otherwise ``agent`` samples
    with ``(u - epsilon) / (1 - epsilon)``."""

    def __init__(self, agent: Any, epsilon: float, n_actions: int):
        self.agent, self.epsilon, self.n_actions = agent, float(epsilon), int(n_actions)

    def reset(self, batch: int) -> None:
        self.agent.reset(batch)

    def act(self, obs: np.ndarray, last_reward: np.ndarray | None = None, u: np.ndarray | None = None) -> np.ndarray:
        eps = np.float32(self.epsilon)
        explore = u < eps
        rest = np.where(explore, np.float32(0.5), (u - eps) / (np.float32(1) - eps)).astype(F32)
        chosen = self.agent.act(obs, last_reward, rest)
        scaled = np.where(explore, u, np.float32(0)) / (eps if eps > 0 else np.float32(1))
        random = np.minimum((scaled * self.n_actions).astype(np.int32), self.n_actions - 1)
        return np.where(explore, random, chosen).astype(np.int32)


def with_time(obs: np.ndarray) -> np.ndarray:
    """``[o_t, t]``: the observations ``(T', B, n)`` with the step index appended, ``(T', B, n + 1)``."""
    t = np.broadcast_to(np.arange(obs.shape[0], dtype=F32)[:, None, None], (*obs.shape[:2], 1))
    return np.concatenate([obs, t], axis=-1).astype(F32)


# ----------------------------------------------------------------------------------------- one update


def opponent_constants(learner: Loqa, theta: dict, population: Population | None, index: np.ndarray | None,
                       obs2: np.ndarray, actions2: np.ndarray, rewards2: np.ndarray,
                       logits: np.ndarray | None = None) -> OpponentBatch:
    """The opponent's side of a batch from its own observations ``obs2`` ``(T+1, B, n)``: each
    episode's snapshot's Q-values ``(T, B, A)`` and ``V = sum_b pi Q`` ``(T, B)`` (plain numbers).
    ``logits``: the opponent's policy outputs ``(T, B, A)`` along ``obs2[:-1]`` when the rollout
    recorded them (a population sampler's :meth:`recorded_logits`); otherwise they are computed."""
    x, xq = obs2[:-1], with_time(obs2[:-1])
    if population is None:
        if logits is None:
            logits = net_sequence(learner.actor, theta["pol"], x)
        q = net_sequence(learner.q, theta["q"], xq)
    else:
        if logits is None:
            logits = population_sequence(learner.actor, population.stacked("pol"), index, x)
        q = population_sequence(learner.q, population.stacked("q"), index, xq)
    logits, q = np.asarray(logits, F32), np.asarray(q, F32)
    values = policy_values(log_softmax(logits), q)
    return OpponentBatch(rewards=rewards2, values=np.asarray(values, F32), q=q, actions=actions2)


def actor_objective(theta: dict, learner: Loqa, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray,
                    opp: OpponentBatch, known: Recording | None = None) -> Tensor:
    """``L_pg + entropy_beta L_H + shaping_weight L_os`` of one batch (a scalar), differentiable in
    ``theta`` (actor and Q network: the TD advantage is not stopped unless ``stop_td_advantage``).
    ``known``: the actor sampler's recording of its forward pass over ``obs`` (saves recomputing it;
    the value is the same)."""
    hp = learner.hp
    logp = log_softmax(net_sequence(learner.actor, theta["pol"], obs, known))  # (T+1, B, A): pi at h_0..h_T
    q = net_sequence(learner.q, theta["q"], with_time(obs))
    adv = td0_advantages(rewards, policy_values(logp, q), hp.gamma, stop_gradient=hp.stop_td_advantage)
    loss = actor_loss(logp[:-1], actions, adv, hp.entropy_beta)
    if hp.shaping_weight > 0:
        loss = loss + hp.shaping_weight * shaping_loss(
            hp.shaping, taken(logp[:-1], actions), adv, opp, hp.gamma, hp.dice_lambda, hp.temperature,
            hp.stop_normaliser, hp.current_reward)
    return loss


def q_targets(learner: Loqa, target: dict, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray) -> np.ndarray:
    """The Q loss's targets ``(T, B)`` from the EMA parameters ``target`` (``q_mode``: SARSA on the
    next action taken, the last step bootstrapped with ``sum_a pi_psi Q_psi``; or max over actions)."""
    hp = learner.hp
    q = np.asarray(net_sequence(learner.q, target["q"], with_time(obs)), F32)  # (T+1, B, A)
    if hp.q_mode == "argmax":
        return argmax_targets(rewards, q[1:], hp.gamma)
    pi_last = np.exp(log_softmax(np.asarray(net_sequence(learner.actor, target["pol"], obs), F32)[-1]))
    q_next = np.asarray(taken(q[1:-1], actions[1:]), F32)
    return sarsa_targets(rewards, q_next, np.sum(pi_last * q[-1], axis=-1), hp.gamma)


def q_objective(q_params: dict, learner: Loqa, obs: np.ndarray, actions: np.ndarray,
                targets: np.ndarray) -> Tensor:
    """Mean Huber loss of ``Q(h_t, a_t)`` against the constant ``targets`` (a scalar)."""
    return q_loss(taken(net_sequence(learner.q, q_params, with_time(obs[:-1])), actions), targets)


def loqa_update(learner: Loqa, state: dict, seed: int) -> dict:
    """One LOQA update (module docstring) from ``state`` with the random stream ``seed``: the new state."""
    from pola_nb.sampled.rollout import rollout

    hp, rng = learner.hp, np.random.Generator(np.random.PCG64(seed))
    theta, step = state["params"], int(state["step"])
    population = state.get("population")
    if population is not None:
        population = Population(population) if not isinstance(population, Population) else population
        if step % hp.population_every == 0:
            population.append(tree.copy(theta))
    T = learner.game.steps
    me = recorder = PolicySampler(learner.actor, theta["pol"], record=True, steps=T + 1)
    if population is None:
        index, other = None, PolicySampler(learner.actor, theta["pol"])
    else:
        index = draw_population_index(len(population), hp.batch_size, rng)
        other = PopulationSampler(learner.actor, population.stacked("pol"), index, record=True)
    opponent_sampler = other
    if hp.epsilon > 0:
        me, other = (EpsilonGreedy(a, hp.epsilon, learner.game.n_actions) for a in (me, other))
    traj = rollout(learner.game, me, other, hp.batch_size, seed=rng, backend=learner.backend)
    obs, obs2 = traj.observations(0), traj.observations(1)
    recorder.logits(obs[T])  # one more step, at h_T: the recording then covers all of obs (T+1 steps)
    known = recorder.recording()
    actions, actions2 = traj.actions[..., 0].astype(np.int64), traj.actions[..., 1].astype(np.int64)
    rewards, rewards2 = traj.rewards[..., 0], traj.rewards[..., 1]
    opp_logits = opponent_sampler.recorded_logits() if population is not None else None
    opp = opponent_constants(learner, theta, population, index, obs2, actions2, rewards2, opp_logits)

    g = grad(actor_objective)(theta, learner, obs, actions, rewards, opp, known)
    if hp.grad_clip > 0:
        g, _ = tree.clip_by_global_norm(g, hp.grad_clip)
    theta, adam = tree.adam_step(theta, g, state["adam"], hp.lr_actor)

    targets = q_targets(learner, state["target"], obs, actions, rewards)
    gq = grad(q_objective)(theta["q"], learner, obs, actions, targets)
    q_params, adam_q = tree.adam_step(theta["q"], gq, state["adam_q"], hp.lr_q)
    theta = {"pol": theta["pol"], "q": q_params}
    new = {"params": theta, "target": tree.ema(state["target"], theta, hp.ema_keep), "adam": adam,
           "adam_q": adam_q, "step": np.int64(step + 1)}
    if population is not None:
        new["population"] = population
    return new


# ------------------------------------------------------------------------------------------ generics


@dispatch
def init_state(learner: Loqa, game: SampledGame, rng: np.random.Generator) -> dict:
    """Actor then Q network initial parameters (flax initialisers), the EMA target equal to them,
    fresh Adam states, update 0 and an empty population (when one is used)."""
    theta = {"pol": init_net(learner.actor, rng), "q": init_net(learner.q, rng)}
    state = {"params": theta, "target": tree.copy(theta), "adam": tree.adam_init(theta),
             "adam_q": tree.adam_init(theta["q"]), "step": np.int64(0)}
    if learner.hp.population_every > 0:
        state["population"] = Population()
    return state


@dispatch
def step_tasks(learner: Loqa, game: SampledGame, state: dict, rng: np.random.Generator) -> list:
    """One task: :func:`loqa_update` with a seed drawn from ``rng`` (one draw per update)."""
    return [(loqa_update, (learner, state, int(rng.integers(0, 2**63 - 1))))]


@dispatch
def finish_step(learner: Loqa, game: SampledGame, state: dict, results: list) -> dict:
    """The task's new state."""
    return results[0]


@dispatch
def players(learner: Loqa, state: dict) -> tuple:
    """The actor in both seats (each seat sees the game from its own side)."""
    pol: Any = state["params"]["pol"]
    return ({"pol": pol}, {"pol": pol})
