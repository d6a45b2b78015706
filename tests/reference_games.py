"""Slow, obviously-correct numpy twins of the sampled games (tests and the benchmark baseline only).

Written from the games' rules, not from the kernels: positions are (B, 2) arrays of
[row, col], moves come from a table, free cells are enumerated explicitly, observations are
built as a (B, 4, N, N) tensor and then flattened. Vectorised over the batch, one Python
iteration per time step. Uniforms follow the layout of ``pola_nb.sampled.rollout``:
``u_reset`` (R, B), ``u_step`` (T, 3, B) = [agent 1, agent 2, environment].

An agent is a strategy name (``alld``, ``allc``, ``tft``, ``random``) or a callable
``f(obs, last_reward, u) -> actions`` standing for a learned agent.
"""

from __future__ import annotations

import numpy as np

# action -> (d_row, d_col): right, left, down, up
MOVES = np.array([[0, 1], [0, -1], [1, 0], [-1, 0]])
OPPOSITE = np.array([1, 0, 3, 2])


def draw_int(u: np.ndarray, n) -> np.ndarray:
    """floor(u * n) for float32 uniforms, exact in float64 (u has 24 significant bits)."""
    return np.floor(u.astype(np.float64) * n).astype(np.int64)


class Scripted:
    """A stand-in for a learned recurrent agent: keeps a hidden counter, uses obs, reward and u."""

    def __init__(self, n_actions: int):
        self.n = n_actions

    def reset(self, batch: int) -> None:
        self.h = np.arange(batch) % 3

    def act(self, obs, last_reward, u):
        assert obs.dtype == np.float32 and last_reward.dtype == np.float32 and u.dtype == np.float32
        self.h = self.h + 1
        seen = (obs * np.arange(obs.shape[1])).sum(axis=1).astype(np.int64)  # all one-hot slots
        x = seen + self.h + (last_reward < 0) + (u > 0.5) * 2
        return (x % self.n).astype(np.int32)

    def __call__(self, obs, last_reward, u):  # the reference calls agents as functions
        return self.act(obs, last_reward, u)


# ------------------------------------------------------------------------------------- IPD


def ipd_payoff_matrix(cf: float) -> np.ndarray:
    """M[my action, other action] with 0 = D, 1 = C, float32."""
    return np.array([[0.0, cf / 2], [cf / 2 - 1, cf - 1]], dtype=np.float32)


def ipd_obs(prev1: np.ndarray, prev2: np.ndarray) -> np.ndarray:
    """prev in {0 D, 1 C, 2 start} -> (B, 6) float32 one-hot pair."""
    eye = np.eye(3, dtype=np.float32)
    return np.concatenate([eye[prev1], eye[prev2]], axis=1)


def ipd_rollout(cf, agent1, agent2, u_step, keep_obs=True) -> dict:
    steps, _, batch = u_step.shape
    pay = ipd_payoff_matrix(cf)
    prev = np.full((2, batch), 2)
    last = np.zeros((2, batch), np.float32)
    obs = [ipd_obs(prev[0], prev[1])] if keep_obs else None
    actions, rewards = [], []
    for t in range(steps):
        o = ipd_obs(prev[0], prev[1])
        acts = []
        for k, agent in enumerate((agent1, agent2)):
            opp_prev = prev[1 - k]
            if callable(agent):
                a = np.asarray(agent(o, last[k], u_step[t, k]))
            elif agent == "alld":
                a = np.zeros(batch, np.int64)
            elif agent == "allc":
                a = np.ones(batch, np.int64)
            elif agent == "tft":
                a = np.where(opp_prev == 2, 1, opp_prev)
            elif agent == "random":
                a = draw_int(u_step[t, k], 2)
            else:
                raise ValueError(agent)
            acts.append(a.astype(np.int64))
        a1, a2 = acts
        r = np.stack([pay[a1, a2], pay[a2, a1]], axis=1)
        actions.append(np.stack([a1, a2], axis=1).astype(np.int8))
        rewards.append(r)
        last = r.T.copy()
        prev = np.stack([a1, a2])
        if keep_obs:
            obs.append(ipd_obs(a1, a2))
    out = {"actions": np.stack(actions), "rewards": np.stack(rewards), "pickups": None}
    out["obs"] = np.stack(obs) if keep_obs else None
    out["obs2"] = out["obs"]
    return out


# ------------------------------------------------------------------------------------- Coin Game


