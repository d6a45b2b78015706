"""Coin Game on an N x N torus (Figure 5; official `coin_game_jax.py`), batched over environments.

Positions are (row, col) pairs. Actions: 0 = right (col + 1), 1 = left (col - 1),
2 = down (row + 1), 3 = up (row - 1), all modulo N. Agent 1 = red, agent 2 = blue.

State, structure of arrays, ``state`` int32 of shape (11, B), rows
``[red_r, red_c, blue_r, blue_c, coin_r, coin_c, coin_is_red, mode1, mode2, last_r1, last_r2]``:
``mode`` is a fixed TFT strategy's mode (0 cooperate, 1 defect) and ``last_r`` the agent's reward
of the previous step (Coin Game rewards are integers: +1, -2, -1 or 0).

Observation, float32 (4 N^2,): channels [red position, blue position, red coin, blue coin],
each N x N, flattened channel-major (flat cell = row * N + col). With ``centric`` agent 2's
observation (``obs2``) has the channels swapped to [blue, red, blue coin, red coin].

``ring`` int32 (3 n,): ``ring[x + n] = x mod n`` for x in -n .. 2n-1, the wrap-around table
(see :func:`ring_table`).

Uniforms: ``ur`` (4, B) at reset [red cell, blue cell, coin cell, colour]; ``us`` (T, 3, B) per
step [agent 1, agent 2, coin respawn cell]; ``u = us[t]`` (3, B) in the per-step kernel.
Outputs: ``actions`` (T, B, 2) int8, ``rewards`` (T, B, 2) float32, ``pickups`` (T, B, 4) int8
[RR, RB, BR, BB] (red picks red, red picks blue, blue picks red, blue picks blue),
``obs`` / ``obs2`` (T + 1, B, 4 N^2) float32. ``ext`` (2, B) int8: actions chosen outside.
``rollout_pairs`` is ``rollout`` with ``s1``, ``s2`` int8 arrays (B,): a strategy id per environment.
"""

from __future__ import annotations

import functools
from types import SimpleNamespace

import numpy as np
from numba import prange
from pola_kernels._compile import compile_game_kernels
from pola_kernels.common import uniform_int  # noqa: F401  (compiled into this module's bodies)
from pola_kernels.config import ALLC, ALLD, EXTERNAL, MODE_COOP, MODE_DEFECT, TFT


def ring_table(n: int) -> np.ndarray:
    """int32 (3 n,): entry ``x + n`` is ``x mod n`` for ``x`` in -n .. 2n-1."""
    return (np.arange(-n, 2 * n) % n).astype(np.int32)


# ---------------------------------------------------------------- scalar bodies (written once)


def coin_move(r, c, a, n, ring):
    """Torus move by table look-up (``ring[x + n] = x mod n``).

    Without branches: random actions make the wrap-around unpredictable, and compilers turn a
    loop-carried select back into a branch.
    """
    dc = int(a == 0) - int(a == 1)
    dr = int(a == 2) - int(a == 3)
    return ring[r + dr + n], ring[c + dc + n]


def coin_place(n, rr, rc, br, bc, u):
    """Cell (row, col) drawn uniformly among the cells under neither agent."""
    p_red = rr * n + rc
    p_blue = br * n + bc
    lo = min(p_red, p_blue)
    hi = max(p_red, p_blue)
    free = n * n - 1 if lo == hi else n * n - 2
    k = uniform_int(u, free)
    if k >= lo:  # the k-th free cell in increasing flat order: skip the occupied ones
        k += 1
        if lo != hi and k >= hi:
            k += 1
    return k // n, k % n


def coin_greedy(n, ring, r, c, cr, cc):
    """Shortest torus step towards the coin; vertical moves take priority, as in the official code."""
    right = ring[cc - c + n]
    left = ring[c - cc + n]
    down = ring[cr - r + n]
    up = ring[r - cr + n]
    a = 0
    if left < right:
        a = 1
    if down < up:
        a = 2
    if up < down:
        a = 3
    return a


def coin_strategy(sid, me, n, ring, rr, rc, br, bc, cr, cc, red, mode, u):
    """Action of fixed strategy ``sid`` for agent ``me`` (0 red, 1 blue)."""
    if sid == ALLD or sid == ALLC or sid == TFT:
        if me == 0:
            a = coin_greedy(n, ring, rr, rc, cr, cc)
            mine = red == 1
        else:
            a = coin_greedy(n, ring, br, bc, cr, cc)
            mine = red == 0
        if sid == ALLD or (sid == TFT and mode == MODE_DEFECT) or mine:
            return a
        return a ^ 1  # cooperative: the opposite move (right <-> left, down <-> up)
    return uniform_int(u, 4)


def coin_mode(mode, last):
    if last < 0:
        return MODE_DEFECT
    if last > 0:
        return MODE_COOP
    return mode


