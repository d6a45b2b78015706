"""Tables of training runs for analysis: load many run files, aggregate over seeds, compare runs.

:func:`load_runs` reads training run files (kind ``train``), figure files (kind ``fig4``/``fig5``,
expanded into their three run files) and sweep indexes (``sweep.h5``, kind ``sweep``, expanded into
the run files it lists) into one tidy :class:`pandas.DataFrame`, one row per
(run, seed, update, metric) that the seed has reached. Its columns:

- ``run`` (the run file's path as found), ``game``, ``algo``, ``preset`` ("" if none is stored);
- every configuration field that differs between the loaded runs, flattened (``hp.lr_in``,
  ``hidden``; lists as JSON text, e.g. ``seeds``);
- ``seed`` (the seed value, not its index), ``update`` (the update after which the row was
  evaluated, 0 = before training), ``outer_steps`` (optimiser steps: ``update * hp.outer_steps`` for
  the POLA family, ``update`` for LOQA);
- ``metric`` and ``value`` (float64): the stored metrics (``score1``, ``vs_alld2``, ``wall_time`` in
  seconds since the seed started, ...) and the derived ones of :func:`pola_nb.sampled.report.derived`
  (``score_each_other``, ``score_vs_alld``, ``score_vs_allc``, ``score_vs_tft``; Coin Game ``own_coin``).

Each file is opened once and only its root attributes and ``metrics/`` are read.
:func:`to_dataset` turns the table into an :class:`xarray.Dataset`, :func:`aggregate` gives the mean
over seeds with a confidence interval, and :func:`compare` draws runs side by side (``pola compare``).
"""

from __future__ import annotations

import glob
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from statistics import NormalDist
from typing import TYPE_CHECKING, Any

import numpy as np

from pola_nb.errors import PolaUsageError, is_integer, require

if TYPE_CHECKING:
    import pandas as pd
    import xarray as xr
    from matplotlib.figure import Figure

TRAIN_KIND = "train"
FIGURE_KINDS = ("fig4", "fig5")
SWEEP_KIND = "sweep"
#: Columns of the tidy table that describe the run (one value per run).
RUN_COLUMNS = ("run", "game", "algo", "preset")
X_AXES = {"outer_steps": "Total number of outer steps", "update": "Update",
          "wall_time": "Wall time per seed (s)"}
DEFAULT_METRICS = ("score_each_other", "score_vs_alld")


@dataclass(frozen=True)
class Run:
    """One run file as read by :func:`read_run`: flattened configuration and metric arrays.

    ``metrics[name]`` is float64 ``(rows, seeds)`` (NaN: not reached); ``outer_steps`` and
    ``updates`` (the update each row was evaluated after) are ``(rows,)``.
    """

    path: str
    config: dict[str, Any]
    seeds: tuple[int, ...]
    outer_steps: np.ndarray
    metrics: dict[str, np.ndarray]
    updates: np.ndarray

    @property
    def game(self) -> str:
        return str(self.config["game"])

    @property
    def algo(self) -> str:
        return str(self.config.get("hp.algo", ""))


# ------------------------------------------------------------------------------------------------ reading


def expand_paths(paths_or_globs: str | os.PathLike | Iterable[str | os.PathLike]) -> list[Path]:
    """The files named by ``paths_or_globs`` (a path, a glob pattern, or several), in order, each once.

    A pattern that matches nothing is refused; plain paths are checked when they are opened.
    """
    items = [paths_or_globs] if isinstance(paths_or_globs, (str, os.PathLike)) else list(paths_or_globs)
    require(len(items) > 0, "no run files given")
    out: list[Path] = []
    for item in items:
        text = os.fspath(item)
        if any(c in text for c in "*?[") and not Path(text).exists():
            matches = sorted(glob.glob(text))
            require(len(matches) > 0, f"no file matches {text}")
            out.extend(Path(m) for m in matches)
        else:
            out.append(Path(text))
    return out


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        elif isinstance(v, list):
            out[prefix + k] = json.dumps(v)
        else:
            out[prefix + k] = v
    return out


