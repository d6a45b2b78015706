"""Configurations of the sampled games (the games of the paper's Figures 4 and 5). Plain frozen dataclasses, validated.

=================  ========  =========  ===============================================
game               obs_dim   actions    rewards per step
=================  ========  =========  ===============================================
``IPDHistory``     6         2 (D, C)   payoff matrix from the contribution factor ``cf``
``CoinGame``       4 N^2     4 (R,L,D,U)  +1 pick-up, -2 to the owner when robbed
=================  ========  =========  ===============================================

Both agents observe the same vector (agent-1-first order), except ``CoinGame(agent_centric=True)``
which gives agent 2 the channel-swapped view of the old PyTorch code.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pola_nb.errors import require
from pola_nb.ipd_rules import N_ACTIONS, OBS_DIM, payoff_matrix


@dataclass(frozen=True)
class IPDHistory:
    """Iterated prisoner's dilemma with full-history observations; actions 0 = D, 1 = C.

    ``cf``: contribution factor (payoffs and observations as in :mod:`pola_nb.ipd_rules`);
    ``steps``: rollout length T.
    """

    cf: float = 1.33
    steps: int = 50

    name = "ipd"
    n_actions = N_ACTIONS
    obs_dim = OBS_DIM
    n_reset_uniforms = 0

    def __post_init__(self) -> None:
        require(isinstance(self.steps, int | np.integer) and self.steps > 0,
                f"steps must be a positive integer, got {self.steps!r}")
        require(np.isfinite(self.cf), f"cf must be finite, got {self.cf!r}")

    def payoff_table(self) -> np.ndarray:
        """float32 (4,): ``[M[D,D], M[D,C], M[C,D], M[C,C]]`` indexed by ``2 * my + other``."""
        return np.reshape(payoff_matrix(float(self.cf)), 4).astype(np.float32)


@dataclass(frozen=True)
class CoinGame:
    """Coin Game on a ``grid`` x ``grid`` torus (the paper uses 3); T = ``steps``.

    ``agent_centric``: agent 2 sees [blue, red, blue coin, red coin] channels instead of the
    global [red, blue, red coin, blue coin] view (off by default, as in the JAX code).
    """

    grid: int = 3
    steps: int = 50
    agent_centric: bool = False

    name = "coin"
    n_actions = 4
    n_reset_uniforms = 4

    def __post_init__(self) -> None:
        require(isinstance(self.grid, int | np.integer) and self.grid >= 2,
                f"grid must be an integer >= 2, got {self.grid!r}")
        require(self.grid <= 1024, f"grid must be at most 1024, got {self.grid!r}")
        require(isinstance(self.steps, int | np.integer) and self.steps > 0,
                f"steps must be a positive integer, got {self.steps!r}")

    @property
    def obs_dim(self) -> int:
        return 4 * self.grid * self.grid


GAMES = {"ipd": IPDHistory, "coin": CoinGame}


def make_game(name: str, *, steps: int = 50, grid: int = 3, cf: float = 1.33,
              agent_centric: bool = False) -> IPDHistory | CoinGame:
    """Game config from its CLI name (``ipd`` or ``coin``); raises PolaUsageError on bad input."""
    require(name in GAMES, f"unknown game {name!r}; choose one of {', '.join(GAMES)}")
    if name == "ipd":
        return IPDHistory(cf=cf, steps=steps)
    return CoinGame(grid=grid, steps=steps, agent_centric=agent_centric)