def coin_turn(n, ring, s1, s2, e1, e2, rr, rc, br, bc, cr, cc, red, m1, m2, l1, l2, u1, u2, ue):
    """One simultaneous step.

    Returns ``(a1, a2, rr, rc, br, bc, cr, cc, red, m1, m2, r1, r2, RR, RB, BR, BB)``.
    """
    if s1 == TFT:
        m1 = coin_mode(m1, l1)
    if s2 == TFT:
        m2 = coin_mode(m2, l2)
    a1 = e1 if s1 == EXTERNAL else coin_strategy(s1, 0, n, ring, rr, rc, br, bc, cr, cc, red, m1, u1)
    a2 = e2 if s2 == EXTERNAL else coin_strategy(s2, 1, n, ring, rr, rc, br, bc, cr, cc, red, m2, u2)
    rr, rc = coin_move(rr, rc, a1, n, ring)
    br, bc = coin_move(br, bc, a2, n, ring)
    red_get = 1 if (rr == cr and rc == cc) else 0
    blue_get = 1 if (br == cr and bc == cc) else 0
    p_rr = red_get * red
    p_rb = red_get * (1 - red)
    p_br = blue_get * red
    p_bb = blue_get * (1 - red)
    r1 = red_get - 2 * p_br
    r2 = blue_get - 2 * p_rb
    if red_get + blue_get > 0:
        cr, cc = coin_place(n, rr, rc, br, bc, ue)
        red = 1 - red
    return a1, a2, rr, rc, br, bc, cr, cc, red, m1, m2, r1, r2, p_rr, p_rb, p_br, p_bb


def coin_write_obs(obs, t, i, n, rr, rc, br, bc, cr, cc, red, swap):
    n2 = n * n
    for k in range(4 * n2):
        obs[t, i, k] = 0.0
    own = rr * n + rc
    other = br * n + bc
    coin_ch = 2 if red == 1 else 3
    if swap:
        own, other = other, own
        coin_ch = 5 - coin_ch
    obs[t, i, own] = 1.0
    obs[t, i, n2 + other] = 1.0
    obs[t, i, coin_ch * n2 + cr * n + cc] = 1.0


def coin_write_both(obs, obs2, t, i, n, centric, rr, rc, br, bc, cr, cc, red):
    coin_write_obs(obs, t, i, n, rr, rc, br, bc, cr, cc, red, False)
    if centric:
        coin_write_obs(obs2, t, i, n, rr, rc, br, bc, cr, cc, red, True)


def coin_reset(n, u0, u1, u2, u3):
    """Returns ``(rr, rc, br, bc, cr, cc, red)`` of a fresh episode."""
    p_red = uniform_int(u0, n * n)
    p_blue = uniform_int(u1, n * n)
    rr = p_red // n
    rc = p_red % n
    br = p_blue // n
    bc = p_blue % n
    cr, cc = coin_place(n, rr, rc, br, bc, u2)
    return rr, rc, br, bc, cr, cc, uniform_int(u3, 2)


def coin_store_state(state, i, rr, rc, br, bc, cr, cc, red, m1, m2, l1, l2):
    """Store env i's state in the (11, B) structure of arrays: positions, coin, colour, TFT modes, last rewards."""
    state[0, i] = rr
    state[1, i] = rc
    state[2, i] = br
    state[3, i] = bc
    state[4, i] = cr
    state[5, i] = cc
    state[6, i] = red
    state[7, i] = m1
    state[8, i] = m2
    state[9, i] = l1
    state[10, i] = l2


def coin_write_step(actions, rewards, pickups, t, i, a1, a2, r1, r2, p_rr, p_rb, p_br, p_bb):
    """Record step t of env i: both actions, both rewards and the RR, RB, BR, BB pick-up indicators."""
    actions[t, i, 0] = a1
    actions[t, i, 1] = a2
    rewards[t, i, 0] = r1
    rewards[t, i, 1] = r2
    pickups[t, i, 0] = p_rr
    pickups[t, i, 1] = p_rb
    pickups[t, i, 2] = p_br
    pickups[t, i, 3] = p_bb


def coin_env_reset(i, n, centric, ur, state, obs, obs2):
    rr, rc, br, bc, cr, cc, red = coin_reset(n, ur[0, i], ur[1, i], ur[2, i], ur[3, i])
    coin_store_state(state, i, rr, rc, br, bc, cr, cc, red, MODE_COOP, MODE_COOP, 0, 0)
    coin_write_both(obs, obs2, 0, i, n, centric, rr, rc, br, bc, cr, cc, red)


