"""A league: every agent plays every other agent (and itself) in a sampled game.

Agents are training checkpoints ``RUN.h5[:update][@seed_index]`` (``RUN.h5@*``: every seed of the
run; shell-style globs in the file part expand) and fixed strategies (``alld``, ``allc``, ``tft``,
``random``). Every ordered pair (row player ``i`` in slot 1, column player ``j`` in slot 2) plays one
rollout of ``batch`` episodes seeded with :func:`pair_seed` ``(seed, i, j)``, so a pair's result does
not depend on the other pairs and equals ``pola eval`` of the pair with that seed. A checkpoint plays
its run's agent 1 as the row player and its run's agent 2 as the column player.

The pairs are tasks (:func:`league_tasks`) submitted to an executor of
:mod:`pola_nb.sampled.cluster` (``--cluster``/``--workers`` as in ``pola train``); the pairs of two
fixed strategies share one kernel call, each on its own seed's uniforms, so every entry is the same
wherever and however the pairs are played.

The results file (kind ``league``) holds the agent names and groups (the run's algorithm or the
strategy name) and N x N matrices indexed ``[row, column]``: per-step mean reward of each side, its
standard error over episodes, and for the Coin Game the pick-up counts and own-coin proportions.
"""

from __future__ import annotations

import glob
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from pola_nb.errors import require, require_int
from pola_nb.generics import dispatch, summary
from pola_nb.results import ResultsKind
from pola_nb.sampled.matches import is_checkpoint

KIND = "league"


class LeagueResults(ResultsKind):
    """``league``: N x N matrices of every ordered pair of agents (see the module docstring)."""

    name = KIND
DEFAULT_STRATEGIES = ("alld", "allc", "tft", "random")
_GLOB_CHARS = "*?["


def pair_seed(seed: int, row: int, col: int) -> int:
    """The rollout seed of the pair (``row``, ``col``) in a league seeded with ``seed``."""
    require_int("seed", seed, 0)
    return int(np.random.SeedSequence([int(seed), int(row), int(col)]).generate_state(1, np.uint32)[0])


def _run_seed_count(path: str) -> int:
    from pola_nb.results import open_results
    from pola_nb.runfile import KIND as TRAIN_KIND
    from pola_nb.sampled.config import RunConfig

    with open_results(path) as f:
        require(f.attrs.get("kind") == TRAIN_KIND, f"{path} is not a training run file")
        return len(RunConfig.from_json(f.attrs["config"]).seeds)


def expand_specs(specs: list[str]) -> list[str]:
    """Expand file globs and ``@*`` in checkpoint specs; strategy names are lower-cased and checked."""
    from pola_nb.runfile import split_checkpoint_spec
    from pola_nb.sampled.strategies import strategy

    out: list[str] = []
    for spec in specs:
        spec = str(spec).strip()
        if not is_checkpoint(spec):
            out.append(strategy(spec).name)
            continue
        file, update, seed = split_checkpoint_spec(spec)
        if any(c in file for c in _GLOB_CHARS):
            files = sorted(glob.glob(file))
            require(len(files) > 0, f"no file matches {file}")
        else:
            files = [file]
        for p in files:
            if seed == "@*":
                out += [f"{p}{update}@{k}" for k in range(_run_seed_count(p))]
            else:
                out.append(f"{p}{update}{seed}")
    return out


@dataclass
class LeagueAgent:
    """One league entry: its name, group, and the rollout agent it plays as row and as column player."""

    name: str
    group: str
    row: Any
    col: Any
    config: Any = None  # the run's RunConfig for a checkpoint, None for a strategy


def load_agents(specs: list[str]) -> list[LeagueAgent]:
    """Load every (expanded) spec; raises PolaUsageError on a missing file, update or seed index."""
    from pola_nb.runfile import checkpoint_agent
    from pola_nb.sampled.strategies import strategy

    agents = []
    for spec in specs:
        if is_checkpoint(spec):
            cfg, row = checkpoint_agent(spec, 0)
            _, col = checkpoint_agent(spec, 1)
            agents.append(LeagueAgent(spec, cfg.hp.algo, row, col, cfg))
        else:
            s = strategy(spec)
            agents.append(LeagueAgent(s.name, s.name, s, s))
    return agents


