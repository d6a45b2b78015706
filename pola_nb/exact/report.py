"""Summaries, tables and figures of the exact-IPD experiments (fig1, fig3, b16 results files).

The kinds are :class:`Fig1Results`, and :class:`Fig3Results` and :class:`B16Results` (both
:class:`TftResults`: fractions of runs finding TFT per method and contribution factor); their
``summary``, ``table`` and ``plot`` methods (:mod:`pola_nb.generics`) are here.
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np

from pola_nb.exact.game import STATES
from pola_nb.generics import dispatch, summary
from pola_nb.results import ResultsKind


class Fig1Results(ResultsKind):
    """``fig1``: the probabilities of both agents after one update, per method, ``probs`` (epochs+1, 1, 1, 2, 5)."""

    name = "fig1"


class TftResults(ResultsKind):
    """Files of repeated exact-IPD runs per method and contribution factor, scored by finding TFT."""


class Fig3Results(TftResults):
    """``fig3``: LOLA and POLA under three parameterisations (Figure 3)."""

    name = "fig3"


class B16Results(TftResults):
    """``b16``: LOLA and POLA with opponent models (Appendix B.1.6)."""

    name = "b16"


def _methods(f: h5py.File) -> list[tuple[str, h5py.Group]]:
    """The file's method groups in the order they were run."""
    order = json.loads(f.attrs["methods"]) if "methods" in f.attrs else list(f)
    return [(name, f[name]) for name in order]


def _cf_key(cf: float) -> str:
    return f"{cf:g}"


@dispatch
def summary(kind: Fig1Results, f: h5py.File) -> dict:
    """``{"fig1": {method: {"agent1": [5 probabilities], "agent2": [...]}}}`` after the update."""
    out = {}
    for name, g in _methods(f):
        p = g["probs"][-1, 0, 0]  # (2, 5) after the update
        out[name] = {"agent1": p[0].tolist(), "agent2": p[1].tolist()}
    return {"fig1": out}


@dispatch
def summary(kind: TftResults, f: h5py.File) -> dict:
    """``{kind: {method: {cf: fraction of runs finding TFT}}, "seconds": wall time}``."""
    fractions = {
        name: {_cf_key(cf): float(frac) for cf, frac in zip(g["cf"][:], g["found_tft"][:].mean(axis=1), strict=True)}
        for name, g in _methods(f)
    }
    return {kind.name: fractions, "seconds": float(f.attrs.get("seconds", np.nan))}


@dispatch
def table(kind: Fig1Results, s: dict) -> str:
    """One line per method and agent: the 5 probabilities in state order."""
    lines = [f"{'run':10s} {'agent':6s} " + " ".join(f"{st:>6s}" for st in STATES)]
    for name, agents in s["fig1"].items():
        for agent, q in agents.items():
            lines.append(f"{name:10s} {agent[-1]:6s} " + " ".join(f"{x:6.3f}" for x in q))
    return "\n".join(lines)


@dispatch
def table(kind: TftResults, s: dict) -> str:
    """One line per method: the fraction of runs finding TFT at each contribution factor."""
    rows = s[kind.name]
    cfs = list(next(iter(rows.values())))
    lines = ["fraction of runs finding TFT", f"{'method':18s} " + " ".join(f"cf {c:>5s}" for c in cfs)]
    for name, fr in rows.items():
        lines.append(f"{name:18s} " + " ".join(f"{fr[c]:8.2f}" for c in cfs))
    lines.append(f"wall time {s['seconds']:.1f} s")
    return "\n".join(lines)


