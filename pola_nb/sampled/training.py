"""Training runs on the sampled games: config, presets, the update loop and its HDF5 run file.

A run trains several independent seeds with one configuration and stores them in ONE file:

- root attributes (:mod:`pola_nb.results`): ``kind = "train"``, ``config`` (JSON of :class:`RunConfig`),
  ``status`` running/complete;
- ``metrics/<name>``: float64 ``(rows, seeds)``, row 0 = before training, row u = after update u,
  NaN where a seed has not got there yet; ``metrics/outer_steps`` ``(rows,)`` = u * outer_steps;
- ``state/seed_<s>``: the latest parameters of both agents (and opponent models), the numpy
  ``Generator`` state as JSON and ``done`` (updates completed). Two slots are written alternately and
  ``done`` is set last, so an interruption never corrupts the state that ``--resume`` continues from
  (bit-for-bit: parameters, opponent models and random numbers are all restored);
- ``checkpoints/<u>/seed_<s>``: parameters every ``checkpoint_every`` updates and at the end.

The two agents' parts of every update are tasks (:mod:`pola_nb.sampled.pair_tasks`) run by an
executor (:mod:`pola_nb.sampled.cluster`: this process, or a Dask cluster). The loop, the evaluation
and the file stay in this process: as soon as both parts of one seed's update are back, that seed is
evaluated, its row and resume state are written, and its next update is submitted. Seeds never wait
for each other (one may be several updates ahead of another, the rows it has not reached being NaN).
The file is flushed after every update of every seed, so Ctrl-C or a crash loses at most the updates
in progress.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from pola_nb.backends import BACKENDS, check_backend
from pola_nb.errors import PolaUsageError, is_integer, require, require_int, require_real
from pola_nb.results import check_output_path, open_h5, open_results, write_root_attrs
from pola_nb.sampled.cluster import DEFAULT as DEFAULT_CLUSTER
from pola_nb.sampled.cluster import Executor, open_cluster, parse_cluster
from pola_nb.sampled.learners import ALGOS, Hyper, game_rollout
from pola_nb.sampled.pair_tasks import assemble, pair_jobs, timed_step
from pola_nb.sampled.policies import Architecture, PolicySampler, make_architecture

GAMES = ("ipd", "coin")
POLICIES = ("gru", "memory-one", "feed-forward")
MAX_GRID = 1024
KIND = "train"


# ------------------------------------------------------------------------------------------------ validation


def check_game_settings(steps: Any, cf: Any, grid: Any) -> None:
    """Refuse settings of the sampled games that no game accepts: ``steps`` (episode length) a
    positive integer, ``cf`` (IPD contribution factor) in (1, 2), ``grid`` (Coin Game) in [2, 1024].

    All three are checked whatever the game, so a setting is refused or accepted independently
    of the game it is given with.
    """
    require_int("steps", steps, 1)
    require_real("cf", cf, 1.0, 2.0, low_open=True, high_open=True)
    require_int("grid", grid, 2, MAX_GRID)


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines a run (stored as JSON in the file)."""

    game: str = "ipd"
    hp: Hyper = field(default_factory=Hyper)
    updates: int = 100
    seeds: tuple[int, ...] = (1,)
    steps: int = 50
    cf: float = 1.33
    grid: int = 3
    policy: str = "gru"
    hidden: int = 64
    layers_before_gru: int = 1
    eval_batch: int | None = None  # default: hp.batch_size, as in the official code
    checkpoint_every: int = 10
    backend: str = "cpu"
    preset: str = ""

    def __post_init__(self) -> None:
        """Validate every field, so that an invalid run is refused before any file is touched."""
        require(self.game in GAMES, f"unknown game {self.game!r}; choose ipd or coin")
        # a Hyper checks every one of its fields on construction
        require(isinstance(self.hp, Hyper), f"hp must be a Hyper, got {type(self.hp).__name__}")
        require_int("updates", self.updates, 1)
        require(isinstance(self.seeds, tuple) and len(self.seeds) >= 1, f"seeds must be a non-empty tuple, "
                f"got {self.seeds!r}")
        for s in self.seeds:
            require_int("every seed", s, 0)
        require(len(set(self.seeds)) == len(self.seeds), f"seeds must be distinct, got {self.seeds!r}")
        check_game_settings(self.steps, self.cf, self.grid)
        require(self.policy in POLICIES, f"unknown policy {self.policy!r}; choose gru, memory-one or feed-forward")
        require(self.policy != "memory-one" or self.game == "ipd", "the memory-one policy exists only for the ipd")
        require_int("hidden", self.hidden, 1)
        require(is_integer(self.layers_before_gru) and self.layers_before_gru in (1, 2),
                f"layers_before_gru must be 1 or 2, got {self.layers_before_gru!r}")
        if self.eval_batch is not None:
            require_int("eval_batch", self.eval_batch, 1)
        require_int("checkpoint_every", self.checkpoint_every, 1)
        require(self.backend in BACKENDS, f"unknown backend {self.backend!r}; choose one of {', '.join(BACKENDS)}")
        require(self.preset in ("", *PRESETS), f"unknown preset {self.preset!r}; choose paper or quick")

    def to_json(self) -> str:
        d = asdict(self)
        d["seeds"] = list(self.seeds)
        return json.dumps(d, sort_keys=True)

    @staticmethod
    def from_json(text: str) -> RunConfig:
        """The configuration stored by :meth:`to_json`; PolaUsageError if it is malformed or invalid."""
        try:
            d = json.loads(text)
            d["hp"] = Hyper(**d["hp"])
            d["seeds"] = tuple(d["seeds"])
            if d.get("eval_batch") == 0:  # a stored 0 has always meant the default (hp.batch_size)
                d["eval_batch"] = None
            return RunConfig(**d)
        except PolaUsageError as e:
            raise PolaUsageError(f"invalid stored configuration: {e}") from None
        except (TypeError, ValueError, KeyError) as e:
            raise PolaUsageError(f"malformed stored configuration ({type(e).__name__}: {e})") from None

    def make_game(self):
        from pola_nb.sampled.games import make_game

        return make_game(self.game, steps=self.steps, cf=self.cf, grid=self.grid)

    def architecture(self) -> Architecture:
        g = self.make_game()
        return make_architecture(self.policy, g.obs_dim, g.n_actions, self.hidden, self.layers_before_gru)