def _read_train(f: Any, path: Path) -> Run:
    from pola_nb.sampled.report import derived

    require("config" in f.attrs and "metrics/outer_steps" in f, f"{path} is an incomplete training run file")
    cfg = json.loads(f.attrs["config"])
    m = {k: f["metrics"][k][()] for k in f["metrics"]}
    outer = np.asarray(m.pop("outer_steps"), dtype=np.int64)
    # files without an update column were evaluated after every update
    updates = np.asarray(m.pop("update", np.arange(len(outer))), dtype=np.int64)
    metrics = {k: np.asarray(v, dtype=np.float64) for k, v in m.items()}
    for k, v in derived(metrics).items():
        metrics.setdefault(k, v)
    return Run(str(path), _flatten(cfg), tuple(int(s) for s in cfg["seeds"]), outer, metrics, updates)


def read_runs(paths_or_globs: str | os.PathLike | Iterable[str | os.PathLike]) -> list[Run]:
    """Every run named by ``paths_or_globs`` (run files, and figure files and sweep indexes expanded
    into their run files), each file opened once; a run named twice is read once. PolaUsageError for
    a missing or foreign file, a file of another kind or a run file that an index lists but that
    does not exist."""
    from pola_nb.results import open_results
    from pola_nb.sampled.report import figure_runs

    runs: list[Run] = []
    seen: set[Path] = set()

    def add(path: Path) -> None:
        key = path.resolve()
        if key in seen:
            return
        seen.add(key)
        with open_results(path) as f:
            kind = str(f.attrs["kind"])
            if kind == TRAIN_KIND:
                runs.append(_read_train(f, path))
                return
            if kind == SWEEP_KIND:
                members = _sweep_runs(f, path)
            else:
                require(kind in FIGURE_KINDS and "runs" in f.attrs, f"{path} is a {kind} file; expected a "
                        "training run file, a fig4/fig5 file or a sweep index (sweep.h5)")
                members = list(figure_runs(f).values())
        for p in members:
            require(p.is_file(), f"{path} lists the run file {p}, which does not exist")
            add(p)

    for p in expand_paths(paths_or_globs):
        add(p)
    return runs


def _sweep_runs(f: Any, path: Path) -> list[Path]:
    """The run files listed by the sweep index ``f`` (read from ``path``), relative to its folder."""
    require("sweep_runs" in f.attrs, f"{path} is an incomplete sweep index (no sweep_runs)")
    try:
        entries = json.loads(f.attrs["sweep_runs"])
        files = [str(e["file"]) for e in entries]
    except (ValueError, TypeError, KeyError):
        raise PolaUsageError(f"{path} is a malformed sweep index (sweep_runs)") from None
    return [path.parent / name for name in files]


def differing_fields(runs: Sequence[Run]) -> list[str]:
    """Flattened configuration fields whose value is not the same in all ``runs`` (sorted); ``game``,
    ``hp.algo`` and ``preset`` are left out (they have columns of their own)."""
    keys = sorted({k for r in runs for k in r.config} - {"game", "hp.algo", "preset"})
    return [k for k in keys if len({json.dumps(r.config.get(k)) for r in runs}) > 1]


