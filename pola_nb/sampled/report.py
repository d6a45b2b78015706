"""Summaries and paper-style figures of sampled-game runs (``pola summary`` / ``pola plot``).

Two kinds of files are understood (their ``summary``, ``table``, ``plot`` and ``require_complete``
methods of :mod:`pola_nb.generics` are here):

- :class:`TrainResults` (``train``): one run file of :mod:`pola_nb.sampled.training` (one
  algorithm, several seeds);
- :class:`Fig4Results` / :class:`Fig5Results` (``fig4`` / ``fig5``): written by ``pola reproduce
  fig4|fig5``; its ``runs`` attribute (JSON) maps each algorithm to its run file (relative to the
  figure file's folder).

Plotted and summarised quantities (as in the official `result_plots.py`): the two agents' mean self-play score ("vs each
other"), their mean score against ALLD, and in the Coin Game the proportion of own-colour coins;
curves are the mean over seeds with a band of ±1.96 standard errors (std with ddof 0), the x-axis is
the total number of outer steps. Summaries give the values of the last row every seed reached.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import h5py
import numpy as np

from pola_nb.generics import dispatch, reference_lines, run_summary, summary, table
from pola_nb.results import ResultsKind, open_h5, open_results
from pola_nb.runfile import KIND as TRAIN_KIND
from pola_nb.runfile import require_rows
from pola_nb.sampled.games import game_of


class TrainResults(ResultsKind):
    """``train``: one training run file (metrics ``(rows, seeds)`` of one algorithm)."""

    name = TRAIN_KIND


class SampledFigureResults(ResultsKind):
    """A paper figure of the sampled games: the run file of each algorithm, named in ``runs``."""

    title: ClassVar[str] = ""  # suptitle of the figure


class Fig4Results(SampledFigureResults):
    """``fig4``: the IPD with full history."""

    name = "fig4"
    title = "IPD with full history (Figure 4)"


class Fig5Results(SampledFigureResults):
    """``fig5``: the Coin Game."""

    name = "fig5"
    title = "Coin Game (Figure 5)"


LABELS = {"lola-dice": "LOLA-DiCE", "pola-dice": "POLA-DiCE", "pola-om": "POLA-OM", "loqa": "LOQA",
          "aa": "AA", "paa": "Proximal AA"}
COLORS = {"lola-dice": "tab:blue", "pola-dice": "tab:red", "pola-om": "tab:green", "loqa": "tab:purple",
          "aa": "tab:orange", "paa": "tab:brown"}
TITLES = {"score_each_other": "Average score vs each other", "score_vs_alld": "Average score vs always defect",
          "own_coin": "Proportion of same-colour coins picked up"}


#: Derived quantities: each is the mean of the two agents' stored metrics of the same name.
AGENT_MEANS = {"score_each_other": ("score1", "score2"), "score_vs_alld": ("vs_alld1", "vs_alld2"),
               "score_vs_allc": ("vs_allc1", "vs_allc2"), "score_vs_tft": ("vs_tft1", "vs_tft2")}


def derived(m: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """The plot quantities ``(rows, seeds)`` from the stored metrics ``m`` (an HDF5 ``metrics``
    group or a dict of arrays): the :data:`AGENT_MEANS` and, in the Coin Game, ``own_coin``.
    NaN (a row a seed has not reached) stays NaN."""
    out = {k: 0.5 * (np.asarray(m[a][()]) + np.asarray(m[b][()])) for k, (a, b) in AGENT_MEANS.items()}
    if "own_coin" in m:
        out["own_coin"] = np.asarray(m["own_coin"][()])
    return out


def curves(f: h5py.File) -> dict[str, np.ndarray]:
    """Per-row, per-seed plot quantities ``(rows, seeds)`` of a ``train`` file, plus ``outer_steps``."""
    m = f["metrics"]
    return {"outer_steps": m["outer_steps"][()], **derived(m)}


def mean_band(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean over seeds (axis 1) and 1.96 standard errors (std ddof 0 / sqrt(n))."""
    n = np.sum(~np.isnan(x), axis=1)
    mean = np.nanmean(x, axis=1)
    se = np.nanstd(x, axis=1) / np.sqrt(np.maximum(n, 1))
    return mean, 1.96 * se