# ------------------------------------------------------------------------------------------------ presets

_COMMON = dict(gamma=0.96, gae_lambda=1.0)
#: The README commands of the official code (Figures 4 and 5). ``updates`` equals their ``--n_update``:
#: the official loop performs ``n_update`` updates, of which the paper's figures plot the first
#: 100 (IPD) or 250 (Coin Game) POLA updates.
PAPER: dict[tuple[str, str], dict[str, Any]] = {
    ("ipd", "lola-dice"): dict(updates=20001, checkpoint_every=1000, hp=dict(
        inner_steps=1, outer_steps=1, lr_in=0.05, lr_out=0.003, lr_v=0.0005, batch_size=2000,
        inner_beta=0.0, outer_beta=0.0)),
    ("ipd", "pola-dice"): dict(updates=101, checkpoint_every=10, hp=dict(
        inner_steps=2, outer_steps=200, lr_in=0.005, lr_out=0.003, lr_v=0.0005, batch_size=2000,
        inner_beta=10.0, outer_beta=100.0)),
    ("ipd", "pola-om"): dict(updates=101, checkpoint_every=10, hp=dict(
        inner_steps=2, outer_steps=200, lr_in=0.005, lr_out=0.003, lr_v=0.0005, batch_size=2000,
        inner_beta=10.0, outer_beta=100.0, om_batches=200, om_steps=1)),
    ("coin", "lola-dice"): dict(updates=50001, checkpoint_every=2000, hp=dict(
        inner_steps=1, outer_steps=1, lr_in=0.003, lr_out=0.003, lr_v=0.0005, batch_size=2000,
        inner_beta=0.0, outer_beta=0.0)),
    ("coin", "pola-dice"): dict(updates=251, checkpoint_every=25, hp=dict(
        inner_steps=4, outer_steps=200, lr_in=0.01, lr_out=0.003, lr_v=0.0005, batch_size=1000,
        inner_beta=5.0, outer_beta=150.0)),
    ("coin", "pola-om"): dict(updates=251, checkpoint_every=25, hp=dict(
        inner_steps=6, outer_steps=200, lr_in=0.01, lr_out=0.003, lr_v=0.0005, batch_size=1000,
        inner_beta=15.0, outer_beta=150.0, om_batches=200, om_steps=1)),
}

