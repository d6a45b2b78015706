"""The rollout driver: play B episodes of T steps of a sampled game and record the trajectory.

Agent interface
---------------
An agent is either a :class:`~pola_nb.sampled.strategies.FixedStrategy` (run inside the kernels)
or any object with two methods (a learned policy's sampler, e.g. a GRU that keeps its carry)::

    reset(batch: int) -> None
        called once before step 0; a recurrent sampler resets its hidden state here.
    act(obs, last_reward, u) -> actions
        obs          (B, obs_dim) float32, this agent's observation o_t at step t
        last_reward  (B,) float32, this agent's own reward of step t-1 (zeros at t = 0)
        u            (B,) float32 uniforms in [0, 1) for sampling (inverse CDF, u < p ...)
        returns      (B,) integer actions in 0 .. n_actions-1

``act`` is called exactly once per step, for t = 0 .. T-1, in order; a recurrent sampler feeds
``obs`` to its cell and keeps the carry between calls. When both agents are fixed strategies the
whole rollout is one kernel call (the fast path); otherwise the driver calls ``act`` of each
learned agent and then one step kernel per time step (fixed strategies still act in the kernel).
:func:`rollout_strategy_pairs` plays several pairs of fixed strategies, each with its own seed, in
one kernel call (a strategy id per environment); each pair's trajectory equals its own rollout.

Random numbers
--------------
``seed`` (an int, or a ``numpy.random.Generator`` that is advanced) gives ``Generator(PCG64(seed))``,
from which float32 uniforms are drawn in this order, C-contiguous:

1. ``u_reset`` (R, B): R = ``game.n_reset_uniforms`` (IPD 0; Coin Game 4: red cell, blue cell,
   coin cell, coin colour);
2. ``u_step`` (T, 3, B): ``u_step[t, 0]`` agent 1's and ``u_step[t, 1]`` agent 2's sampling
   uniforms, ``u_step[t, 2]`` the environment's (the Coin Game's respawn cell; unused in the IPD).

The layout does not depend on the agents or the backend, so the same seed gives bit-identical
trajectories on the CPU and on CUDA, with fixed or learned agents.

Trajectory
----------
See :class:`Trajectory`: observations (T+1, B, obs_dim) float32 including o_0 and o_T, actions
(T, B, 2) int8, rewards (T, B, 2) float32, Coin Game pick-ups (T, B, 4) int8 [RR, RB, BR, BB].
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
from pola_kernels.config import EXTERNAL, U_PER_STEP

from pola_nb.backends import check_backend
from pola_nb.errors import require
from pola_nb.generics import obs_dim
from pola_nb.sampled.games import CoinGame, IPDHistory
from pola_nb.sampled.strategies import FixedStrategy, strategy

Game = IPDHistory | CoinGame


@runtime_checkable
class Agent(Protocol):
    """A policy's sampler as the driver sees it (see the module docstring)."""

    def reset(self, batch: int) -> None: ...

    def act(self, obs: np.ndarray, last_reward: np.ndarray, u: np.ndarray) -> np.ndarray: ...


@dataclass
class Trajectory:
    """B episodes of T steps, time-major. All arrays are host numpy arrays.

    obs      (T+1, B, obs_dim) float32: agent 1's observations o_0 .. o_T (the global view);
             ``None`` when the rollout was asked not to keep observations.
    obs2     agent 2's observations; the same array as ``obs`` unless the game is agent-centric
             (``agent_centric=True``: the Coin Game's channel-swapped view, the IPD's own-first
             ``[onehot3(a2), onehot3(a1)]``).
    actions  (T, B, 2) int8: [agent 1, agent 2] actions a_t.
    rewards  (T, B, 2) float32: rewards r_t of the step taken with a_t.
    pickups  (T, B, 4) int8 Coin Game indicators [RR, RB, BR, BB] of step t; ``None`` for the IPD.
    """

    game: Game
    obs: np.ndarray | None
    obs2: np.ndarray | None
    actions: np.ndarray
    rewards: np.ndarray
    pickups: np.ndarray | None

    @property
    def steps(self) -> int:
        return self.actions.shape[0]

    @property
    def batch(self) -> int:
        return self.actions.shape[1]

    def observations(self, agent: int) -> np.ndarray | None:
        """Observations of agent ``agent`` (0 or 1), shape (T+1, B, obs_dim)."""
        return self.obs if agent == 0 else self.obs2


# ------------------------------------------------------------------------------- random numbers