@dispatch
def summary(kind: TrainResults, f: h5py.File) -> dict:
    """Game, algorithm, status, seeds, the last row every seed reached and its metrics (mean over
    seeds, per-step rewards) with 1.96 standard errors (``<metric>_ci95``), and the game's own
    (:func:`~pola_nb.generics.run_summary`)."""
    cfg = json.loads(f.attrs["config"])
    c = curves(f)
    complete_rows = ~np.isnan(c["score_each_other"]).any(axis=1)
    last = int(np.nonzero(complete_rows)[0][-1]) if complete_rows.any() else 0
    update = int(f["metrics/update"][last]) if "update" in f["metrics"] else last  # older files: row = update
    out = {"game": cfg["game"], "algo": cfg["hp"]["algo"], "status": str(f.attrs["status"]),
           "seeds": cfg["seeds"], "updates": update, "outer_steps": int(c["outer_steps"][last])}
    for k in ("score_each_other", "score_vs_alld", "score_vs_allc", "score_vs_tft", "own_coin"):
        if k in c:
            out[k] = float(np.mean(c[k][last]))
            out[k + "_ci95"] = float(mean_band(c[k][last:last + 1])[1][0])
    if "wall_time" in f["metrics"]:
        out["wall_time_s_per_seed"] = float(np.nanmean(f["metrics/wall_time"][last]))
    out.update(run_summary(game_of(cfg), f))
    return out


#: LOQA's "strong cooperation" thresholds (official `scalability_plots.ipynb`) on the self-play and
#: the against-always-defect per-step rewards, both multiplied by 2 floor(N / 2) on an N x N grid.
STRONG_COOPERATION = (0.2, -0.2)