def coin_env_advance(i, t, n, ring, centric, s1, s2, ext, state, u, actions, rewards, pickups, obs, obs2):
    a1, a2, rr, rc, br, bc, cr, cc, red, m1, m2, r1, r2, p_rr, p_rb, p_br, p_bb = coin_turn(
        n, ring, s1, s2, ext[0, i], ext[1, i], state[0, i], state[1, i], state[2, i], state[3, i],
        state[4, i], state[5, i], state[6, i], state[7, i], state[8, i], state[9, i], state[10, i],
        u[0, i], u[1, i], u[2, i])
    coin_store_state(state, i, rr, rc, br, bc, cr, cc, red, m1, m2, r1, r2)
    coin_write_step(actions, rewards, pickups, t, i, a1, a2, r1, r2, p_rr, p_rb, p_br, p_bb)
    coin_write_both(obs, obs2, t + 1, i, n, centric, rr, rc, br, bc, cr, cc, red)


def coin_env_rollout(i, n, ring, centric, s1, s2, ur, us, actions, rewards, pickups, obs, obs2, keep_obs):
    rr, rc, br, bc, cr, cc, red = coin_reset(n, ur[0, i], ur[1, i], ur[2, i], ur[3, i])
    m1 = MODE_COOP
    m2 = MODE_COOP
    l1 = 0
    l2 = 0
    if keep_obs:
        coin_write_both(obs, obs2, 0, i, n, centric, rr, rc, br, bc, cr, cc, red)
    for t in range(us.shape[0]):
        a1, a2, rr, rc, br, bc, cr, cc, red, m1, m2, l1, l2, p_rr, p_rb, p_br, p_bb = coin_turn(
            n, ring, s1, s2, 0, 0, rr, rc, br, bc, cr, cc, red, m1, m2, l1, l2,
            us[t, 0, i], us[t, 1, i], us[t, 2, i])
        coin_write_step(actions, rewards, pickups, t, i, a1, a2, l1, l2, p_rr, p_rb, p_br, p_bb)
        if keep_obs:
            coin_write_both(obs, obs2, t + 1, i, n, centric, rr, rc, br, bc, cr, cc, red)


SCALARS = ("uniform_int", "coin_move", "coin_place", "coin_greedy", "coin_strategy", "coin_mode",
           "coin_turn", "coin_write_obs", "coin_write_both", "coin_reset", "coin_store_state", "coin_write_step",
           "coin_env_reset", "coin_env_advance", "coin_env_rollout")

# ---------------------------------------------------------------- kernel wrappers per target


def reset_cpu(n, centric, ur, state, obs, obs2):
    for i in prange(state.shape[1]):
        coin_env_reset(i, n, centric, ur, state, obs, obs2)


def advance_cpu(t, n, ring, centric, s1, s2, ext, state, u, actions, rewards, pickups, obs, obs2):
    for i in prange(state.shape[1]):
        coin_env_advance(i, t, n, ring, centric, s1, s2, ext, state, u, actions, rewards, pickups, obs, obs2)


def rollout_cpu(n, ring, centric, s1, s2, ur, us, actions, rewards, pickups, obs, obs2, keep_obs):
    for i in prange(us.shape[2]):
        coin_env_rollout(i, n, ring, centric, s1, s2, ur, us, actions, rewards, pickups, obs, obs2, keep_obs)


def rollout_pairs_cpu(n, ring, centric, s1, s2, ur, us, actions, rewards, pickups, obs, obs2, keep_obs):
    for i in prange(us.shape[2]):
        coin_env_rollout(i, n, ring, centric, s1[i], s2[i], ur, us, actions, rewards, pickups, obs, obs2, keep_obs)


def reset_cuda(n, centric, ur, state, obs, obs2):
    for i in range(cuda.grid(1), state.shape[1], cuda.gridsize(1)):  # noqa: F821
        coin_env_reset(i, n, centric, ur, state, obs, obs2)


def advance_cuda(t, n, ring, centric, s1, s2, ext, state, u, actions, rewards, pickups, obs, obs2):
    for i in range(cuda.grid(1), state.shape[1], cuda.gridsize(1)):  # noqa: F821
        coin_env_advance(i, t, n, ring, centric, s1, s2, ext, state, u, actions, rewards, pickups, obs, obs2)


def rollout_cuda(n, ring, centric, s1, s2, ur, us, actions, rewards, pickups, obs, obs2, keep_obs):
    for i in range(cuda.grid(1), us.shape[2], cuda.gridsize(1)):  # noqa: F821
        coin_env_rollout(i, n, ring, centric, s1, s2, ur, us, actions, rewards, pickups, obs, obs2, keep_obs)


def rollout_pairs_cuda(n, ring, centric, s1, s2, ur, us, actions, rewards, pickups, obs, obs2, keep_obs):
    for i in range(cuda.grid(1), us.shape[2], cuda.gridsize(1)):  # noqa: F821
        coin_env_rollout(i, n, ring, centric, s1[i], s2[i], ur, us, actions, rewards, pickups, obs, obs2, keep_obs)


@functools.cache
def kernels(target: str) -> SimpleNamespace:
    """Compiled Coin Game kernels for ``target`` in {"cpu", "cuda"} (see ``compile_game_kernels``)."""
    return compile_game_kernels(globals(), SCALARS, target)