def runs_table(runs: Sequence[Run]) -> pd.DataFrame:
    """The tidy table (see the module docstring) of runs already read by :func:`read_runs`."""
    import pandas as pd

    fields = differing_fields(runs)
    cols: dict[str, list[np.ndarray]] = {c: [] for c in (*RUN_COLUMNS, *fields, "seed", "update",
                                                         "outer_steps", "metric", "value")}
    for r in runs:
        seeds = np.asarray(r.seeds, dtype=np.int64)
        for name in sorted(r.metrics):
            v = r.metrics[name]
            rows, n = v.shape
            keep = ~np.isnan(v)
            row = np.broadcast_to(np.arange(rows, dtype=np.int64)[:, None], v.shape)[keep]
            size = len(row)
            cols["seed"].append(np.broadcast_to(seeds[None, :n], v.shape)[keep])
            cols["update"].append(r.updates[:rows][row])
            cols["outer_steps"].append(r.outer_steps[:rows][row])
            cols["value"].append(v[keep])
            cols["metric"].append(np.full(size, name, dtype=object))
            run_values = {"run": r.path, "game": r.game, "algo": r.algo,
                          "preset": str(r.config.get("preset", "") or "")}
            for c in RUN_COLUMNS:
                cols[c].append(np.full(size, run_values[c], dtype=object))
            for c in fields:
                cols[c].append(np.full(size, r.config.get(c), dtype=object))
    data = {c: (np.concatenate(parts) if parts else np.empty(0, dtype=object)) for c, parts in cols.items()}
    df = pd.DataFrame(data)
    for c in ("seed", "update", "outer_steps"):
        df[c] = df[c].astype(np.int64)
    df["value"] = df["value"].astype(np.float64)
    for c in fields:  # numbers stay numbers where every run has one
        df[c] = df[c].infer_objects()
    return df


def load_runs(paths_or_globs: str | os.PathLike | Iterable[str | os.PathLike]) -> pd.DataFrame:
    """The tidy table of the runs named by ``paths_or_globs`` (paths or glob patterns of run files,
    fig4/fig5 files and sweep indexes). One row per (run, seed, update, metric) reached; see the
    module docstring. A sweep's grid values are configuration columns (fields that differ)."""
    return runs_table(read_runs(paths_or_globs))


# ------------------------------------------------------------------------------------------------ shapes


def to_dataset(df: pd.DataFrame) -> xr.Dataset:
    """The tidy table as an :class:`xarray.Dataset` with dims ``(run, update, seed)``: one float64
    variable per metric (NaN where a seed has not reached an update or a run lacks the metric), the
    coordinate ``outer_steps`` ``(run, update)`` and the run columns (``game``, ``algo``, ...) as
    coordinates along ``run``."""
    _require_columns(df, ("run", "update", "seed", "metric", "value"))
    wide = df.set_index(["run", "update", "seed", "metric"])["value"].unstack("metric")
    ds = wide.to_xarray()
    if "outer_steps" in df:
        steps = df.groupby(["run", "update"])["outer_steps"].first().to_xarray()
        ds = ds.assign_coords(outer_steps=steps.reindex_like(ds[["run", "update"]]))
    per_run = [c for c in df.columns if c not in ("run", "update", "seed", "outer_steps", "metric", "value")]
    if per_run:
        first = df.groupby("run")[per_run].first().reindex(ds["run"].values)
        ds = ds.assign_coords({c: ("run", first[c].to_numpy()) for c in per_run})
    return ds


def _require_columns(df: pd.DataFrame, columns: Iterable[str]) -> None:
    missing = [c for c in columns if c not in df.columns]
    require(not missing, f"the table lacks the column(s) {', '.join(missing)}")


# ------------------------------------------------------------------------------------------------ statistics