def game_settings(agents: list[LeagueAgent], game: str | None, steps: int | None, grid: int | None,
                  cf: float | None) -> dict[str, Any]:
    """The league's game settings: given ones, else those of the checkpoints, else ``pola eval``'s defaults.

    Every checkpoint must be of the same game, and able to play it
    (:func:`~pola_nb.generics.check_trained_on`: for the Coin Game, the same grid).
    """
    from pola_nb.generics import check_trained_on
    from pola_nb.sampled.config import check_game_settings
    from pola_nb.sampled.games import GAMES, make_game

    cfgs = [a.config for a in agents if a.config is not None]
    games = sorted({c.game for c in cfgs})
    require(len(games) <= 1, f"the agents are of different games: {', '.join(games)}")
    if game is None:
        require(len(games) == 1, "pass --game: no checkpoint tells which game to play")
        game = games[0]
    require(game in GAMES, f"unknown game {game!r}; choose ipd or coin")
    if games:
        require(games[0] == game, f"the checkpoints were trained on {games[0]!r}, not {game!r}")
    first = cfgs[0] if cfgs else None
    steps = steps if steps is not None else (first.steps if first else 50)
    cf = cf if cf is not None else (first.cf if first else 1.33)
    grid = grid if grid is not None else (first.grid if first else 3)
    check_game_settings(steps, cf, grid)
    played = make_game(game, steps=steps, grid=grid, cf=cf)
    for a in agents:
        if a.config is not None:
            check_trained_on(played, a.config.make_game(), a.name)
    return {"game": game, "steps": steps, "grid": grid, "cf": cf}


def pair_stats(game: Any, traj: Any, batch: int) -> dict[str, Any]:
    """A pair's entries from its trajectory ``traj`` of ``game``: scores, standard errors over
    episodes and the game's own (:func:`~pola_nb.generics.league_entries`: coin statistics)."""
    from pola_nb.generics import league_entries
    from pola_nb.sampled.rollout import scores

    s1, s2 = scores(traj)
    per_episode = traj.rewards.mean(axis=0, dtype=np.float64)  # (B, 2)
    se = per_episode.std(axis=0, ddof=1) / np.sqrt(batch) if batch > 1 else np.full(2, np.nan)
    out: dict[str, Any] = {"score_row": s1, "score_col": s2, "se_row": float(se[0]), "se_col": float(se[1])}
    out.update(league_entries(game, traj))
    return out


def play_pair(game: Any, row: Any, col: Any, batch: int, seed: int, backend: str = "cpu") -> dict[str, Any]:
    """One rollout of ``row`` (slot 1) vs ``col`` (slot 2): scores, standard errors, coin statistics."""
    from pola_nb.sampled.rollout import rollout

    traj = rollout(game, row, col, batch, seed=seed, backend=backend, keep_obs=False)
    return pair_stats(game, traj, batch)


def play_strategy_pairs(game: Any, pairs: list[tuple[Any, Any, int]], batch: int,
                        backend: str = "cpu") -> list[dict[str, Any]]:
    """Several pairs of fixed strategies ``(row, col, seed)`` in one kernel call
    (:func:`~pola_nb.sampled.rollout.rollout_strategy_pairs`); entry ``p`` equals
    ``play_pair(game, row, col, batch, seed, backend)`` of pair ``p`` exactly."""
    from pola_nb.sampled.rollout import rollout_strategy_pairs

    return [pair_stats(game, t, batch) for t in rollout_strategy_pairs(game, pairs, batch, backend=backend)]


#: Fixed-strategy pairs played in one kernel call hold at most this many environment-steps
#: (batch x steps per pair); a pair larger than that is still one call.
MAX_BATCHED_ENV_STEPS = 1 << 23

_MATRICES = ("score_row", "score_col", "se_row", "se_col")


def _pinned(fn: Any, *args: Any) -> Any:
    """``fn(*args)`` with one numba thread in the running thread (a task on a Dask worker)."""
    from pola_nb.sampled.process import pinned_numba_threads

    with pinned_numba_threads(1):
        return fn(*args)


