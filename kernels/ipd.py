"""IPD with full history (the game of the paper's Figure 4; official `ipd_jax.py`), batched over environments.

State, structure of arrays, ``state`` int32 of shape (2, B): the previous actions
``(p1, p2)`` with the one-hot slot coding 0 = D, 1 = C, 2 = start (before the first step).
Observation, float32 (6,): ``[onehot3(p1), onehot3(p2)]`` (``obs``). With ``centric`` agent 2's
observation (``obs2``) is its own-first view ``[onehot3(p2), onehot3(p1)]`` (the two halves swapped,
as in the JAX LOQA code's `ipd.py`); otherwise both agents see ``obs`` and ``obs2`` is not written.
Rewards: ``pay`` is the float32 table ``[M[0,0], M[0,1], M[1,0], M[1,1]]`` of the payoff
matrix ``M[my action, other action]``, passed in by the caller (``pola_nb.ipd_rules`` defines it);
agent 1 gets ``M[a1, a2]``, agent 2 gets ``M[a2, a1]``. The environment draws no random numbers.

Array arguments of the kernels (T steps, B envs):
``us`` (T, 3, B) float32 uniforms [agent 1, agent 2, env]; ``u`` = ``us[t]`` (3, B);
``ext`` (2, B) int8 actions chosen outside (used where a strategy id is ``EXTERNAL``);
``actions`` (T, B, 2) int8; ``rewards`` (T, B, 2) float32; ``obs`` / ``obs2`` (T + 1, B, 6) float32.
``centric`` (bool): write agent 2's own-first view into ``obs2`` too. Fixed strategies read the
state, not the observation, so they act the same whatever the view.
``rollout_pairs`` is ``rollout`` with ``s1``, ``s2`` int8 arrays (B,): a strategy id per environment.
"""

from __future__ import annotations

import functools
from types import SimpleNamespace

from numba import prange
from pola_kernels._compile import compile_game_kernels
from pola_kernels.common import uniform_int  # noqa: F401  (compiled into this module's bodies)
from pola_kernels.config import ALLC, ALLD, EXTERNAL, TFT

START = 2  # slot of "no previous action" (``pola_nb.ipd_rules.START_SLOT``)

# ---------------------------------------------------------------- scalar bodies (written once)


def ipd_strategy(sid, opp_prev, u):
    """Action (0 = D, 1 = C) of fixed strategy ``sid`` given the opponent's previous action."""
    if sid == ALLD:
        return 0
    if sid == ALLC:
        return 1
    if sid == TFT:
        return 1 if opp_prev == START else opp_prev
    return uniform_int(u, 2)


def ipd_turn(s1, s2, e1, e2, p1, p2, u1, u2, pay):
    """One simultaneous step: returns ``(a1, a2, r1, r2)``."""
    a1 = e1 if s1 == EXTERNAL else ipd_strategy(s1, p2, u1)
    a2 = e2 if s2 == EXTERNAL else ipd_strategy(s2, p1, u2)
    return a1, a2, pay[a1 * 2 + a2], pay[a2 * 2 + a1]


def ipd_write_obs(obs, t, i, p1, p2):
    """Row ``obs[t, i]`` = ``[onehot3(p1), onehot3(p2)]`` (the first agent given is the one shown first)."""
    for k in range(3):
        obs[t, i, k] = 1.0 if k == p1 else 0.0
        obs[t, i, 3 + k] = 1.0 if k == p2 else 0.0


def ipd_write_both(obs, obs2, t, i, centric, p1, p2):
    """Agent 1's view into ``obs``; with ``centric`` agent 2's own-first view into ``obs2``."""
    ipd_write_obs(obs, t, i, p1, p2)
    if centric:
        ipd_write_obs(obs2, t, i, p2, p1)


def ipd_env_reset(i, centric, state, obs, obs2):
    state[0, i] = START
    state[1, i] = START
    ipd_write_both(obs, obs2, 0, i, centric, START, START)