def aggregate(df: pd.DataFrame, by: Sequence[str] = ("run", "update", "metric"), ci: str = "se",
              level: float = 0.95, n_boot: int = 1000, seed: int = 0, ddof: int = 0) -> pd.DataFrame:
    """Mean of ``value`` over the rows of each group ``by`` (by default: over seeds) with an interval.

    Returns one row per group: the ``by`` columns, ``mean``, ``low``, ``high`` and ``n`` (values in
    the group). ``ci="se"``: mean ± z·SE with SE = std / sqrt(n), the std with ``ddof`` (0: as ``pola
    plot`` and the paper's figures; 1: the sample standard deviation) and z the normal quantile of
    ``level`` (1.96 at 0.95). ``ci="bootstrap"``: the percentile interval of the
    means of ``n_boot`` resamples drawn with ``numpy.random.default_rng(seed)`` (the same seed gives
    the same interval). A group of one value has ``low == high == mean``.
    """
    import pandas as pd

    by = [by] if isinstance(by, str) else list(by)
    require(len(by) > 0, "aggregate needs at least one column in by")
    _require_columns(df, [*by, "value"])
    require(ci in ("se", "bootstrap"), f"unknown ci {ci!r}; choose se or bootstrap")
    require(isinstance(level, (int, float)) and not isinstance(level, bool) and 0 < level < 1,
            f"level must be a number in (0, 1), got {level!r}")
    require(is_integer(n_boot) and n_boot >= 1, f"n_boot must be an integer >= 1, got {n_boot!r}")
    require(ddof in (0, 1) and not isinstance(ddof, bool), f"ddof must be 0 or 1, got {ddof!r}")
    g = df.groupby(by, sort=True, observed=True, dropna=False)["value"]
    out = g.agg(mean="mean", n="count")
    if ci == "se":
        z = NormalDist().inv_cdf(0.5 + level / 2)
        half = z * np.nan_to_num(g.std(ddof=ddof).to_numpy()) / np.sqrt(np.maximum(out["n"].to_numpy(), 1))
        out["low"], out["high"] = out["mean"] - half, out["mean"] + half
    else:
        codes = g.ngroup().to_numpy()
        low, high = _bootstrap(df["value"].to_numpy(np.float64), codes, len(out), level, n_boot, seed)
        out["low"], out["high"] = low, high
    out = out.reset_index()[[*by, "mean", "low", "high", "n"]]
    out["n"] = out["n"].astype(np.int64)
    return pd.DataFrame(out)


