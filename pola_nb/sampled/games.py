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
``obs_dim``, ``swap_seats``, ``metric_names``, ``reference_strategies``, ``reference_lines``, and
what a game reports of its rollouts and matches: ``game_stats``, ``game_metrics``,
``league_entries``, ``match_settings``, ``check_trained_on``, ``run_summary`` and ``stats_lines``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

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
    """The official plots' lines (`result_plots.py`): the per-step scores of the two reference pairs,
    from the payoffs of ``game.cf`` (0.33 and -0.335 at the paper's 1.33)."""
    m = payoff_matrix(game.cf)
    return {"score_each_other": [(float(m[1, 1]), "always cooperate"), (0.0, "always defect")],
            "score_vs_alld": [(float(m[1, 0]), "always cooperate"), (0.0, "always defect")]}


#: The official plots' constants for the paper's Coin Game (3x3, 50 steps): ALLC with itself, ALLC against ALLD.
_OFFICIAL_COIN_LINES = {(3, 50): (1 / 3, -0.26)}


@dispatch
def reference_lines(game: CoinGame) -> dict[str, list[tuple[float, str]]]:
    """Own-coin proportion and per-step scores of the reference pairs: the official plots' constants
    (`result_plots.py`) on the paper's 3x3 game of 50 steps, else ALLC's per-step scores with itself and
    against ALLD from a seeded rollout of the reference strategies (:func:`coin_allc_scores`). The ALLD
    lines (0 and 0.5) hold on every grid by symmetry."""
    with_itself, vs_alld = _OFFICIAL_COIN_LINES.get((game.grid, game.steps)) or coin_allc_scores(game.grid, game.steps)
    return {"own_coin": [(1.0, "always cooperate"), (0.5, "always defect")],
            "score_each_other": [(with_itself, "always cooperate"), (0.0, "always defect")],
            "score_vs_alld": [(vs_alld, "always cooperate"), (0.0, "always defect")]}


@functools.lru_cache(maxsize=64)
def coin_allc_scores(grid: int, steps: int, batch: int = 8192, seed: int = 0) -> tuple[float, float]:
    """ALLC's per-step mean reward with ALLC and against ALLD on a ``grid`` x ``grid`` Coin Game of
    ``steps`` steps: ``batch`` episodes of each pair, seed ``seed`` (standard error about 0.002 at
    8192 episodes; 0.332 and -0.259 at 3x3, 0.199 and -0.138 at 5x5, 0.141 and -0.092 at 7x7)."""
    from pola_nb.sampled.rollout import rollout_strategy_pairs, scores

    game = CoinGame(grid=int(grid), steps=int(steps))
    together, against = rollout_strategy_pairs(game, [("allc", "allc", seed), ("allc", "alld", seed + 1)], batch)
    return float(np.mean(scores(together))), scores(against)[0]


def game_of(config: Mapping[str, Any]) -> IPDHistory | CoinGame:
    """The game of a run file's configuration (its ``config`` attribute, parsed; the flattened form of
    :class:`pola_nb.analysis.Run` works too): ``game`` and, where present, ``steps``, ``grid``, ``cf``
    and ``agent_centric``."""
    keys = {"steps": int, "grid": int, "cf": float, "agent_centric": bool}
    given = {k: cast(config[k]) for k, cast in keys.items() if config.get(k) is not None}
    return make_game(str(config["game"]), **given)


# A game's own statistics of rollouts, matches and runs (pola_nb.sampled.rollout and
# pola_nb.sampled.report are imported in the methods: they import this module).


@dispatch
def game_stats(game: IPDHistory, traj: object) -> dict[str, float]:
    """None: the scores say everything."""
    return {}


@dispatch
def game_stats(game: CoinGame, traj: object) -> dict[str, float]:
    """Pick-ups per episode (:func:`~pola_nb.sampled.rollout.coin_counts`) and own-coin proportions
    (:func:`~pola_nb.sampled.rollout.own_coin_stats`)."""
    from pola_nb.sampled.rollout import coin_counts, own_coin_stats

    own = own_coin_stats(traj)
    return {**coin_counts(traj), "own_coin1": own["own_coin1"], "own_coin2": own["own_coin2"], "same": own["same"]}


@dispatch
def game_metrics(game: IPDHistory, traj: object) -> dict[str, float]:
    """None."""
    return {}


@dispatch
def game_metrics(game: CoinGame, traj: object) -> dict[str, float]:
    """Pick-ups per episode and the same-colour proportion as ``own_coin``."""
    s = game_stats(game, traj)
    return {"rr": s["rr"], "rb": s["rb"], "br": s["br"], "bb": s["bb"], "own_coin": s["same"]}


@dispatch
def league_entries(game: IPDHistory, traj: object) -> dict[str, float]:
    """None."""
    return {}


@dispatch
def league_entries(game: CoinGame, traj: object) -> dict[str, object]:
    """Pick-ups ``[RR, RB, BR, BB]`` per episode and the own-coin proportions of the row player
    (agent 1), the column player (agent 2) and both (``same``)."""
    s = game_stats(game, traj)
    return {"pickups": [s["rr"], s["rb"], s["br"], s["bb"]], "own_coin_row": s["own_coin1"],
            "own_coin_col": s["own_coin2"], "same": s["same"]}


@dispatch
def match_settings(game: IPDHistory) -> dict[str, float]:
    """The contribution factor."""
    return {"cf": game.cf}


@dispatch
def match_settings(game: CoinGame) -> dict[str, int]:
    """The grid size."""
    return {"grid": game.grid}


@dispatch
def check_trained_on(game: IPDHistory, trained: object, who: object) -> None:
    """Every IPD agent plays every IPD (observations do not depend on ``cf`` or the length)."""


@dispatch
def check_trained_on(game: CoinGame, trained: object, who: object) -> None:
    """The observations, hence the networks, depend on the grid size."""
    require(trained.grid == game.grid, f"{who} was trained on a {trained.grid}x{trained.grid} grid, not {game.grid}")


@dispatch
def run_summary(game: IPDHistory, f: object) -> dict:
    """None."""
    return {}


@dispatch
def run_summary(game: CoinGame, f: object) -> dict:
    """:func:`~pola_nb.sampled.report.strong_cooperation` on the run's grid."""
    from pola_nb.sampled.report import strong_cooperation

    return {"strong_cooperation": strong_cooperation(f, game.grid)}


@dispatch
def stats_lines(game: IPDHistory, r: dict) -> list[str]:
    """None."""
    return []


@dispatch
def stats_lines(game: CoinGame, r: dict) -> list[str]:
    """Pick-ups per episode, then the own-coin proportions."""
    return [f"  pick-ups per episode   RR {r['rr']:.3f}  RB {r['rb']:.3f}  BR {r['br']:.3f}  BB {r['bb']:.3f}",
            f"  own-coin proportion    agent 1 {r['own_coin1']:.4f}   agent 2 {r['own_coin2']:.4f}"
            f"   same-colour overall {r['same']:.4f}"]