def ipd_env_advance(i, t, centric, s1, s2, ext, pay, state, u, actions, rewards, obs, obs2):
    a1, a2, r1, r2 = ipd_turn(s1, s2, ext[0, i], ext[1, i], state[0, i], state[1, i], u[0, i], u[1, i], pay)
    actions[t, i, 0] = a1
    actions[t, i, 1] = a2
    rewards[t, i, 0] = r1
    rewards[t, i, 1] = r2
    state[0, i] = a1
    state[1, i] = a2
    ipd_write_both(obs, obs2, t + 1, i, centric, a1, a2)


def ipd_env_rollout(i, centric, s1, s2, pay, us, actions, rewards, obs, obs2, keep_obs):
    p1 = START
    p2 = START
    if keep_obs:
        ipd_write_both(obs, obs2, 0, i, centric, p1, p2)
    for t in range(us.shape[0]):
        a1, a2, r1, r2 = ipd_turn(s1, s2, 0, 0, p1, p2, us[t, 0, i], us[t, 1, i], pay)
        actions[t, i, 0] = a1
        actions[t, i, 1] = a2
        rewards[t, i, 0] = r1
        rewards[t, i, 1] = r2
        p1 = a1
        p2 = a2
        if keep_obs:
            ipd_write_both(obs, obs2, t + 1, i, centric, p1, p2)


SCALARS = ("uniform_int", "ipd_strategy", "ipd_turn", "ipd_write_obs", "ipd_write_both", "ipd_env_reset",
           "ipd_env_advance", "ipd_env_rollout")

# ---------------------------------------------------------------- kernel wrappers per target


def reset_cpu(centric, state, obs, obs2):
    for i in prange(state.shape[1]):
        ipd_env_reset(i, centric, state, obs, obs2)


def advance_cpu(t, centric, s1, s2, ext, pay, state, u, actions, rewards, obs, obs2):
    for i in prange(state.shape[1]):
        ipd_env_advance(i, t, centric, s1, s2, ext, pay, state, u, actions, rewards, obs, obs2)


def rollout_cpu(centric, s1, s2, pay, us, actions, rewards, obs, obs2, keep_obs):
    for i in prange(us.shape[2]):
        ipd_env_rollout(i, centric, s1, s2, pay, us, actions, rewards, obs, obs2, keep_obs)


def rollout_pairs_cpu(centric, s1, s2, pay, us, actions, rewards, obs, obs2, keep_obs):
    for i in prange(us.shape[2]):
        ipd_env_rollout(i, centric, s1[i], s2[i], pay, us, actions, rewards, obs, obs2, keep_obs)


def reset_cuda(centric, state, obs, obs2):
    for i in range(cuda.grid(1), state.shape[1], cuda.gridsize(1)):  # noqa: F821
        ipd_env_reset(i, centric, state, obs, obs2)


def advance_cuda(t, centric, s1, s2, ext, pay, state, u, actions, rewards, obs, obs2):
    for i in range(cuda.grid(1), state.shape[1], cuda.gridsize(1)):  # noqa: F821
        ipd_env_advance(i, t, centric, s1, s2, ext, pay, state, u, actions, rewards, obs, obs2)


def rollout_cuda(centric, s1, s2, pay, us, actions, rewards, obs, obs2, keep_obs):
    for i in range(cuda.grid(1), us.shape[2], cuda.gridsize(1)):  # noqa: F821
        ipd_env_rollout(i, centric, s1, s2, pay, us, actions, rewards, obs, obs2, keep_obs)


def rollout_pairs_cuda(centric, s1, s2, pay, us, actions, rewards, obs, obs2, keep_obs):
    for i in range(cuda.grid(1), us.shape[2], cuda.gridsize(1)):  # noqa: F821
        ipd_env_rollout(i, centric, s1[i], s2[i], pay, us, actions, rewards, obs, obs2, keep_obs)


@functools.cache
def kernels(target: str) -> SimpleNamespace:
    """Compiled IPD kernels for ``target`` in {"cpu", "cuda"} (see ``compile_game_kernels``)."""
    return compile_game_kernels(globals(), SCALARS, target)