def coin_place(n: int, red: np.ndarray, blue: np.ndarray, u: np.ndarray) -> np.ndarray:
    """(B, 2) coin cells: the k-th free cell (increasing flat index) with k = floor(u * #free)."""
    batch = red.shape[0]
    occupied = np.zeros((batch, n * n), bool)
    occupied[np.arange(batch), red[:, 0] * n + red[:, 1]] = True
    occupied[np.arange(batch), blue[:, 0] * n + blue[:, 1]] = True
    free = ~occupied
    k = draw_int(u, free.sum(axis=1))
    rank = np.cumsum(free, axis=1) - 1
    cell = np.argmax(free & (rank == k[:, None]), axis=1)
    return np.stack([cell // n, cell % n], axis=1)


def coin_reset(n: int, u_reset: np.ndarray):
    """(red (B,2), blue (B,2), coin (B,2), coin_is_red (B,) bool) from u_reset (4, B)."""
    red_cell = draw_int(u_reset[0], n * n)
    blue_cell = draw_int(u_reset[1], n * n)
    red = np.stack([red_cell // n, red_cell % n], axis=1)
    blue = np.stack([blue_cell // n, blue_cell % n], axis=1)
    coin = coin_place(n, red, blue, u_reset[2])
    return red, blue, coin, draw_int(u_reset[3], 2) == 1


def coin_obs(n, red, blue, coin, is_red, centric=False) -> np.ndarray:
    """(B, 4 n^2) float32, channels [red, blue, red coin, blue coin] (or [blue, red, blue coin,
    red coin] when ``centric``: agent 2's own view), flattened channel-major."""
    batch = red.shape[0]
    x = np.zeros((batch, 4, n, n), np.float32)
    b = np.arange(batch)
    me, other = (blue, red) if centric else (red, blue)
    x[b, 0, me[:, 0], me[:, 1]] = 1
    x[b, 1, other[:, 0], other[:, 1]] = 1
    coin_is_mine = ~is_red if centric else is_red
    x[b, np.where(coin_is_mine, 2, 3), coin[:, 0], coin[:, 1]] = 1
    return x.reshape(batch, 4 * n * n)


def coin_greedy(n, me, coin) -> np.ndarray:
    """The cooperative Coin Game agent: right/left by the smaller torus distance, then down/up overriding."""
    right = (coin[:, 1] - me[:, 1]) % n
    left = (me[:, 1] - coin[:, 1]) % n
    down = (coin[:, 0] - me[:, 0]) % n
    up = (me[:, 0] - coin[:, 0]) % n
    a = np.zeros(me.shape[0], np.int64)
    a[right < left] = 0
    a[left < right] = 1
    a[down < up] = 2
    a[up < down] = 3
    return a


def coin_cooperative(n, me, coin, coin_is_mine) -> np.ndarray:
    g = coin_greedy(n, me, coin)
    return np.where(coin_is_mine, g, OPPOSITE[g])


def coin_rollout(n, agent1, agent2, u_reset, u_step, centric=False, keep_obs=True) -> dict:
    steps, _, batch = u_step.shape
    red, blue, coin, is_red = coin_reset(n, u_reset)
    defecting = np.zeros((2, batch), bool)  # TFT modes, start cooperative
    last = np.zeros((2, batch), np.float32)
    obs, obs2, actions, rewards, pickups = [], [], [], [], []

    def record_obs():
        if keep_obs:
            obs.append(coin_obs(n, red, blue, coin, is_red))
            obs2.append(coin_obs(n, red, blue, coin, is_red, centric=True) if centric else obs[-1])

    record_obs()
    for t in range(steps):
        o = (obs[-1], obs2[-1]) if keep_obs else (coin_obs(n, red, blue, coin, is_red),) * 2
        acts = []
        for k, agent in enumerate((agent1, agent2)):
            me = red if k == 0 else blue
            mine = is_red if k == 0 else ~is_red
            defecting[k] = np.where(last[k] < 0, True, np.where(last[k] > 0, False, defecting[k]))
            if callable(agent):
                a = np.asarray(agent(o[k], last[k], u_step[t, k]), np.int64)
            elif agent == "alld":
                a = coin_greedy(n, me, coin)
            elif agent == "allc":
                a = coin_cooperative(n, me, coin, mine)
            elif agent == "tft":
                a = np.where(defecting[k], coin_greedy(n, me, coin), coin_cooperative(n, me, coin, mine))
            elif agent == "random":
                a = draw_int(u_step[t, k], 4)
            else:
                raise ValueError(agent)
            acts.append(a)
        a1, a2 = acts
        red = (red + MOVES[a1]) % n
        blue = (blue + MOVES[a2]) % n
        red_gets = (red == coin).all(axis=1)
        blue_gets = (blue == coin).all(axis=1)
        rr, rb = red_gets & is_red, red_gets & ~is_red
        br, bb = blue_gets & is_red, blue_gets & ~is_red
        r1 = red_gets.astype(np.float32) - 2.0 * br
        r2 = blue_gets.astype(np.float32) - 2.0 * rb
        picked = red_gets | blue_gets
        new_coin = coin_place(n, red, blue, u_step[t, 2])
        coin = np.where(picked[:, None], new_coin, coin)
        is_red = np.where(picked, ~is_red, is_red)
        actions.append(np.stack([a1, a2], axis=1).astype(np.int8))
        rewards.append(np.stack([r1, r2], axis=1).astype(np.float32))
        pickups.append(np.stack([rr, rb, br, bb], axis=1).astype(np.int8))
        last = np.stack([r1, r2]).astype(np.float32)
        record_obs()
    return {
        "actions": np.stack(actions),
        "rewards": np.stack(rewards),
        "pickups": np.stack(pickups),
        "obs": np.stack(obs) if keep_obs else None,
        "obs2": np.stack(obs2) if keep_obs else None,
    }