#: Small settings that show the qualitative result on 2 CPU cores in about 15 minutes per seed
#: (the README's "Presets" table lists what each changes relative to ``paper``).
QUICK: dict[tuple[str, str], dict[str, Any]] = {
    ("ipd", "lola-dice"): dict(updates=600, checkpoint_every=100, hidden=32, hp=dict(
        inner_steps=1, outer_steps=1, lr_in=0.05, lr_out=0.01, lr_v=0.0005, batch_size=256,
        inner_beta=0.0, outer_beta=0.0)),
    ("ipd", "pola-dice"): dict(updates=5, checkpoint_every=1, hidden=32, hp=dict(
        inner_steps=2, outer_steps=40, lr_in=0.05, lr_out=0.02, lr_v=0.0005, batch_size=1000,
        inner_beta=10.0, outer_beta=30.0)),
    ("ipd", "pola-om"): dict(updates=5, checkpoint_every=1, hidden=32, hp=dict(
        inner_steps=2, outer_steps=40, lr_in=0.05, lr_out=0.02, lr_v=0.0005, batch_size=1000,
        inner_beta=10.0, outer_beta=30.0, om_batches=20, om_steps=1)),
    ("coin", "lola-dice"): dict(updates=600, checkpoint_every=100, hidden=32, hp=dict(
        inner_steps=1, outer_steps=1, lr_in=0.003, lr_out=0.01, lr_v=0.0005, batch_size=256,
        inner_beta=0.0, outer_beta=0.0)),
    ("coin", "pola-dice"): dict(updates=8, checkpoint_every=4, hidden=32, hp=dict(
        inner_steps=2, outer_steps=40, lr_in=0.01, lr_out=0.02, lr_v=0.0005, batch_size=256,
        inner_beta=5.0, outer_beta=30.0)),
    ("coin", "pola-om"): dict(updates=8, checkpoint_every=4, hidden=32, hp=dict(
        inner_steps=2, outer_steps=40, lr_in=0.01, lr_out=0.02, lr_v=0.0005, batch_size=256,
        inner_beta=15.0, outer_beta=30.0, om_batches=20, om_steps=1)),
}
PRESETS = {"paper": PAPER, "quick": QUICK}


def preset_config(game: str, algo: str, preset: str = "paper", **overrides: Any) -> RunConfig:
    """The preset's configuration with ``overrides`` applied (hyperparameter names go into ``hp``).

    ``None`` values in ``overrides`` are ignored (unset CLI options).
    """
    require(game in GAMES, f"unknown game {game!r}; choose ipd or coin")
    require(algo in ALGOS, f"unknown algorithm {algo!r}; choose one of {', '.join(ALGOS)}")
    require(preset in PRESETS, f"unknown preset {preset!r}; choose paper or quick")
    base = dict(PRESETS[preset][(game, algo)])
    hp = dict(_COMMON, **base.pop("hp"), algo=algo)
    hp_names = set(Hyper.__dataclass_fields__)
    top: dict[str, Any] = {}
    for k, v in overrides.items():
        if v is None:
            continue
        (hp if k in hp_names else top)[k] = v
    base.update(top)
    base.setdefault("preset", preset)
    try:
        return RunConfig(game=game, hp=Hyper(**hp), **base)
    except PolaUsageError:
        raise
    except (TypeError, ValueError) as e:  # an unknown setting, or a value of the wrong type
        raise PolaUsageError(str(e)) from None


# ------------------------------------------------------------------------------------------------ metrics

