"""Hyperparameter sweeps: one training run per point of a grid, described by a TOML file.

A sweep file names ``game``, ``algo``, ``preset`` and ``seeds`` (a list of ints), optional fixed
overrides in a ``[set]`` table (any :func:`~pola_nb.sampled.config.preset_config` override) and a
``[grid]`` table whose values are lists; the runs are the cartesian product of the grid. Every run is
an ordinary ``train`` run file in the output folder, named after its grid values
(``lr_in=0.01_outer_beta=30.0.h5``), and ``sweep.h5`` (kind ``sweep``) lists them with their grid values
and the sweep file's text. ``pola summary DIR/sweep.h5`` reports the final metrics of every run.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from pola_nb.errors import PolaUsageError, require
from pola_nb.generics import dispatch, summary
from pola_nb.results import ResultsKind, atomic_results, check_output_path, open_h5, open_results
from pola_nb.runfile import stored_config, updates_done
from pola_nb.sampled.config import RunConfig, preset_config
from pola_nb.sampled.training import prepare_run, train
from pola_nb.settings import toml_loads

KIND = "sweep"
INDEX = "sweep.h5"
TOP_KEYS = ("game", "algo", "preset", "seeds", "set", "grid")
REQUIRED = ("game", "algo", "seeds", "grid")
SUMMARY_METRICS = ("score_each_other", "score_vs_alld", "own_coin")

#: ``progress(run name, update, seed index, metrics)``, called after every evaluation of every run.
SweepProgress = Callable[[str, int, int, dict[str, float]], None]


@dataclass(frozen=True)
class SweepRun:
    """One point of the grid: its file name (without ``.h5``), grid values and configuration."""

    name: str
    grid: dict[str, Any]
    config: RunConfig

    @property
    def file(self) -> str:
        return f"{self.name}.h5"


@dataclass(frozen=True)
class Sweep:
    """A parsed and validated sweep file."""

    text: str
    game: str
    algo: str
    preset: str
    runs: tuple[SweepRun, ...]


def _value_text(v: Any) -> str:
    text = ("true" if v else "false") if isinstance(v, bool) else str(v)
    return re.sub(r"[^A-Za-z0-9.+-]", "-", text)


def parse_sweep(text: str) -> Sweep:
    """The sweep described by the TOML ``text``, every run's configuration built (PolaUsageError if
    anything is malformed, unknown or invalid)."""
    d = toml_loads(text, "malformed sweep file")
    unknown = sorted(set(d) - set(TOP_KEYS))
    require(not unknown, f"unknown key(s) in the sweep file: {', '.join(unknown)}; "
            f"expected {', '.join(TOP_KEYS)}")
    missing = [k for k in REQUIRED if k not in d]
    require(not missing, f"the sweep file needs {', '.join(missing)}")
    game, algo, preset = d["game"], d["algo"], d.get("preset", "paper")
    for key, v in (("game", game), ("algo", algo), ("preset", preset)):
        require(isinstance(v, str), f"{key} must be a string, got {v!r}")
    seeds = d["seeds"]
    require(isinstance(seeds, list) and len(seeds) > 0 and all(type(s) is int for s in seeds),
            f"seeds must be a non-empty list of ints, got {seeds!r}")
    fixed = d.get("set", {})
    grid = d["grid"]
    require(isinstance(fixed, dict), "set must be a table")
    require(isinstance(grid, dict) and len(grid) > 0, "grid must be a non-empty table of lists")
    for key, values in grid.items():
        require(isinstance(values, list) and len(values) > 0, f"grid.{key} must be a non-empty list")
        require(all(not isinstance(v, (list, dict)) for v in values), f"grid.{key} must list plain values")
        require(len({_value_text(v) for v in values}) == len(values), f"grid.{key} has duplicate values")
    for key in ("seeds", "preset", "game", "algo"):
        require(key not in fixed and key not in grid, f"{key} is set at the top of the sweep file, "
                "not in [set] or [grid]")
    both = sorted(set(fixed) & set(grid))
    require(not both, f"{', '.join(both)} is both in [set] and in [grid]")
    runs = []
    for point in itertools.product(*grid.values()):
        values = dict(zip(grid, point, strict=True))
        name = "_".join(f"{k}={_value_text(v)}" for k, v in values.items())
        try:
            cfg = preset_config(game, algo, preset, seeds=tuple(seeds), **fixed, **values)
        except PolaUsageError as e:
            raise PolaUsageError(f"run {name}: {e}") from None
        runs.append(SweepRun(name, values, cfg))
    return Sweep(text, game, algo, preset, tuple(runs))


def load_sweep(path: str | Path) -> Sweep:
    """:func:`parse_sweep` of the file ``path``."""
    p = Path(path)
    require(p.is_file(), f"no such sweep file: {p}")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise PolaUsageError(f"cannot read {p} ({type(e).__name__})") from None
    return parse_sweep(text)


def _index_entries(sweep: Sweep) -> list[dict[str, Any]]:
    return [{"name": r.name, "file": r.file, "grid": r.grid, "config": json.loads(r.config.to_json())}
            for r in sweep.runs]


def plan_sweep(sweep: Sweep, out: str | Path, *, resume: bool = False, force: bool = False,
               cluster: str | None = None) -> list[tuple[SweepRun, bool]]:
    """Validate running ``sweep`` into the folder ``out`` without touching any file: returns every
    run with whether it is resumed (``True``) or started; finished runs (with ``resume``) are left out.

    Refuses an existing ``sweep.h5`` without ``resume`` or ``force``, ``resume`` without one or with a
    different sweep, and (without ``force``) existing run files of a new sweep.
    """
    out = Path(out)
    require(not out.exists() or out.is_dir(), f"--out must be a folder, got the file {out}")
    require(out.exists() or out.parent.is_dir(), f"output folder does not exist: {out.parent}")
    index = out / INDEX
    require(not (resume and force), "--resume and --force exclude each other")
    todo: list[tuple[SweepRun, bool]] = []
    if resume:
        require(index.is_file(), f"nothing to resume: no {index}")
        with open_results(index) as f:
            require(f.attrs.get("kind") == KIND, f"{index} is not a sweep file")
            stored = json.loads(f.attrs["sweep_runs"])
        require(stored == json.loads(json.dumps(_index_entries(sweep))),
                f"{index} holds a different sweep; resume it with its own sweep file")
        for r in sweep.runs:
            p = out / r.file
            if not p.exists():
                prepare_run(p, r.config, cluster=cluster)
                todo.append((r, False))
                continue
            require(stored_config(p) == r.config, f"{p} holds a different configuration")
            with open_results(p) as f:
                finished = f.attrs.get("status") == "complete"
            if not finished:
                prepare_run(p, resume=True, cluster=cluster)
                todo.append((r, True))
        return todo
    require(force or not index.exists(), f"{index} exists; pass --resume to continue it or --force to overwrite it")
    if out.is_dir():
        check_output_path(index, force)
        for r in sweep.runs:
            prepare_run(out / r.file, r.config, force=force, cluster=cluster)
    else:
        from pola_nb.backends import check_backend
        from pola_nb.sampled.cluster import parse_cluster

        if cluster is not None:
            parse_cluster(cluster)
        for r in sweep.runs:
            r.config.make_game()
            r.config.architecture()
            check_backend(r.config.backend)
    return [(r, False) for r in sweep.runs]


class SweepCounter:
    """Progress of a sweep: runs finished, seed-updates finished out of all of them, and the time left
    at the pace of the seed-updates finished since the counter started.

    ``todo`` is :func:`plan_sweep`'s list; the runs it leaves out are finished, and a resumed run's
    seeds count the updates its file already holds. Feed it every ``progress`` call of
    :func:`run_sweep` (:meth:`update`; thread-safe: a Dask sweep calls it from one thread per run).
    """

    def __init__(self, sweep: Sweep, out: str | Path, todo: list[tuple[SweepRun, bool]],
                 clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self.start = clock()
        self.goal = {r.name: r.config.updates for r in sweep.runs}
        left = {r.name: resumed for r, resumed in todo}
        self.done: dict[str, list[int]] = {}
        for r in sweep.runs:
            n = len(r.config.seeds)
            if r.name not in left:
                self.done[r.name] = [r.config.updates] * n
            elif left[r.name]:
                self.done[r.name] = updates_done(Path(out) / r.file, n)
            else:
                self.done[r.name] = [0] * n
        self.total = sum(self.goal[r.name] * len(r.config.seeds) for r in sweep.runs)
        self.at_start = self.updates_done
        self._lock = threading.Lock()

    @property
    def updates_done(self) -> int:
        return sum(sum(d) for d in self.done.values())

    @property
    def runs_done(self) -> int:
        return sum(all(u >= self.goal[name] for u in d) for name, d in self.done.items())

    def update(self, name: str, u: int, k: int) -> None:
        """Seed ``k`` of run ``name`` has finished ``u`` updates."""
        with self._lock:
            self.done[name][k] = max(self.done[name][k], u)

    def eta_s(self) -> float | None:
        """Seconds left at the pace since the counter started (None before its first finished seed-update)."""
        new = self.updates_done - self.at_start
        if new <= 0:
            return None
        return (self.clock() - self.start) * (self.total - self.updates_done) / new

    def text(self) -> str:
        """``runs 1/4, updates 37/120, 2:10 elapsed, ETA 5:03``."""
        eta = self.eta_s()
        return (f"runs {self.runs_done}/{len(self.goal)}, updates {self.updates_done}/{self.total}, "
                f"{_clock_text(self.clock() - self.start)} elapsed, ETA {'?' if eta is None else _clock_text(eta)}")


def _clock_text(seconds: float) -> str:
    """``h:mm:ss`` (or ``m:ss`` under an hour)."""
    m, s = divmod(int(round(seconds)), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _write_index(sweep: Sweep, out: Path, force: bool) -> None:
    config = {"game": sweep.game, "algo": sweep.algo, "preset": sweep.preset,
              "grid": list(sweep.runs[0].grid), "sweep_toml": sweep.text}
    with atomic_results(out / INDEX, KIND, config, force=force) as f:
        f.attrs["sweep_runs"] = json.dumps(_index_entries(sweep), sort_keys=True)
        f.attrs["sweep_toml"] = sweep.text


def _set_status(out: Path, status: str) -> None:
    with open_h5(out / INDEX, "a") as f:
        f.attrs["status"] = status


def run_sweep(sweep: Sweep, out: str | Path, *, resume: bool = False, force: bool = False,
              cluster: Any = "local:1", progress: SweepProgress | None = None) -> Path:
    """Run (or, with ``resume``, continue) every run of ``sweep`` into the folder ``out``; returns the
    path of ``sweep.h5``.

    ``cluster`` is a ``--cluster`` text or an executor already opened with
    :func:`~pola_nb.sampled.cluster.open_cluster`; all runs share it. In this process the runs go one
    after another; on a Dask cluster every run's loop runs in its own client thread, so the seeds of
    all runs are submitted together and the workers stay busy. The run files are the same either way.
    """
    out = Path(out)
    todo = plan_sweep(sweep, out, resume=resume, force=force,
                      cluster=cluster if isinstance(cluster, str) else None)
    if isinstance(cluster, str):
        from pola_nb.sampled.cluster import open_cluster

        with open_cluster(cluster) as executor:
            return _run(sweep, out, todo, resume, force, executor, progress)
    return _run(sweep, out, todo, resume, force, cluster, progress)


def _run(sweep: Sweep, out: Path, todo: list[tuple[SweepRun, bool]], resume: bool, force: bool,
         executor: Any, progress: SweepProgress | None) -> Path:
    if not resume:
        out.mkdir(exist_ok=True)
        _write_index(sweep, out, force)
    _set_status(out, "running")

    stop = threading.Event()  # set when one thread's run fails or the sweep is interrupted

    def one(run: SweepRun, resumed: bool) -> None:
        def step(u: int, k: int, m: dict[str, float]) -> None:
            if stop.is_set():  # after a row is recorded, so the run file stays resumable
                raise KeyboardInterrupt
            if progress is not None:
                progress(run.name, u, k, m)

        train(out / run.file, None if resumed else run.config, resume=resumed, force=force and not resumed,
              progress=step, cluster=executor)

    try:
        _run_all(todo, one, executor, stop)
    except BaseException:
        with contextlib.suppress(Exception):
            _set_status(out, "stopped")
        raise
    _set_status(out, "complete")
    return out / INDEX


def _run_all(todo: list[tuple[SweepRun, bool]], one: Any, executor: Any, stop: threading.Event) -> None:
    """Run ``one(run, resumed)`` for every entry of ``todo``: in turn in one process, else one thread
    per run; when one fails or the sweep is interrupted, ``stop`` tells the others to stop."""
    from pola_nb.sampled.cluster import InProcess

    if isinstance(executor, InProcess) or len(todo) <= 1:
        for run, resumed in todo:
            one(run, resumed)
    else:
        pool = ThreadPoolExecutor(max_workers=len(todo), thread_name_prefix="pola-sweep")
        futures = [pool.submit(one, run, resumed) for run, resumed in todo]
        try:
            for fut in futures:
                fut.result()
        except BaseException:
            stop.set()  # the other runs stop at their next recorded update
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


# ------------------------------------------------------------------------------------------------ report


class SweepResults(ResultsKind):
    """``sweep``: the index of a sweep's run files with their grid values."""

    name = KIND