@dispatch
def plot(kind: Fig1Results, f: h5py.File, png: str | Path) -> None:
    """Both agents' probabilities before and after the update, one panel per agent."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    styles = {"lola-nn1": ("tab:red", "o", "-"), "lola-nn2": ("tab:red", "s", "--"),
              "pola-nn1": ("tab:blue", "o", "-"), "pola-nn2": ("tab:blue", "s", "--")}
    x = np.arange(5)
    for k, ax in enumerate(axes):
        first = next(iter(f.values()))
        ax.plot(x, first["probs"][0, 0, 0, k], color="grey", marker="x", ls=":", label="before (both nets)")
        for name, g in _methods(f):
            color, marker, ls = styles.get(name, ("k", ".", "-"))
            ax.plot(x, g["probs"][-1, 0, 0, k], color=color, marker=marker, ls=ls, label=name.upper())
        ax.set_xticks(x, STATES)
        ax.set_title(f"agent {k + 1} after one update")
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("P(cooperate | state)")
    axes[1].legend(fontsize=8)
    fig.suptitle("Figure 1: one update from the same policy under two parameterisations (cf 1.33)")
    fig.tight_layout()
    fig.savefig(png, dpi=150)
    plt.close(fig)


def official_targets(kind: str) -> dict:
    """Fractions from running the official code (``data/official_targets.json``), or {} if absent."""
    path = Path(__file__).resolve().parents[2] / "data" / "official_targets.json"
    if not path.is_file():
        return {}
    return json.loads(path.read_text()).get(kind, {})


def _bars(ax, groups: list[str], series: dict[str, list[float]], colors: dict[str, str],
          targets: dict[str, list[float]] | None = None) -> None:
    """Grouped bars; ``targets`` (same keys as ``series``) are drawn as black ticks on the bars."""
    width = 0.8 / len(series)
    x = np.arange(len(groups))
    for i, (label, vals) in enumerate(series.items()):
        xs = x + (i - (len(series) - 1) / 2) * width
        ax.bar(xs, vals, width, label=label, color=colors.get(label))
        if targets and label in targets:
            t = np.array(targets[label], dtype=float)
            ax.scatter(xs, t, marker="_", s=300, color="black", zorder=3,
                       label="official code" if i == 0 else None)
    ax.set_xticks(x, groups)
    ax.set_ylim(0, 1.05)
    ax.grid(axis="y", alpha=0.3)


@dispatch
def plot(kind: Fig3Results, f: h5py.File, png: str | Path) -> None:
    """Grouped bars of the fractions per parameterisation, with the official code's fractions."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = summary(kind, f)[kind.name]
    official = official_targets(kind.name)
    params = [p for p in ("tabular", "nn", "precond") if f"lola-{p}" in s or f"pola-{p}" in s]
    titles = {"tabular": "tabular", "nn": "neural net", "precond": "pre-conditioned tabular"}
    fig, axes = plt.subplots(1, len(params), figsize=(4.2 * len(params), 3.6), sharey=True, squeeze=False)
    for ax, p in zip(axes[0], params, strict=True):
        cfs = list(next(v for k, v in s.items() if k.endswith(p)))
        series = {algo.upper(): [s[f"{algo}-{p}"][c] for c in cfs] for algo in ("lola", "pola")
                  if f"{algo}-{p}" in s}
        targets = {algo.upper(): [official.get(f"{algo}-{p}", {}).get(c, np.nan) for c in cfs]
                   for algo in ("lola", "pola")}
        _bars(ax, [f"cf={c}" for c in cfs], series, {"LOLA": "tab:red", "POLA": "tab:blue"}, targets)
        ax.set_title(titles[p])
    axes[0][0].set_ylabel("fraction of runs finding TFT")
    axes[0][-1].legend()
    repeats = next(iter(f.values())).attrs["repeats"]
    fig.suptitle(f"Figure 3: IPD with exact values, {repeats} runs per bar")
    fig.tight_layout()
    fig.savefig(png, dpi=150)
    plt.close(fig)


@dispatch
def plot(kind: B16Results, f: h5py.File, png: str | Path) -> None:
    """Grouped bars of the fractions per opponent-model parameterisation, with the official code's."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = summary(kind, f)[kind.name]
    oms = [p for p in ("tabular", "nn", "precond") if f"lola-om-{p}" in s or f"pola-om-{p}" in s]
    cf = next(iter(next(iter(s.values()))))
    series = {algo.upper(): [s.get(f"{algo}-om-{p}", {}).get(cf, np.nan) for p in oms]
              for algo in ("lola", "pola")}
    official = official_targets(kind.name)
    targets = {algo.upper(): [official.get(f"{algo}-om-{p}", {}).get(cf, np.nan) for p in oms]
               for algo in ("lola", "pola")}
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    _bars(ax, [{"tabular": "tabular OM", "nn": "NN OM", "precond": "pre-cond. OM"}[p] for p in oms], series,
          {"LOLA": "tab:red", "POLA": "tab:blue"}, targets)
    ax.set_ylabel("fraction of runs finding TFT")
    ax.legend()
    repeats = next(iter(f.values())).attrs["repeats"]
    ax.set_title(f"Appendix B.1.6: opponent models, cf {cf}, {repeats} runs per bar")
    fig.tight_layout()
    fig.savefig(png, dpi=150)
    plt.close(fig)