METRICS_IPD = ("score1", "score2", "vs_alld1", "vs_alld2", "vs_allc1", "vs_allc2", "vs_tft1", "vs_tft2",
               "wall_time")
METRICS_COIN = METRICS_IPD + ("rr", "rb", "br", "bb", "own_coin")


def metric_names(game: str) -> tuple[str, ...]:
    return METRICS_COIN if game == "coin" else METRICS_IPD


def evaluate(game, arch: Architecture, agents, batch: int, rng: np.random.Generator,
             backend: str = "cpu") -> dict[str, float]:
    """Figure 4/5 metrics of the current pair: self-play scores, scores vs ALLD/ALLC/TFT, coin counts."""
    from pola_nb.sampled.rollout import coin_counts, own_coin_stats, rollout, scores

    s = [PolicySampler(arch.policy, a["pol"]) for a in agents]
    traj = rollout(game, s[0], s[1], batch, seed=rng, backend=backend)
    out: dict[str, float] = {}
    out["score1"], out["score2"] = scores(traj)
    if game.name == "coin":
        out.update(coin_counts(traj))
        out["own_coin"] = own_coin_stats(traj)["same"]
    for name in ("alld", "allc", "tft"):
        out[f"vs_{name}1"] = scores(rollout(game, s[0], name, batch, seed=rng, backend=backend, keep_obs=False))[0]
        out[f"vs_{name}2"] = scores(rollout(game, name, s[1], batch, seed=rng, backend=backend, keep_obs=False))[1]
    return out


# ------------------------------------------------------------------------------------------------ HDF5 I/O


def save_tree(group: h5py.Group, name: str, value: Any) -> None:
    """Write a nested dict/tuple of arrays under ``group[name]`` (replacing what was there)."""
    if name in group:
        del group[name]
    _write(group, name, value)


def _write(group: h5py.Group, name: str, value: Any) -> None:
    if isinstance(value, dict):
        g = group.create_group(name)
        for k, v in value.items():
            _write(g, k, v)
    elif isinstance(value, (tuple, list)):
        g = group.create_group(name)
        g.attrs["sequence"] = len(value)
        for i, v in enumerate(value):
            _write(g, f"item{i}", v)
    else:
        group.create_dataset(name, data=np.asarray(value))


def load_tree(node: h5py.Group | h5py.Dataset) -> Any:
    if isinstance(node, h5py.Dataset):
        return node[()]
    if "sequence" in node.attrs:
        return tuple(load_tree(node[f"item{i}"]) for i in range(int(node.attrs["sequence"])))
    return {k: load_tree(node[k]) for k in node}


@dataclass
class SeedState:
    agents: tuple
    models: tuple | None
    rng: np.random.Generator
    done: int


def _rng_state(rng: np.random.Generator) -> str:
    return json.dumps(rng.bit_generator.state)


def _rng_from(text: str) -> np.random.Generator:
    st = json.loads(text)
    bg = getattr(np.random, st["bit_generator"])()
    bg.state = st
    return np.random.Generator(bg)


def _save_state(f: h5py.File, k: int, st: SeedState) -> None:
    g = f.require_group(f"state/seed_{k}")
    slot = f"slot{st.done % 2}"
    save_tree(g, slot, {"agents": st.agents, **({"models": st.models} if st.models is not None else {})})
    g[slot].attrs["rng"] = _rng_state(st.rng)
    g.attrs["done"] = st.done  # last: the state of `done` is complete
    f.flush()


def _load_state(f: h5py.File, k: int) -> SeedState:
    g = f[f"state/seed_{k}"]
    done = int(g.attrs["done"])
    node = g[f"slot{done % 2}"]
    data = load_tree(node)
    return SeedState(tuple(data["agents"]), tuple(data["models"]) if "models" in data else None,
                     _rng_from(node.attrs["rng"]), done)


