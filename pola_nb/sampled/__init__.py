"""Sampled games (IPD with full history, Coin Game): configs, fixed strategies, rollouts.

    from pola_nb.sampled import CoinGame, rollout, scores, own_coin_stats
    traj = rollout(CoinGame(grid=3), "alld", "allc", batch=1000, seed=0)
    s1, s2 = scores(traj)

Kernels live in ``pola_kernels`` (numba; loaded on the first rollout). The learned policies'
samplers plug into :func:`rollout` through the agent interface described in
:mod:`pola_nb.sampled.rollout`.
"""

from pola_nb.sampled.games import CoinGame, IPDHistory, make_game
from pola_nb.sampled.rollout import (
    Agent,
    Trajectory,
    coin_counts,
    draw_uniforms,
    own_coin_stats,
    rollout,
    scores,
)
from pola_nb.sampled.strategies import FixedStrategy, strategy

__all__ = [
    "Agent",
    "CoinGame",
    "FixedStrategy",
    "IPDHistory",
    "Trajectory",
    "coin_counts",
    "draw_uniforms",
    "make_game",
    "own_coin_stats",
    "rollout",
    "scores",
    "strategy",
]