def draw_uniforms(game: Game, batch: int, steps: int,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``(u_reset (R, B), u_step (T, 3, B))`` float32, drawn in that order (module docstring)."""
    u_reset = rng.random((game.n_reset_uniforms, batch), dtype=np.float32)
    u_step = rng.random((steps, U_PER_STEP, batch), dtype=np.float32)
    return u_reset, u_step


def make_rng(seed: int | np.random.Generator) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    require(isinstance(seed, int | np.integer) and seed >= 0, f"seed must be an integer >= 0, got {seed!r}")
    return np.random.Generator(np.random.PCG64(int(seed)))


# ------------------------------------------------------------------------------- per-game kernels


class _IPDOps:
    """Kernel calls of the IPD (argument order of :mod:`pola_kernels.ipd`)."""

    n_state = 2
    has_pickups = False

    def __init__(self, game: IPDHistory, be: Any):
        self.be, self.k = be, be.ipd
        self.centric = bool(game.agent_centric)
        self.pay = be.to_device(game.payoff_table())

    def fused(self, s1: int, s2: int, ur: Any, us: Any, actions: Any, rewards: Any, pickups: Any, obs: Any,
              obs2: Any, keep_obs: bool) -> None:
        self.be.launch(self.k.rollout, us.shape[2], self.centric, s1, s2, self.pay, us, actions, rewards, obs, obs2,
                       keep_obs, steps=us.shape[0])

    def fused_pairs(self, s1: Any, s2: Any, ur: Any, us: Any, actions: Any, rewards: Any, pickups: Any, obs: Any,
                    obs2: Any, keep_obs: bool) -> None:
        self.be.launch(self.k.rollout_pairs, us.shape[2], self.centric, s1, s2, self.pay, us, actions, rewards, obs,
                       obs2, keep_obs, steps=us.shape[0])

    def reset(self, ur: Any, state: Any, obs: Any, obs2: Any) -> None:
        self.be.launch(self.k.reset, state.shape[1], self.centric, state, obs, obs2)

    def advance(self, t: int, s1: int, s2: int, ext: Any, state: Any, u: Any, actions: Any, rewards: Any,
                pickups: Any, obs: Any, obs2: Any) -> None:
        self.be.launch(self.k.advance, state.shape[1], t, self.centric, s1, s2, ext, self.pay, state, u,
                       actions, rewards, obs, obs2)


class _CoinOps:
    """Kernel calls of the Coin Game (argument order of :mod:`pola_kernels.coin`)."""

    n_state = 11
    has_pickups = True

    def __init__(self, game: CoinGame, be: Any):
        from pola_kernels.coin import ring_table

        self.be, self.k = be, be.coin
        self.n, self.centric = int(game.grid), bool(game.agent_centric)
        self.ring = be.to_device(ring_table(self.n))

    def fused(self, s1: int, s2: int, ur: Any, us: Any, actions: Any, rewards: Any, pickups: Any, obs: Any,
              obs2: Any, keep_obs: bool) -> None:
        self.be.launch(self.k.rollout, us.shape[2], self.n, self.ring, self.centric, s1, s2, ur, us,
                       actions, rewards, pickups, obs, obs2, keep_obs, steps=us.shape[0])

    def fused_pairs(self, s1: Any, s2: Any, ur: Any, us: Any, actions: Any, rewards: Any, pickups: Any, obs: Any,
                    obs2: Any, keep_obs: bool) -> None:
        self.be.launch(self.k.rollout_pairs, us.shape[2], self.n, self.ring, self.centric, s1, s2, ur, us,
                       actions, rewards, pickups, obs, obs2, keep_obs, steps=us.shape[0])

    def reset(self, ur: Any, state: Any, obs: Any, obs2: Any) -> None:
        self.be.launch(self.k.reset, state.shape[1], self.n, self.centric, ur, state, obs, obs2)

    def advance(self, t: int, s1: int, s2: int, ext: Any, state: Any, u: Any, actions: Any, rewards: Any,
                pickups: Any, obs: Any, obs2: Any) -> None:
        self.be.launch(self.k.advance, state.shape[1], t, self.n, self.ring, self.centric, s1, s2, ext, state, u,
                       actions, rewards, pickups, obs, obs2)


def _ops(game: Game, be: Any) -> _IPDOps | _CoinOps:
    if isinstance(game, IPDHistory):
        return _IPDOps(game, be)
    if isinstance(game, CoinGame):
        return _CoinOps(game, be)
    raise TypeError(f"not a sampled game: {game!r}")


def _as_agent(agent: Any) -> Any:
    if isinstance(agent, str):
        return strategy(agent)
    if isinstance(agent, FixedStrategy):
        return agent
    require(hasattr(agent, "reset") and hasattr(agent, "act"),
            f"an agent needs reset(batch) and act(obs, last_reward, u); got {type(agent).__name__}")
    return agent


# ------------------------------------------------------------------------------- the driver


def _sizes(game: Game, batch: Any, steps: Any) -> tuple[int, int]:
    """``(batch, steps)`` as ints, ``steps`` defaulting to ``game.steps``; both must be positive integers."""
    steps = game.steps if steps is None else steps
    for what, v in (("batch", batch), ("steps", steps)):
        require(isinstance(v, int | np.integer) and v > 0, f"{what} must be a positive integer, got {v!r}")
    return int(batch), int(steps)


def rollout(game: Game, agent1: Any, agent2: Any, batch: int, steps: int | None = None,
            seed: int | np.random.Generator = 0, backend: str = "cpu", keep_obs: bool = True) -> Trajectory:
    """Play ``batch`` episodes of ``steps`` (default ``game.steps``) steps; see the module docstring.

    ``agent1``/``agent2``: a strategy name, a :class:`FixedStrategy` or an :class:`Agent`.
    ``keep_obs=False`` skips writing observations (fast path only; ``obs`` is then ``None``).
    """
    from pola_kernels import get_backend

    batch, steps = _sizes(game, batch, steps)
    agents = (_as_agent(agent1), _as_agent(agent2))
    be = get_backend(check_backend(backend))
    ops = _ops(game, be)
    u_reset, u_step = draw_uniforms(game, batch, steps, make_rng(seed))

    fixed = [isinstance(a, FixedStrategy) for a in agents]
    keep = keep_obs or not all(fixed)
    ur, us = be.to_device(u_reset), be.to_device(u_step)
    d = obs_dim(game)
    actions = be.empty((steps, batch, 2), np.int8)
    rewards = be.empty((steps, batch, 2), np.float32)
    pickups = be.empty((steps, batch, 4) if ops.has_pickups else (1, 1, 4), np.int8)
    obs = be.empty((steps + 1, batch, d) if keep else (1, 1, d), np.float32)
    two_views = game.agent_centric and keep
    obs2 = be.empty((steps + 1, batch, d), np.float32) if two_views else obs
    sids = [a.sid if f else EXTERNAL for a, f in zip(agents, fixed, strict=True)]

    if all(fixed):
        ops.fused(sids[0], sids[1], ur, us, actions, rewards, pickups, obs, obs2, keep)
    else:
        _step_loop(ops, be, agents, sids, steps, batch, ur, us, u_step, actions, rewards, pickups, obs, obs2,
                   game.n_actions)

    host_obs = be.to_host(obs) if keep_obs else None
    host_obs2 = (be.to_host(obs2) if two_views else host_obs) if keep_obs else None
    return Trajectory(game=game, obs=host_obs, obs2=host_obs2, actions=be.to_host(actions),
                      rewards=be.to_host(rewards), pickups=be.to_host(pickups) if ops.has_pickups else None)


def rollout_strategy_pairs(game: Game, pairs: list[tuple[Any, Any, int | np.random.Generator]], batch: int,
                           steps: int | None = None, backend: str = "cpu") -> list[Trajectory]:
    """Several pairs of fixed strategies in one kernel call: ``pairs`` holds ``(agent1, agent2, seed)``
    (strategy names or :class:`FixedStrategy`); returns one trajectory per pair, without observations.

    Pair ``p`` plays environments ``p * batch .. (p + 1) * batch - 1`` of one ``rollout_pairs`` launch
    (a strategy id per environment) on the uniforms that ``seed`` draws for it alone, so its trajectory
    equals ``rollout(game, agent1, agent2, batch, steps, seed, backend, keep_obs=False)`` exactly.
    """
    from pola_kernels import get_backend

    batch, steps = _sizes(game, batch, steps)
    require(len(pairs) > 0, "no pairs to play")
    sides = [(_as_agent(a), _as_agent(b)) for a, b, _ in pairs]
    require(all(isinstance(a, FixedStrategy) and isinstance(b, FixedStrategy) for a, b in sides),
            "rollout_strategy_pairs plays fixed strategies only")
    be = get_backend(check_backend(backend))
    ops = _ops(game, be)
    drawn = [draw_uniforms(game, batch, steps, make_rng(seed)) for _, _, seed in pairs]
    envs = len(pairs) * batch
    ur = be.to_device(np.concatenate([u for u, _ in drawn], axis=1))
    us = be.to_device(np.concatenate([u for _, u in drawn], axis=2))
    del drawn
    s1 = be.to_device(np.repeat(np.array([a.sid for a, _ in sides], np.int8), batch))
    s2 = be.to_device(np.repeat(np.array([b.sid for _, b in sides], np.int8), batch))
    actions = be.empty((steps, envs, 2), np.int8)
    rewards = be.empty((steps, envs, 2), np.float32)
    pickups = be.empty((steps, envs, 4) if ops.has_pickups else (1, 1, 4), np.int8)
    obs = be.empty((1, 1, obs_dim(game)), np.float32)
    ops.fused_pairs(s1, s2, ur, us, actions, rewards, pickups, obs, obs, False)
    actions, rewards = be.to_host(actions), be.to_host(rewards)
    pickups = be.to_host(pickups) if ops.has_pickups else None
    out = []
    for p in range(len(pairs)):
        part = slice(p * batch, (p + 1) * batch)
        out.append(Trajectory(game=game, obs=None, obs2=None, actions=np.ascontiguousarray(actions[:, part]),
                              rewards=np.ascontiguousarray(rewards[:, part]),
                              pickups=None if pickups is None else np.ascontiguousarray(pickups[:, part])))
    return out


def _step_loop(ops, be, agents, sids, steps, batch, ur, us, u_step, actions, rewards, pickups, obs, obs2,
               n_actions):
    """Per-step path: learned agents act on the host, the step kernel advances the game."""
    on_host = be.name == "cpu"
    state = be.empty((ops.n_state, batch), np.int32)
    ops.reset(ur, state, obs, obs2)
    learned = [k for k in (0, 1) if sids[k] == EXTERNAL]
    for k in learned:
        agents[k].reset(batch)
    views = (obs, obs2)
    ext = np.zeros((2, batch), np.int8)
    last = np.zeros((2, batch), np.float32)
    for t in range(steps):
        for k in learned:
            o = views[k][t] if on_host else be.to_host(views[k][t])
            a = np.asarray(agents[k].act(o, last[k], u_step[t, k]))
            if a.shape != (batch,):
                raise ValueError(f"agent {k + 1} returned actions of shape {a.shape}, expected ({batch},)")
            if a.min() < 0 or a.max() >= n_actions:
                raise ValueError(f"agent {k + 1} returned an action outside 0..{n_actions - 1}")
            ext[k] = a
        ops.advance(t, sids[0], sids[1], be.to_device(ext), state, us[t],
                    actions, rewards, pickups, obs, obs2)
        r = rewards[t] if on_host else be.to_host(rewards[t])
        last[:] = r.T


# ------------------------------------------------------------------------------- summaries


def scores(traj: Trajectory) -> tuple[float, float]:
    """Per-step mean reward of agent 1 and agent 2 (over time and batch; the "score" of the paper's Figures 4 and 5)."""
    m = traj.rewards.mean(axis=(0, 1), dtype=np.float64)
    return float(m[0]), float(m[1])


def coin_counts(traj: Trajectory) -> dict[str, float]:
    """Coin pick-ups per episode averaged over the batch: keys ``rr``, ``rb``, ``br``, ``bb``."""
    require(traj.pickups is not None, "pick-up counts exist only for the Coin Game")
    c = traj.pickups.sum(axis=0, dtype=np.int64).mean(axis=0)
    return {"rr": float(c[0]), "rb": float(c[1]), "br": float(c[2]), "bb": float(c[3])}


def _ratio(num: float, den: float) -> float:
    return num / den if den > 0 else float("nan")


def own_coin_stats(traj: Trajectory) -> dict[str, float]:
    """Own-coin proportions from the batch-averaged counts (official `result_plots.py`); NaN where nothing was picked.

    ``same``: (RR + BB) / (RR + RB + BR + BB); ``own_coin1``: RR / (RR + RB);
    ``own_coin2``: BB / (BR + BB).
    """
    c = coin_counts(traj)
    return {
        "same": _ratio(c["rr"] + c["bb"], c["rr"] + c["rb"] + c["br"] + c["bb"]),
        "own_coin1": _ratio(c["rr"], c["rr"] + c["rb"]),
        "own_coin2": _ratio(c["bb"], c["br"] + c["bb"]),
    }