def _write_row(f: h5py.File, cfg: RunConfig, row: int, k: int, metrics: dict[str, float]) -> None:
    m = f["metrics"]
    if m["outer_steps"].shape[0] <= row:
        m["outer_steps"].resize((row + 1,))
        for name in metric_names(cfg.game):
            m[name].resize((row + 1, len(cfg.seeds)))
            m[name][row, :] = np.nan
    m["outer_steps"][row] = row * cfg.hp.outer_steps
    for name in metric_names(cfg.game):
        m[name][row, k] = metrics[name]


def _create(path: Path, cfg: RunConfig) -> None:
    with h5py.File(path, "w") as f:
        write_root_attrs(f, KIND, json.loads(cfg.to_json()))
        m = f.create_group("metrics")
        m.create_dataset("outer_steps", shape=(0,), maxshape=(None,), dtype=np.int64, chunks=(1024,))
        for name in metric_names(cfg.game):
            m.create_dataset(name, shape=(0, len(cfg.seeds)), maxshape=(None, len(cfg.seeds)), dtype=np.float64,
                             chunks=(256, len(cfg.seeds)), fillvalue=np.nan)


# ------------------------------------------------------------------------------------------------ the loop

Progress = Callable[[int, int, dict[str, float]], None]


def init_seed(cfg: RunConfig, arch: Architecture, seed: int) -> SeedState:
    """Initial parameters of both agents (and opponent models) and the seed's random generator."""
    rng = np.random.Generator(np.random.PCG64(seed))
    agents = (arch.init(rng), arch.init(rng))
    models = (arch.init(rng), arch.init(rng)) if cfg.hp.uses_opponent_model else None
    return SeedState(agents, models, rng, 0)


def train(path: str | Path, cfg: RunConfig | None = None, *, resume: bool = False, force: bool = False,
          progress: Progress | None = None, cluster: str | Executor = DEFAULT_CLUSTER,
          updates: int | None = None) -> Path:
    """Train (or, with ``resume``, continue) the run stored at ``path``; returns the path.

    ``progress(update, seed_index, metrics)`` is called after every evaluation (update 0 = before
    training). ``cluster``: where the agents' update tasks run, a ``--cluster`` text
    (:mod:`pola_nb.sampled.cluster`: ``local:1`` in this process, ``local:N``, ``tcp://HOST:PORT`` or
    a scheduler file) or an executor already opened with :func:`~pola_nb.sampled.cluster.open_cluster`;
    the results are the same wherever the tasks run. ``updates`` (with ``resume`` only) extends a run
    to that many updates; the continuation is the same as if the run had been started with that number.
    """
    path, cfg, stored = prepare_run(path, cfg, resume=resume, force=force, updates=updates,
                                    cluster=cluster if isinstance(cluster, str) else None)
    if not isinstance(cluster, str):
        return _train(path, cfg, stored, progress, cluster)
    with open_cluster(parse_cluster(cluster)) as executor:  # a bad cluster is refused before the file
        return _train(path, cfg, stored, progress, executor)


def prepare_run(path: str | Path, cfg: RunConfig | None = None, *, resume: bool = False, force: bool = False,
                updates: int | None = None, cluster: str | None = None
                ) -> tuple[Path, RunConfig, RunConfig | None]:
    """Validate the arguments of :func:`train` without touching any file: returns ``(path,
    configuration to run, stored configuration)``, the last one ``None`` for a new run.

    Refuses (PolaUsageError) a malformed ``cluster`` text (its scheduler is not contacted here), a
    bad ``updates``, an existing ``path`` without ``force``, a missing or unreadable run file with
    ``resume``, and a backend that does not work here.
    """
    if cluster is not None:
        parse_cluster(cluster)
    require(updates is None or resume, "updates= is for extending a resumed run; put it in the configuration")
    path = Path(path)
    stored = None
    if resume:
        stored = stored_config(path)
        cfg = extended(stored, updates, path)
        require(os.access(path, os.W_OK), f"{path} is not writable")
    else:
        require(isinstance(cfg, RunConfig), "a configuration (RunConfig) is needed")
        check_output_path(path, force)
    cfg.make_game()
    cfg.architecture()
    check_backend(cfg.backend)
    return path, cfg, stored