def strong_cooperation(f: h5py.File, grid: int, thresholds: tuple[float, float] = STRONG_COOPERATION) -> dict:
    """When each seed of a Coin Game run first passed LOQA's strong-cooperation test: the first
    evaluation where ``2 floor(N/2)`` times the self-play per-step reward exceeds ``thresholds[0]``
    and the same multiple of the per-step reward against always defect exceeds ``thresholds[1]``.

    Returns ``{"update": [...], "wall_time_s": [...]}`` per seed (None where not reached) and
    ``reached`` (how many seeds). Wall times are the run's ``wall_time`` (seconds of training and
    evaluation of that seed).
    """
    c, m = curves(f), f["metrics"]
    scale = 2 * (grid // 2)
    ok = (scale * c["score_each_other"] > thresholds[0]) & (scale * c["score_vs_alld"] > thresholds[1])
    updates = m["update"][()] if "update" in m else np.arange(ok.shape[0])
    out: dict[str, list] = {"update": [], "wall_time_s": []}
    for k in range(ok.shape[1]):
        rows = np.nonzero(ok[:, k])[0]
        out["update"].append(int(updates[rows[0]]) if rows.size else None)
        out["wall_time_s"].append(float(m["wall_time"][rows[0], k]) if rows.size else None)
    return {**out, "reached": sum(u is not None for u in out["update"])}


@dispatch
def table(kind: TrainResults, s: dict) -> str:
    """A heading line, then one line per metric: mean ± 1.96 standard errors."""
    lines = [f"{s['game']} {s['algo']} ({s['status']}): {s['updates']} updates = {s['outer_steps']} outer steps, "
             f"seeds {s['seeds']}"]
    for k in ("score_each_other", "score_vs_alld", "score_vs_allc", "score_vs_tft", "own_coin"):
        if k in s:
            lines.append(f"  {k:18s} {s[k]:+.4f}  ± {s[k + '_ci95']:.4f}")
    if "strong_cooperation" in s:
        sc = s["strong_cooperation"]
        when = ", ".join("-" if u is None else f"update {u} ({t:.0f} s)"
                         for u, t in zip(sc["update"], sc["wall_time_s"], strict=True))
        lines.append(f"  strong cooperation (LOQA's test) per seed: {when}")
    return "\n".join(lines)


def figure_runs(f: h5py.File) -> dict[str, Path]:
    """The run file of each algorithm of a ``fig4``/``fig5`` file (paths next to the figure file)."""
    base = Path(f.filename).parent
    return {algo: base / rel for algo, rel in json.loads(f.attrs["runs"]).items()}


@dispatch
def summary(kind: SampledFigureResults, f: h5py.File) -> dict:
    """The summary of each algorithm's run file (``runs``) and each metric per algorithm."""
    out = {"kind": kind.name, "runs": {}}
    for algo, path in figure_runs(f).items():
        if path.is_file():
            with open_h5(path, "r") as g:
                out["runs"][algo] = summary(TrainResults(), g)
    keys = ("score_each_other", "score_vs_alld", "own_coin")
    for k in keys:
        vals = [r[k] for r in out["runs"].values() if k in r]
        if vals:
            out[k] = {a: r[k] for a, r in out["runs"].items() if k in r}
    return out


@dispatch
def table(kind: SampledFigureResults, s: dict) -> str:
    """The table of each algorithm's run file."""
    return "\n".join(table(TrainResults(), r) for r in s["runs"].values())


def plot_runs(files: dict[str, h5py.File], png: str | Path, title: str = "") -> None:
    """Paper-style panels for one or several run files (keyed by algorithm): one panel per quantity
    that the game has reference lines for (:func:`~pola_nb.generics.reference_lines`)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from pola_nb.sampled.hyper import POLA_ALGOS

    lines = reference_lines(game_of(json.loads(next(iter(files.values())).attrs["config"])))
    panels = list(lines)
    # the x axis counts optimiser steps: outer steps for the POLA family (as the paper's figures), updates otherwise
    pola = any(json.loads(f.attrs["config"])["hp"]["algo"] in POLA_ALGOS for f in files.values())
    xlabel = "Total number of outer steps" if pola else "Updates"
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4))
    for ax, key in zip(np.atleast_1d(axes), panels, strict=True):
        for algo, f in files.items():
            c = curves(f)
            if key not in c:
                continue
            mean, band = mean_band(c[key])
            x = c["outer_steps"]
            ax.plot(x, mean, color=COLORS.get(algo), label=LABELS.get(algo, algo))
            ax.fill_between(x, mean - band, mean + band, color=COLORS.get(algo), alpha=0.25)
        for value, label in lines[key]:
            ax.axhline(value, ls="--", lw=1, color="gray" if "defect" in label else "black", label=label)
        ax.set_xlabel(xlabel)
        ax.set_title(TITLES[key])
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(png, dpi=120)
    plt.close(fig)


@dispatch
def plot(kind: TrainResults, f: h5py.File, png: str | Path) -> None:
    """The run's curves (mean over seeds, ±1.96 standard errors) with the game's reference lines."""
    algo = json.loads(f.attrs["config"])["hp"]["algo"]
    plot_runs({algo: f}, png)


@dispatch
def plot(kind: SampledFigureResults, f: h5py.File, png: str | Path) -> None:
    """The curves of every algorithm's run file, one colour per algorithm."""
    opened = {a: open_h5(p, "r") for a, p in figure_runs(f).items() if p.is_file()}
    try:
        plot_runs(opened, png, kind.title)
    finally:
        for g in opened.values():
            g.close()



@dispatch
def require_complete(kind: TrainResults, f: h5py.File) -> None:
    """At least one evaluated row."""
    require_rows(f)


@dispatch
def require_complete(kind: SampledFigureResults, f: h5py.File) -> None:
    """At least one evaluated row in each run file that exists."""
    for path in figure_runs(f).values():
        if path.is_file():
            with open_results(path) as g:
                require_rows(g)