def league_tasks(agents: list[LeagueAgent], game: Any, batch: int, seed: int, backend: str = "cpu",
                 batch_strategies: bool = True) -> list[tuple[list[tuple[int, int]], Any, tuple]]:
    """The league's work as ``(cells, fn, args)``: ``fn(*args)`` gives the entries of the ordered pairs
    ``cells`` (a dict for one pair, a list of dicts for several). Every pair with a checkpoint is one
    :func:`play_pair`; with ``batch_strategies`` the pairs of two fixed strategies are played together
    by :func:`play_strategy_pairs` (in chunks of at most :data:`MAX_BATCHED_ENV_STEPS`), else one each."""
    from pola_nb.sampled.strategies import FixedStrategy

    tasks: list[tuple[list[tuple[int, int]], Any, tuple]] = []
    fixed: list[tuple[int, int]] = []
    for i, a in enumerate(agents):
        for j, b in enumerate(agents):
            if batch_strategies and isinstance(a.row, FixedStrategy) and isinstance(b.col, FixedStrategy):
                fixed.append((i, j))
            else:
                tasks.append(([(i, j)], play_pair, (game, a.row, b.col, batch, pair_seed(seed, i, j), backend)))
    per_call = max(1, MAX_BATCHED_ENV_STEPS // (batch * game.steps))
    for k in range(0, len(fixed), per_call):
        cells = fixed[k:k + per_call]
        pairs = [(agents[i].row, agents[j].col, pair_seed(seed, i, j)) for i, j in cells]
        tasks.append((cells, play_strategy_pairs, (game, pairs, batch, backend)))
    return tasks


def play_league(agents: list[LeagueAgent], settings: dict[str, Any], batch: int, seed: int,
                backend: str = "cpu", cluster: Any = "local:1", batch_strategies: bool = True
                ) -> dict[str, np.ndarray]:
    """Every ordered pair plays once; N x N matrices (``pickups``: N x N x 4 [RR, RB, BR, BB]).

    ``cluster``: a ``--cluster`` text or an executor opened with
    :func:`~pola_nb.sampled.cluster.open_cluster`; every task of :func:`league_tasks` is submitted to it
    and its entries are placed by (row, column), so the matrices do not depend on where or in which
    order the tasks run (each pair has its own seed). On a Dask cluster a task runs with one numba
    thread, as the training's tasks do.
    """
    from pola_nb.sampled.games import make_game

    if isinstance(cluster, str):
        from pola_nb.sampled.cluster import open_cluster

        with open_cluster(cluster) as executor:
            return play_league(agents, settings, batch, seed, backend, executor, batch_strategies)
    from pola_nb.sampled.cluster import InProcess

    # agent-centric: checkpoints of either view play seat 2 as trained (runfile.checkpoint_agent)
    game = make_game(settings["game"], steps=settings["steps"], grid=settings["grid"], cf=settings["cf"],
                     agent_centric=True)
    n = len(agents)
    res = {k: np.full((n, n), np.nan) for k in _MATRICES}
    res["pair_seed"] = np.array([[pair_seed(seed, i, j) for j in range(n)] for i in range(n)], np.int64)

    def place(cells: list[tuple[int, int]], out: Any) -> None:
        for (i, j), r in zip(cells, out if isinstance(out, list) else [out], strict=True):
            for k, v in r.items():
                if k not in res:  # the game's own entries (league_entries): a matrix of scalars or vectors
                    res[k] = np.full((n, n, *np.shape(v)), np.nan)
                res[k][i, j] = v

    in_process = isinstance(cluster, InProcess)  # runs the tasks in submission order, threads as they are
    pending: dict[int, tuple[Any, list[tuple[int, int]]]] = {}
    for cells, fn, args in league_tasks(agents, game, batch, seed, backend, batch_strategies):
        fut = cluster.submit(fn, *args) if in_process else cluster.submit(_pinned, fn, *args)
        pending[id(fut)] = (fut, cells)
    while pending:
        for fut in cluster.wait_any([f for f, _ in pending.values()]):
            _, cells = pending.pop(id(fut))
            place(cells, fut.result())
    return res


def run_league(agent_specs: list[str], out: str | Path, *, strategies: list[str] | None = None,
               game: str | None = None, batch: int = 10000, seed: int = 0, steps: int | None = None,
               grid: int | None = None, cf: float | None = None, backend: str = "cpu",
               force: bool = False, cluster: Any = "local:1") -> dict:
    """Validate everything, play the league and write ``out`` (kind ``league``); returns the summary.

    ``cluster``: where the pairs are played, a ``--cluster`` text (checked with everything else
    before anything is played or written) or an executor opened with
    :func:`~pola_nb.sampled.cluster.open_cluster`; the results are the same everywhere.
    """
    from pola_nb.backends import check_backend
    from pola_nb.results import atomic_results, check_output_path
    from pola_nb.sampled.cluster import parse_cluster

    require_int("batch", batch, 1)
    require_int("seed", seed, 0)
    check_backend(backend)
    if isinstance(cluster, str):
        parse_cluster(cluster)
    check_output_path(out, force)
    specs = expand_specs([*agent_specs, *(strategies if strategies is not None else DEFAULT_STRATEGIES)])
    require(len(specs) >= 1, "no agents: pass checkpoints or strategies")
    agents = load_agents(specs)
    settings = game_settings(agents, game, steps, grid, cf)
    res = play_league(agents, settings, batch, seed, backend, cluster)
    config = {**settings, "batch": batch, "seed": seed, "backend": backend, "agents": specs}
    with atomic_results(out, KIND, config, force=force) as f:
        str_dt = h5py.string_dtype()
        f.create_dataset("agents", data=np.array([a.name for a in agents], dtype=object), dtype=str_dt)
        f.create_dataset("groups", data=np.array([a.group for a in agents], dtype=object), dtype=str_dt)
        for k, v in res.items():
            f.create_dataset(k, data=v)
        return summary(LeagueResults(), f)


# ------------------------------------------------------------------------------- summary and plot


def _strings(ds: h5py.Dataset) -> list[str]:
    return [x.decode() if isinstance(x, bytes) else str(x) for x in ds[()]]


def group_means(groups: list[str], m: np.ndarray) -> dict[str, dict[str, float]]:
    """Mean of ``m[i, j]`` over row agents of each group and column agents of each group."""
    names = list(dict.fromkeys(groups))
    g = np.array(groups)
    return {a: {b: float(np.nanmean(m[np.ix_(g == a, g == b)])) for b in names} for a in names}


@dispatch
def summary(kind: LeagueResults, f: h5py.File) -> dict:
    """Agents, groups, the score matrix and each group's mean score against each group."""
    cfg = json.loads(f.attrs["config"])
    groups = _strings(f["groups"])
    out: dict[str, Any] = {"kind": KIND, "game": cfg["game"], "batch": cfg["batch"], "seed": cfg["seed"],
                           "agents": _strings(f["agents"]), "groups": groups,
                           "score_row": f["score_row"][()].tolist(), "score_col": f["score_col"][()].tolist(),
                           "group_scores": group_means(groups, f["score_row"][()])}
    if "own_coin_row" in f:
        out["group_own_coin"] = group_means(groups, f["own_coin_row"][()])
    return out


@dispatch
def table(kind: LeagueResults, s: dict) -> str:
    """One line per group: its mean per-step score against each group (as the row player)."""
    lines = [f"league on {s['game']}: {len(s['agents'])} agents, {s['batch']} episodes per pair, seed {s['seed']}",
             "mean per-step score of the row group against each column group:"]
    for a, row in s["group_scores"].items():
        lines.append(f"  {a} " + ", ".join(f"vs {b} {v:+.2f}" for b, v in row.items()))
    if "group_own_coin" in s:
        lines.append("own-coin proportion of the row group against each column group:")
        for a, row in s["group_own_coin"].items():
            lines.append(f"  {a} " + ", ".join(f"vs {b} {v:.2f}" for b, v in row.items()))
    return "\n".join(lines)


def short_label(name: str, group: str) -> str:
    """A heatmap label: ``"pola-dice #0"`` for a checkpoint ``RUN.h5@0`` of group ``pola-dice`` (with
    ``:update`` when one was given), the name itself for a strategy."""
    from pola_nb.runfile import split_checkpoint_spec

    if not is_checkpoint(name):
        return name
    _, update, seed = split_checkpoint_spec(name)
    return f"{group} #{seed.lstrip('@') or '0'}{update}"


@dispatch
def plot(kind: LeagueResults, f: h5py.File, png: str | Path) -> None:
    """Heatmap of the row player's per-step score against each column player."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names, groups = _strings(f["agents"]), _strings(f["groups"])
    labels = [short_label(name, group) for name, group in zip(names, groups, strict=True)]
    m = f["score_row"][()]
    n = len(names)
    size = max(4.0, 0.45 * n + 2.5)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    im = ax.imshow(m, cmap="viridis")
    ax.set_xticks(range(n), labels, rotation=90, fontsize=8)
    ax.set_yticks(range(n), labels, fontsize=8)
    for k in range(1, n):  # lines between algorithm groups
        if groups[k] != groups[k - 1]:
            ax.axhline(k - 0.5, color="white", lw=1.5)
            ax.axvline(k - 0.5, color="white", lw=1.5)
    ax.set_xlabel("column player")
    ax.set_ylabel("row player")
    ax.set_title(f"League ({json.loads(f.attrs['config'])['game']}): row player's per-step score")
    fig.colorbar(im, ax=ax)
    fig.tight_layout()
    fig.savefig(png, dpi=120)
    plt.close(fig)