def stored_config(path: str | Path) -> RunConfig:
    """The configuration of the run file ``path`` (checked to be a readable training run file)."""
    path = Path(path)
    require(path.is_file(), f"nothing to resume: no such file {path}")
    with open_results(path) as f:
        require(f.attrs.get("kind") == KIND, f"{path} is not a training run file")
        require("config" in f.attrs and "metrics" in f, f"{path} is an incomplete training run file")
        return RunConfig.from_json(f.attrs["config"])


def require_rows(f: h5py.File) -> None:
    """Refuse a training run file that has no evaluated row yet (nothing to summarise or plot)."""
    require("metrics/outer_steps" in f, f"{f.filename} is an incomplete training run file")
    require(f["metrics/outer_steps"].shape[0] > 0,
            f"{f.filename} has no results yet (the first evaluation has not finished)")


def sampled_figure_configs(game: str, scale: str, n_seeds: int, **overrides: Any) -> dict[str, RunConfig]:
    """The run configuration of each algorithm of a sampled-game figure (``pola reproduce
    fig4|fig5``): preset ``scale`` with seeds ``1..n_seeds`` and ``overrides``."""
    require(scale in PRESETS, f"--scale must be quick or paper, got {scale!r}")
    require_int("the number of seeds", n_seeds, 1)
    return {algo: preset_config(game, algo, scale, **{**overrides, "seeds": tuple(range(1, n_seeds + 1))})
            for algo in ALGOS}


def extended(cfg: RunConfig, updates: int | None, path: Path) -> RunConfig:
    """``cfg`` of the run file ``path`` extended to ``updates`` (None: unchanged); never shortened."""
    if updates is None or updates == cfg.updates:
        return cfg
    require(updates > cfg.updates, f"--updates can only extend the run ({path} has {cfg.updates})")
    return replace(cfg, updates=updates)


def _train(path: Path, cfg: RunConfig, stored: RunConfig | None, progress: Progress | None,
           executor: Executor) -> Path:
    """The run of :func:`train` once :func:`prepare_run` has validated it, its update tasks on ``executor``.

    Each seed goes through its own sequence: (new seed) initialise and evaluate; then, per update,
    draw the two parts' seeds and submit them, and when both are back assemble, evaluate and record.
    The seed's generator is used in exactly this order wherever and whenever the tasks run, so the
    file does not depend on the executor. ``wall_time`` adds, per update, the span from the start of
    the first part to the end of the last one and the evaluation.
    """
    from pola_nb.sampled.process import training_process

    training_process()
    if stored is None:
        _create(path, cfg)
    elif cfg != stored:
        with open_h5(path, "a") as f:
            f.attrs["config"] = cfg.to_json()
    game, arch = cfg.make_game(), cfg.architecture()
    rollout = game_rollout(game, cfg.backend)
    eval_batch = cfg.eval_batch or cfg.hp.batch_size
    # The file is open only while it is written (after each evaluation), so other processes can read
    # it between updates and an interruption during the (long) computation leaves it closed.
    with open_h5(path, "a") as f:
        f.attrs["status"] = "running"
        states: list[SeedState | None] = [_load_state(f, k) if f"state/seed_{k}" in f else None
                                          for k in range(len(cfg.seeds))]
        prev_wall = f["metrics/wall_time"][()]
    wall = [float(prev_wall[st.done, k]) if st is not None and st.done < prev_wall.shape[0] else 0.0
            for k, st in enumerate(states)]
    pending: dict[Any, tuple[int, int]] = {}  # future -> (seed index, agent index)
    parts: list[list[Any]] = [[None, None] for _ in cfg.seeds]

    def submit(k: int) -> None:
        st = states[k]
        if st.done >= cfg.updates:
            return
        for i, job in enumerate(pair_jobs(arch, st.agents, cfg.hp, rollout, st.rng, st.models)):
            pending[executor.submit(timed_step, job)] = (k, i)

    for k, seed in enumerate(cfg.seeds):
        if states[k] is None:
            st = init_seed(cfg, arch, seed)
            t0 = time.perf_counter()
            met = evaluate(game, arch, st.agents, eval_batch, st.rng, cfg.backend)
            met["wall_time"] = wall[k] = time.perf_counter() - t0
            _record(path, cfg, k, st, met)
            states[k] = st
            if progress:
                progress(0, k, met)
        submit(k)
    while pending:
        for fut in executor.wait_any(list(pending)):
            k, i = pending.pop(fut)
            parts[k][i] = fut.result()
            if any(p is None for p in parts[k]):
                continue
            (r0, start0, end0), (r1, start1, end1) = parts[k]
            parts[k] = [None, None]
            st = states[k]
            agents, models = assemble([r0, r1], cfg.hp, st.models)
            t0 = time.perf_counter()
            met = evaluate(game, arch, agents, eval_batch, st.rng, cfg.backend)
            wall[k] += max(end0, end1) - min(start0, start1) + time.perf_counter() - t0
            met["wall_time"] = wall[k]
            new = SeedState(tuple(agents), models, st.rng, st.done + 1)
            _record(path, cfg, k, new, met)
            states[k] = new
            if progress:
                progress(new.done, k, met)
            submit(k)
    with open_h5(path, "a") as f:
        f.attrs["status"] = "complete"
    return path