def _bootstrap(values: np.ndarray, codes: np.ndarray, groups: int, level: float, n_boot: int,
               seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bootstrap interval of the mean of each group (``codes``: group of each value).

    Groups of the same size share the resampling indices (one draw per size), which keeps the work
    vectorised; each group's interval is still a bootstrap of its own values.
    """
    rng = np.random.default_rng(seed)
    order = np.argsort(codes, kind="stable")
    vals = values[order]
    counts = np.bincount(codes, minlength=groups)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    low, high = np.empty(groups), np.empty(groups)
    q = [50 * (1 - level), 50 * (1 + level)]
    for size in np.unique(counts):
        members = np.nonzero(counts == size)[0]
        idx = rng.integers(0, size, (n_boot, size))
        for chunk in np.array_split(members, max(1, len(members) * n_boot * size // 4_000_000 + 1)):
            x = vals[starts[chunk][:, None] + np.arange(size)]  # (groups, size)
            means = x[:, idx].mean(axis=2)  # (groups, n_boot)
            low[chunk], high[chunk] = np.percentile(means, q, axis=1)
    return low, high


# ------------------------------------------------------------------------------------------------ comparison


@dataclass
class Comparison:
    """What :func:`compare` drew: the figure, the plotted table and the files written.

    ``table`` has one row per (line, update, metric): ``run`` (the line: its first run file), ``label``,
    ``algo``, ``update``, ``x`` (the x-axis value: outer steps, update or mean wall time in seconds),
    ``metric``, ``mean``, ``low``, ``high``, ``n`` (seeds); each line of the figure is ``(x, mean)`` of
    one line and metric. Run files whose configurations differ only in their seeds (all different)
    and their planned number of updates share one line, e.g. one file per seed of a cluster job.
    """

    figure: Figure
    table: pd.DataFrame
    written: list[Path]


#: Configuration fields that do not separate lines in :func:`compare`: files that differ only in
#: these (and have no seed in common) are seeds of one experiment.
POOLED_FIELDS = ("seeds", "updates")


def pooled_lines(runs: Sequence[Run]) -> dict[str, str]:
    """Run path -> the path of the first run of its line (see :class:`Comparison`): runs whose
    configurations agree but for :data:`POOLED_FIELDS` and that share no seed form one line."""
    lines: dict[str, str] = {}
    heads: dict[str, list[tuple[str, set[int]]]] = {}  # configuration key -> [(first path, seeds)]
    for r in runs:
        key = json.dumps({k: v for k, v in r.config.items() if k not in POOLED_FIELDS}, sort_keys=True,
                         default=str)
        for i, (head, seeds) in enumerate(heads.setdefault(key, [])):
            if seeds.isdisjoint(r.seeds):
                lines[r.path] = head
                heads[key][i] = (head, seeds | set(r.seeds))
                break
        else:
            heads[key].append((r.path, set(r.seeds)))
            lines[r.path] = r.path
    return lines


def _labels(runs: Sequence[Run], key: str | None) -> dict[str, str]:
    from pola_nb.sampled.report import LABELS

    if key is not None:
        known = sorted({k for r in runs for k in r.config} | {"run"})
        require(key in known, f"unknown label field {key!r}; choose one of {', '.join(known)}")
        labels = {r.path: f"{key}={r.path if key == 'run' else r.config.get(key)}" for r in runs}
    else:
        fields = differing_fields(runs)
        labels = {}
        for r in runs:
            extra = ", ".join(f"{k}={r.config.get(k)}" for k in fields)
            labels[r.path] = LABELS.get(r.algo, r.algo) + (f" ({extra})" if extra else "")
    if len(set(labels.values())) < len(labels):  # tell apart runs that the label does not
        labels = {p: f"{lab} [{Path(p).stem}]" for p, lab in labels.items()}
    return labels


def comparison_table(runs: Sequence[Run], metrics: Sequence[str] = DEFAULT_METRICS, x: str = "outer_steps",
                     label: str | None = None, pool: bool = True, ddof: int = 0) -> pd.DataFrame:
    """The table that :func:`compare` plots (see :class:`Comparison`), mean over seeds (those of every
    file of a line) with a 95 % band of ±1.96 standard errors (std with ``ddof``, see
    :func:`aggregate`). Refuses runs of different games, an unknown metric, x-axis or label field.
    ``pool=False``: one line per file."""
    require(x in X_AXES, f"unknown x axis {x!r}; choose one of {', '.join(X_AXES)}")
    require(len(runs) > 0, "no runs to compare")
    games = sorted({r.game for r in runs})
    require(len(games) == 1, f"cannot compare runs of different games ({', '.join(games)})")
    metrics = list(metrics)
    require(len(metrics) > 0, "no metric given")
    available = sorted(set.intersection(*(set(r.metrics) for r in runs)))
    for m in metrics:
        require(m in available, f"unknown metric {m!r}; choose from {', '.join(available)}")
    lines = pooled_lines(runs) if pool else {r.path: r.path for r in runs}
    seeds = {head: sorted(s for r in runs if lines[r.path] == head for s in r.seeds) for head in lines.values()}
    heads = [replace(r, seeds=tuple(seeds[r.path]), config={**r.config, "seeds": seeds[r.path]})
             for r in runs if lines[r.path] == r.path]
    labels = _labels(heads, label)
    df = runs_table(runs)
    df["run"] = df["run"].map(lines)
    agg = aggregate(df[df["metric"].isin(metrics)], by=("run", "update", "metric"), ddof=ddof)
    if x == "outer_steps":
        xs = df.groupby(["run", "update"])["outer_steps"].first()
    elif x == "wall_time":
        xs = df[df["metric"] == "wall_time"].groupby(["run", "update"])["value"].mean()
    else:
        xs = None
    agg["x"] = agg["update"] if xs is None else xs.reindex(
        list(zip(agg["run"], agg["update"], strict=True))).to_numpy()
    agg["label"] = agg["run"].map(labels)
    agg["algo"] = agg["run"].map({r.path: r.algo for r in heads})
    order = {r.path: i for i, r in enumerate(heads)}
    agg = agg.dropna(subset=["x"]).sort_values(
        ["metric", "run", "update"], key=lambda s: s.map(order) if s.name == "run" else s)
    return agg[["run", "label", "algo", "update", "x", "metric", "mean", "low", "high", "n"]].reset_index(drop=True)


def comparison_figure(table: pd.DataFrame, lines: Mapping[str, Sequence[tuple[float, str]]],
                      metrics: Sequence[str], x: str = "outer_steps") -> Figure:
    """One panel per metric, one line per run (``mean``) with its band (``low``..``high``), and the
    horizontal ``lines`` of each panel that has some (``{metric: [(value, label), ...]}``, as
    :func:`~pola_nb.generics.reference_lines` gives them); in the style of ``pola plot``."""
    from matplotlib.figure import Figure

    from pola_nb.sampled.report import COLORS, TITLES

    fig = Figure(figsize=(5.2 * len(metrics), 4))
    axes = fig.subplots(1, len(metrics), squeeze=False)[0]
    runs = list(dict.fromkeys(table["run"]))
    first = table.groupby("run").first()
    algos = [first.loc[r, "algo"] if "algo" in first else "" for r in runs]
    own_colours = len(set(algos)) == len(algos) and all(a in COLORS for a in algos)
    for ax, key in zip(axes, metrics, strict=True):
        for i, run in enumerate(runs):
            t = table[(table["run"] == run) & (table["metric"] == key)]
            color = COLORS[algos[i]] if own_colours else f"C{i % 10}"
            ax.plot(t["x"].to_numpy(), t["mean"].to_numpy(), color=color, label=first.loc[run, "label"])
            ax.fill_between(t["x"].to_numpy(), t["low"].to_numpy(), t["high"].to_numpy(), color=color, alpha=0.25)
        for value, text in lines.get(key, []):
            ax.axhline(value, ls="--", lw=1, color="gray" if "defect" in text else "black", label=text)
        ax.set_xlabel(X_AXES[x])
        ax.set_title(TITLES.get(key, key))
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def check_image_path(out: str | os.PathLike, force: bool) -> Path:
    """An output path for a figure in a format matplotlib writes (checked as any output path)."""
    from matplotlib.backend_bases import FigureCanvasBase

    from pola_nb.results import check_output_path

    p = Path(out)
    formats = FigureCanvasBase.get_supported_filetypes()
    require(p.suffix.lower().lstrip(".") in formats,
            f"unknown image format {p.suffix!r}; use one of .{', .'.join(sorted(formats))}")
    return check_output_path(p, force)


def compare(paths_or_globs: str | os.PathLike | Iterable[str | os.PathLike], out: str | os.PathLike, *,
            metrics: Sequence[str] = DEFAULT_METRICS, x: str = "outer_steps", label: str | None = None,
            csv: bool = False, force: bool = False, pool: bool = True) -> Comparison:
    """Draw the runs side by side into ``out`` (PNG, PDF, ...) and, with ``csv``, write the plotted
    table next to it (same name, ``.csv``). ``pool=False`` draws every file as a line of its own
    (see :class:`Comparison`). Everything is checked before any file is written."""
    from pola_nb.generics import reference_lines
    from pola_nb.sampled.games import game_of

    require(x in X_AXES, f"unknown x axis {x!r}; choose one of {', '.join(X_AXES)}")
    fig_path = check_image_path(out, force)
    csv_path = None
    if csv:
        from pola_nb.results import check_output_path

        csv_path = check_output_path(fig_path.with_suffix(".csv"), force)
    runs = read_runs(paths_or_globs)
    table = comparison_table(runs, metrics, x, label, pool)
    # the reference lines depend on the game's settings (grid, steps, cf): drawn only where all runs' agree
    lines = [reference_lines(game_of(r.config)) for r in runs]
    fig = comparison_figure(table, lines[0] if all(ln == lines[0] for ln in lines) else {}, list(metrics), x)
    fig.savefig(fig_path, dpi=120)
    written = [fig_path]
    if csv_path is not None:
        table.to_csv(csv_path, index=False)
        written.append(csv_path)
    return Comparison(fig, table, written)


# ------------------------------------------------------------------------------------------------ tables


def seeds_table(paths_or_globs: str | os.PathLike | Iterable[str | os.PathLike],
                metrics: Sequence[str] = DEFAULT_METRICS, at: Sequence[int] | None = None, *,
                label: str | None = None, pool: bool = True, ddof: int = 1) -> pd.DataFrame:
    """Mean over seeds ± 1.96 standard errors of ``metrics`` at the updates ``at``, one row per (line,
    update) that the line reached: ``label``, ``update``, ``n`` (seeds), then ``METRIC``,
    ``METRIC_low`` and ``METRIC_high`` per metric. Lines are pooled as in :func:`compare`. The std
    has ``ddof`` (1 by default: the sample standard deviation). Without ``at``: each line's last
    update that all its seeds reached. PolaUsageError where no line reached any update of ``at``.
    """
    import pandas as pd

    metrics = list(metrics)
    if at is not None:
        at = [int(u) for u in at]
        require(len(at) > 0 and all(u >= 0 for u in at), "--at needs updates >= 0")
    tidy = comparison_table(read_runs(paths_or_globs), metrics, "update", label, pool, ddof)
    rows = []
    for run in dict.fromkeys(tidy["run"]):
        t = tidy[tidy["run"] == run]
        if at is None:
            seeds = t.groupby("update")["n"].min()
            wanted = [int(seeds[seeds == seeds.max()].index.max())]
        else:
            wanted = at
        for u in wanted:
            here = t[t["update"] == u].set_index("metric")
            if here.empty:
                continue
            row: dict[str, Any] = {"label": here["label"].iloc[0], "update": u, "n": int(here["n"].min())}
            for m in metrics:
                row[m], row[f"{m}_low"], row[f"{m}_high"] = here.loc[m, ["mean", "low", "high"]]
            rows.append(row)
    require(len(rows) > 0, f"no run reached update {', '.join(map(str, at or []))}")
    return pd.DataFrame(rows)


def markdown_table(table: pd.DataFrame, metrics: Sequence[str]) -> str:
    """``table`` of :func:`seeds_table` as a Markdown table: one column per metric, ``mean ± half
    width`` (signed where a mean of the column is negative; ``wall_time`` in whole seconds)."""
    head = ["line", "update", "seeds", *metrics]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    fmt = {m: ".0f" if m == "wall_time" else ("+.3f" if (table[m] < 0).any() else ".3f") for m in metrics}
    for _, r in table.iterrows():
        cells = [str(r["label"]), str(r["update"]), str(r["n"])]
        for m in metrics:
            half = (r[f"{m}_high"] - r[f"{m}_low"]) / 2
            cells.append(f"{r[m]:{fmt[m]}}" + (f" ± {half:{fmt[m].lstrip('+')}}" if r["n"] > 1 else ""))
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


# ------------------------------------------------------------------------------------------------ export


def parquet_available() -> bool:
    """Whether pandas can write parquet here (pyarrow is importable)."""
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return False
    return True


def export(paths_or_globs: str | os.PathLike | Iterable[str | os.PathLike], *, csv: str | os.PathLike | None = None,
           parquet: str | os.PathLike | None = None, force: bool = False) -> tuple[Path, int]:
    """Write the tidy table of the runs to ``csv`` or ``parquet`` (exactly one); returns ``(path,
    rows)``. Parquet needs pyarrow. Everything is checked before the file is written."""
    from pola_nb.results import check_output_path

    require((csv is None) != (parquet is None), "give exactly one of --csv and --parquet")
    if parquet is not None:
        require(parquet_available(), "--parquet needs pyarrow (pip install pyarrow); use --csv instead")
    path = check_output_path(csv if csv is not None else parquet, force)  # type: ignore[arg-type]
    df = load_runs(paths_or_globs)
    if csv is not None:
        df.to_csv(path, index=False)
    else:
        df.to_parquet(path, index=False)
    return path, len(df)


__all__ = ["Comparison", "Run", "aggregate", "compare", "comparison_figure", "comparison_table",
           "export", "load_runs", "markdown_table", "read_runs", "runs_table", "seeds_table", "to_dataset"]