@dispatch
def summary(kind: SweepResults, f: h5py.File) -> dict:
    """Final metrics of every run of a sweep: as ``pola summary`` of each run file (the last row every
    seed reached, mean over seeds and 1.96 standard errors), with the run's grid values."""
    from pola_nb.sampled.report import TrainResults

    cfg = json.loads(f.attrs["config"])
    base = Path(f.filename).parent
    runs = []
    for entry in json.loads(f.attrs["sweep_runs"]):
        row: dict[str, Any] = {"name": entry["name"], "file": entry["file"], "grid": entry["grid"]}
        p = base / entry["file"]
        if not p.is_file():
            row["status"] = "not started"
        else:
            with open_results(p) as g:
                if "metrics/score1" not in g or not (~np.isnan(g["metrics/score1"][()]).any(axis=1)).any():
                    row["status"] = "not started"
                else:
                    s = summary(TrainResults(), g)
                    row.update({k: s[k] for k in ("status", "updates", "outer_steps")})
                    for k in SUMMARY_METRICS:
                        if k in s:
                            row[k], row[k + "_ci95"] = s[k], s[k + "_ci95"]
        runs.append(row)
    return {"kind": KIND, "game": cfg["game"], "algo": cfg["algo"], "preset": cfg["preset"],
            "grid": cfg["grid"], "status": str(f.attrs["status"]), "runs": runs}


@dispatch
def table(kind: SweepResults, s: dict) -> str:
    """A heading line, then one line per run: its status and final metrics."""
    lines = [f"{s['game']} {s['algo']} sweep over {', '.join(s['grid'])} ({s['status']}, {len(s['runs'])} runs)"]
    for r in s["runs"]:
        if "updates" not in r:
            lines.append(f"  {r['name']}: {r['status']}")
            continue
        parts = [f"{k} {r[k]:+.4f} ± {r[k + '_ci95']:.4f}" for k in SUMMARY_METRICS if k in r]
        lines.append(f"  {r['name']} ({r['status']}, {r['updates']} updates): " + "  ".join(parts))
    return "\n".join(lines)


@dispatch
def plot(kind: SweepResults, f: h5py.File, png: str | Path) -> None:
    """No figure of its own: PolaUsageError."""
    raise PolaUsageError("a sweep file has no plot of its own; plot its run files (or use pola compare)")

