"""Configurations of the sampled games (the games of the paper's Figures 4 and 5). Plain frozen dataclasses, validated.

=================  ========  =========  ===============================================
game               obs_dim   actions    rewards per step
=================  ========  =========  ===============================================
``IPDHistory``     6         2 (D, C)   payoff matrix from the contribution factor ``cf``
``CoinGame``       4 N^2     4 (R,L,D,U)  +1 pick-up, -2 to the owner when robbed
=================  ========  =========  ===============================================

Both agents observe the same vector (agent-1-first order) unless ``agent_centric=True``: then agent 2
gets its own-first view, the channel-swapped one in the Coin Game (old PyTorch code; JAX LOQA
`coin_game.py`) and ``[onehot3(a2), onehot3(a1)]`` in the IPD (JAX LOQA `ipd.py`).

What depends on the game is a generic of :mod:`pola_nb.generics` with its methods here:
``obs_dim``, ``metric_names``, ``reference_strategies`` and ``reference_lines``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pola_nb import generics
from pola_nb.errors import require
from pola_nb.generics import dispatch
from pola_nb.ipd_rules import N_ACTIONS, OBS_DIM, payoff_matrix


class SampledGame:
    """Base of the sampled games (the type their generics dispatch on)."""

    @property
    def obs_dim(self) -> int:
        """``obs_dim(self)`` of :mod:`pola_nb.generics`, for code that reads it as an attribute."""
        return generics.obs_dim(self)


@dataclass(frozen=True)
class IPDHistory(SampledGame):
    """Iterated prisoner's dilemma with full-history observations; actions 0 = D, 1 = C.

    ``cf``: contribution factor (payoffs and observations as in :mod:`pola_nb.ipd_rules`);
    ``steps``: rollout length T; ``agent_centric``: agent 2 observes ``[onehot3(a2), onehot3(a1)]``
    (own previous action first) instead of the shared ``[onehot3(a1), onehot3(a2)]``, so one policy
    can play either seat (a ``MemoryOneTable``'s DD/DC/CD/CC rows then read own-first for both).
    """

    cf: float = 1.33
    steps: int = 50
    agent_centric: bool = False

    name = "ipd"
    n_actions = N_ACTIONS
    n_reset_uniforms = 0

    def __post_init__(self) -> None:
        require(isinstance(self.steps, int | np.integer) and self.steps > 0,
                f"steps must be a positive integer, got {self.steps!r}")
        require(np.isfinite(self.cf), f"cf must be finite, got {self.cf!r}")

    def payoff_table(self) -> np.ndarray:
        """float32 (4,): ``[M[D,D], M[D,C], M[C,D], M[C,C]]`` indexed by ``2 * my + other``."""
        return np.reshape(payoff_matrix(float(self.cf)), 4).astype(np.float32)


@dataclass(frozen=True)
class CoinGame(SampledGame):
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


GAMES = {"ipd": IPDHistory, "coin": CoinGame}


def make_game(name: str, *, steps: int = 50, grid: int = 3, cf: float = 1.33,
              agent_centric: bool = False) -> IPDHistory | CoinGame:
    """Game config from its CLI name (``ipd`` or ``coin``); raises PolaUsageError on bad input.

    ``agent_centric``: agent 2 gets its own-first view (both games; see the module docstring)."""
    require(name in GAMES, f"unknown game {name!r}; choose one of {', '.join(GAMES)}")
    if name == "ipd":
        return IPDHistory(cf=cf, steps=steps, agent_centric=agent_centric)
    return CoinGame(grid=grid, steps=steps, agent_centric=agent_centric)


# ------------------------------------------------------------------------------------------ generics


@dispatch
def obs_dim(game: IPDHistory) -> int:
    """``[onehot3(a1), onehot3(a2)]`` of the previous actions: 6."""
    return OBS_DIM


@dispatch
def obs_dim(game: CoinGame) -> int:
    """Four ``grid`` x ``grid`` channels (red agent, blue agent, red coin, blue coin): 4 N^2."""
    return 4 * game.grid * game.grid


@dispatch
def swap_seats(game: IPDHistory, obs: np.ndarray) -> np.ndarray:
    """``[onehot3(a1), onehot3(a2)]`` <-> ``[onehot3(a2), onehot3(a1)]``."""
    return np.concatenate([obs[..., 3:6], obs[..., 0:3]], axis=-1)


@dispatch
def swap_seats(game: CoinGame, obs: np.ndarray) -> np.ndarray:
    """Channels (red agent, blue agent, red coin, blue coin) -> (blue agent, red agent, blue coin,
    red coin); each channel is ``grid * grid`` consecutive floats."""
    channels = np.reshape(obs, (*np.shape(obs)[:-1], 4, -1))
    return np.reshape(channels[..., [1, 0, 3, 2], :], np.shape(obs))


@dispatch
def reference_strategies(game: IPDHistory | CoinGame) -> tuple[str, ...]:
    """Always defect, always cooperate and tit-for-tat (the opponents of the paper's Figures 4 and 5)."""
    return ("alld", "allc", "tft")


def _score_metrics(game: SampledGame) -> tuple[str, ...]:
    """Self-play scores, scores against each reference strategy (agent 1, agent 2), wall time."""
    vs = tuple(f"vs_{s}{k}" for s in reference_strategies(game) for k in (1, 2))
    return ("score1", "score2", *vs, "wall_time")


@dispatch
def metric_names(game: IPDHistory) -> tuple[str, ...]:
    """Scores only."""
    return _score_metrics(game)


@dispatch
def metric_names(game: CoinGame) -> tuple[str, ...]:
    """Scores, then pick-ups per episode (``rr``, ``rb``, ``br``, ``bb``: agent colour, coin colour)
    and the proportion of own-colour coins picked up (``own_coin``)."""
    return _score_metrics(game) + ("rr", "rb", "br", "bb", "own_coin")


@dispatch
def reference_lines(game: IPDHistory) -> dict[str, list[tuple[float, str]]]:
    """The official plots' lines (`result_plots.py`): per-step scores of the two reference pairs."""
    return {"score_each_other": [(0.33, "always cooperate"), (0.0, "always defect")],
            "score_vs_alld": [(-0.335, "always cooperate"), (0.0, "always defect")]}


@dispatch
def reference_lines(game: CoinGame) -> dict[str, list[tuple[float, str]]]:
    """The official plots' lines (`result_plots.py`): own-coin proportion and per-step scores."""
    return {"own_coin": [(1.0, "always cooperate"), (0.5, "always defect")],
            "score_each_other": [(1 / 3, "always cooperate"), (0.0, "always defect")],
            "score_vs_alld": [(-0.26, "always cooperate"), (0.0, "always defect")]}