def _record(path: Path, cfg: RunConfig, k: int, st: SeedState, met: dict[str, float]) -> None:
    """Write seed ``k``'s metrics row, checkpoint and resume state after update ``st.done``."""
    with open_h5(path, "a") as f:
        _write_row(f, cfg, st.done, k, met)
        _checkpoint(f, cfg, st.done, k, st)
        _save_state(f, k, st)


def _checkpoint(f: h5py.File, cfg: RunConfig, u: int, k: int, st: SeedState) -> None:
    if u % cfg.checkpoint_every == 0 or u == cfg.updates:
        save_tree(f.require_group(f"checkpoints/{u}"), f"seed_{k}", {"agents": st.agents})


def load_checkpoint(path: str | Path, update: int | None = None, seed_index: int = 0):
    """``(config, architecture, (agent1, agent2))`` from a run file at checkpoint ``update`` (default:
    the latest one)."""
    from pola_nb.results import open_results

    with open_results(path) as f:
        require(f.attrs.get("kind") == KIND, f"{path} is not a training run file")
        cfg = RunConfig.from_json(f.attrs["config"])
        have = sorted(int(u) for u in f.get("checkpoints", {}))
        require(len(have) > 0, f"{path} has no checkpoints")
        u = have[-1] if update is None else update
        require(u in have, f"{path} has no checkpoint at update {u}; available: {have}")
        node = f[f"checkpoints/{u}"]
        require(f"seed_{seed_index}" in node, f"no seed index {seed_index} at update {u}")
        agents = load_tree(node[f"seed_{seed_index}/agents"])
    return cfg, cfg.architecture(), tuple(agents)



def parse_checkpoint_spec(text: str) -> tuple[Path, int | None, int]:
    """``RUN.h5[:update][@seed_index]`` -> ``(path, update or None for the latest, seed index)``."""
    seed_index = 0
    if "@" in text:
        text, s = text.rsplit("@", 1)
        try:
            seed_index = int(s)
        except ValueError:
            raise PolaUsageError(f"bad seed index in checkpoint spec: {s!r}") from None
    update: int | None = None
    head, sep, tail = text.rpartition(":")
    if sep and tail.isdigit() and head:
        text, update = head, int(tail)
    return Path(text), update, seed_index


def checkpoint_agent(text: str, agent: int) -> tuple[RunConfig, PolicySampler]:
    """Agent ``agent`` (0 or 1) of a checkpoint ``RUN.h5[:update][@seed_index]`` as a rollout-driver
    agent (for ``pola eval``), with the run's configuration (game settings)."""
    require(agent in (0, 1), "agent must be 0 or 1")
    path, update, k = parse_checkpoint_spec(text)
    cfg, arch, agents = load_checkpoint(path, update, k)
    return cfg, PolicySampler(arch.policy, agents[agent]["pol"])
