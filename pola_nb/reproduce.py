"""The paper's experiments as library calls: one figure, or all of them with a report.

- :func:`exact_figure`: Figure 1, Figure 3 or Appendix B.1.6 on the exact IPD (one results file and
  its PNG).
- :func:`sampled_figure`: Figure 4 (IPD with full history) or Figure 5 (Coin Game): LOLA-DiCE,
  POLA-DiCE and POLA-OM, each an ordinary resumable run file ``<stem>_<algo>.h5`` next to the figure
  file, which lists them.
- :func:`reproduce_all`: every figure at one preset into one folder, a league of the Figure 4
  agents, and ``report.md`` with the tables, the figures and the conditions of the run (commit,
  versions, machine, load, wall time).

Every function validates all its settings and output paths before it writes anything. ``pola
reproduce`` calls these and prints; the tests call them directly.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

from pola_nb.errors import require
from pola_nb.generics import plot, summary, table
from pola_nb.report import kind_of
from pola_nb.results import atomic_results, check_figure_paths, check_output_path, default_output, open_results
from pola_nb.sampled.cluster import Executor

EXACT_FIGURES = ("fig1", "fig3", "b16")
SAMPLED_FIGURES = {"fig4": "ipd", "fig5": "coin"}
SAMPLED_ALGOS = ("lola-dice", "pola-dice", "pola-om")
PRESETS = ("paper", "quick")

#: ``progress(method name, epochs done, epochs in all)`` of an exact figure.
EpochProgress = Callable[[str, int, int], None]
#: ``bar(config, title)``: a context manager yielding a training ``progress`` callback (or None).
TrainingBar = Callable[[Any, str], AbstractContextManager]


def exact_figure(fig: str, out: str | Path | None = None, *, preset: str = "paper", repeats: int | None = None,
                 cfs: tuple[float, ...] | None = None, seed: int | None = None, gamma: float | None = None,
                 force: bool = False, progress: EpochProgress | None = None) -> tuple[Path, Path]:
    """Run every method of an exact-IPD figure (one batch each); write the results file and its PNG.

    ``preset`` quick: fewer repeats, contribution factors and epochs. ``out`` defaults to
    ``results/<fig>[_quick].h5``. Returns ``(results file, PNG)``.
    """
    from pola_nb.exact import experiments as ex

    require(fig in EXACT_FIGURES, f"unknown figure {fig!r}; choose one of {', '.join(EXACT_FIGURES)}")
    require(preset in PRESETS, f"--preset must be paper or quick, got {preset!r}")
    quick = preset == "quick"
    settings = ex.figure_settings(fig, quick, repeats=repeats, cfs=cfs, seed=seed, gamma=gamma)
    path, png = check_figure_paths(out if out is not None else default_output(f"{fig}{'_quick' if quick else ''}.h5"),
                                   force)
    methods = settings.methods()
    start = time.perf_counter()
    results = [ex.run_method(m, settings.cfs, settings.repeats, gamma=settings.gamma, seed=settings.seed,
                             on_epoch=None if progress is None else (lambda e, m=m: progress(m.name, e, m.epochs)))
               for m in methods]
    with atomic_results(path, kind=fig, config=settings.config(), force=force) as f:
        for res in results:
            ex.write_method(f, res)
        f.attrs["seconds"] = time.perf_counter() - start
        f.attrs["methods"] = json.dumps([m.name for m in methods])
    with open_results(path) as f:
        plot(kind_of(f), f, png)
    return path, png


def sampled_figure(fig: str, out: str | Path | None = None, *, preset: str = "quick",
                   seeds: tuple[int, ...] | None = None, force: bool = False, resume: bool = False,
                   cluster: str | Executor = "local:1", bar: TrainingBar | None = None,
                   algos: tuple[str, ...] = SAMPLED_ALGOS, overrides: dict | None = None,
                   log: Callable[[str], None] | None = None) -> tuple[Path, Path]:
    """Train the learners of Figure 4 or 5 (or continue them with ``resume``); write the figure file
    and its PNG. Returns ``(figure file, PNG)``.

    ``seeds`` default to 1-3 (quick) or 1-10 (paper). ``cluster``: where the agents' updates run (a
    ``--cluster`` text, or an executor already opened; one cluster for all runs). ``bar(config,
    title)``: progress display per run. ``overrides``: settings applied on top of the preset (as in
    :func:`~pola_nb.sampled.config.preset_config`). ``log`` receives the Dask dashboard's address.
    Every setting, the cluster, the figure file, its
    PNG and every run file are checked before anything is written.
    """
    from pola_nb.runfile import stored_config
    from pola_nb.sampled.cluster import open_cluster, parse_cluster
    from pola_nb.sampled.config import sampled_figure_configs
    from pola_nb.sampled.training import prepare_run, train

    require(fig in SAMPLED_FIGURES, f"unknown figure {fig!r}; choose fig4 or fig5")
    require(preset in PRESETS, f"--preset must be paper or quick, got {preset!r}")
    seeds = seeds if seeds is not None else tuple(range(1, (10 if preset == "paper" else 3) + 1))
    game = SAMPLED_FIGURES[fig]
    configs = sampled_figure_configs(game, preset, seeds, **(overrides or {}))
    require(all(a in configs for a in algos), f"unknown algorithms in {algos!r}")
    # --resume rewrites the figure file and its PNG from the run files.
    out, png = check_figure_paths(out if out is not None else default_output(f"{fig}_{preset}.h5"), force or resume)
    runs = {a: run_file(out, a) for a in algos}
    text = cluster if isinstance(cluster, str) else None
    plan = {}  # algo -> (configuration, whether the run file is continued)
    for algo, path in runs.items():
        if resume and path.exists():
            stored = stored_config(path)
            require((stored.game, stored.hp.algo) == (game, algo),
                    f"{path} is a {stored.game} {stored.hp.algo} run, not {game} {algo}")
            prepare_run(path, resume=True, cluster=text)
            plan[algo] = (stored, True)
        else:
            prepare_run(path, configs[algo], force=force, cluster=text)
            plan[algo] = (configs[algo], False)
    with open_cluster(parse_cluster(cluster)) if text is not None else nullcontext(cluster) as executor:
        if executor.dashboard_link and log is not None:
            log(f"Dask dashboard: {executor.dashboard_link}")
        for algo, path in runs.items():
            cfg, continued = plan[algo]
            with (bar or _no_bar)(cfg, f"{algo:10s}") as progress:
                train(path, None if continued else cfg, resume=continued, force=force, progress=progress,
                      cluster=executor)
    names = {a: p.name for a, p in runs.items()}
    config = {"figure": fig, "scale": preset, "seeds": list(seeds), "runs": names}
    with atomic_results(out, kind=fig, config=config, force=True) as f:
        f.attrs["runs"] = json.dumps(names)
    with open_results(out) as f:
        plot(kind_of(f), f, png)
    return out, png


def run_file(figure_file: Path, algo: str) -> Path:
    """The run file of learner ``algo`` next to a Figure 4/5 file: ``<stem>_<algo>.h5``."""
    return figure_file.with_name(f"{figure_file.stem}_{algo}.h5")


def _no_bar(cfg: Any, title: str) -> AbstractContextManager:
    return nullcontext(None)


def figure_table(path: str | Path) -> str:
    """The summary table of a results file (any kind), as printed by ``pola summary``."""
    with open_results(path) as f:
        kind = kind_of(f)
        return table(kind, summary(kind, f))


# ------------------------------------------------------------------------------------------------ everything


def reproduce_all(out_dir: str | Path, *, preset: str = "quick", seeds: tuple[int, ...] | None = None,
                  cluster: str = "local:1", force: bool = False, resume: bool = False,
                  bar: TrainingBar | None = None, epoch_progress: EpochProgress | None = None,
                  league_batch: int = 4000, log: Callable[[str], None] = print, overrides: dict | None = None,
                  exact_overrides: dict | None = None) -> Path:
    """Every figure of the paper at ``preset`` into ``out_dir``, a league of the Figure 4 agents
    against each other and ALLD/ALLC/TFT, and ``out_dir/report.md``; returns the report's path.

    With ``resume`` the finished parts are kept (exact figures whose file exists are not rerun, the
    sampled runs continue or are complete). Without it, existing files need ``force``.
    ``overrides`` (settings of the sampled runs, as in :func:`sampled_figure`) and ``exact_overrides``
    (``repeats``, ``cfs`` of the exact figures) make a smaller reproduction, e.g. for tests.
    """
    from pola_nb.league import run_league
    from pola_nb.sampled.cluster import open_cluster, parse_cluster
    from pola_nb.sampled.config import sampled_figure_configs

    require(preset in PRESETS, f"--preset must be paper or quick, got {preset!r}")
    out_dir = Path(out_dir)
    require(out_dir.is_dir() or not out_dir.exists(), f"not a folder: {out_dir}")
    suffix = "_quick" if preset == "quick" else ""
    exact_paths = {fig: out_dir / f"{fig}{suffix}.h5" for fig in EXACT_FIGURES}
    sampled_paths = {fig: out_dir / f"{fig}_{preset}.h5" for fig in SAMPLED_FIGURES}
    league_path = out_dir / f"league_fig4_{preset}.h5"
    report = out_dir / "report.md"
    # Everything is refused before anything runs, rather than after an hour.
    for game in SAMPLED_FIGURES.values():
        sampled_figure_configs(game, preset, seeds if seeds is not None else (1,), **(overrides or {}))
    parse_cluster(cluster)
    require(out_dir.parent.is_dir(), f"output folder does not exist: {out_dir.parent}")
    if out_dir.exists() and not resume:
        for p in [*exact_paths.values(), *sampled_paths.values(), league_path]:
            check_figure_paths(p, force)
        for p in sampled_paths.values():
            for a in SAMPLED_ALGOS:
                check_output_path(run_file(p, a), force)
    if out_dir.exists():
        check_output_path(report, True)
    conditions = run_conditions()
    out_dir.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    for fig, path in exact_paths.items():
        if resume and path.exists():
            continue
        t0 = time.perf_counter()
        log(f"{fig}: exact IPD, preset {preset}")
        exact_figure(fig, path, preset=preset, force=True, progress=epoch_progress, **(exact_overrides or {}))
        timings[fig] = time.perf_counter() - t0
    with open_cluster(parse_cluster(cluster)) as executor:
        for fig, path in sampled_paths.items():
            t0 = time.perf_counter()
            log(f"{fig}: {SAMPLED_FIGURES[fig]}, preset {preset}")
            sampled_figure(fig, path, preset=preset, seeds=seeds, force=force and not resume, resume=resume,
                           cluster=executor, bar=bar, log=log, overrides=overrides)
            timings[fig] = time.perf_counter() - t0
    t0 = time.perf_counter()
    log("league of the Figure 4 agents")
    agents = [f"{run_file(sampled_paths['fig4'], a)}@*" for a in SAMPLED_ALGOS]
    run_league(agents, league_path, strategies=["alld", "allc", "tft"], batch=league_batch, seed=0, force=True)
    with open_results(league_path) as f:
        plot(kind_of(f), f, league_path.with_suffix(".png"))
    timings["league"] = time.perf_counter() - t0
    conditions["wall_time_s"] = {k: round(v, 1) for k, v in timings.items()}
    report.write_text(report_markdown(preset, exact_paths, sampled_paths, league_path, conditions))
    return report


def run_conditions() -> dict[str, Any]:
    """Commit, versions, machine and load at the start of a reproduction (for its report)."""
    import os
    import platform
    import subprocess
    import sys
    from datetime import datetime, timezone

    import numba
    import numpy

    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                check=True, cwd=Path(__file__).parent).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                               text=True, cwd=Path(__file__).parent).stdout.strip()
        commit += " (with local changes)" if dirty else ""
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown (not a git checkout)"
    return {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "commit": commit,
            "python": sys.version.split()[0], "numpy": numpy.__version__, "numba": numba.__version__,
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.processor() or platform.system()}",
            "load_average": " ".join(f"{x:.2f}" for x in os.getloadavg())}


def report_markdown(preset: str, exact_paths: dict[str, Path], sampled_paths: dict[str, Path], league_path: Path,
                    conditions: dict[str, Any]) -> str:
    """The reproduction report: conditions, then each figure's table and PNG, then the league."""
    titles = {"fig1": "Figure 1: one LOLA and one POLA update under two parameterisations",
              "fig3": "Figure 3: fraction of runs that find TFT (exact IPD)",
              "b16": "Appendix B.1.6: opponent models in three parameterisations",
              "fig4": "Figure 4: IPD with full history, LOLA-DiCE vs POLA-DiCE vs POLA-OM",
              "fig5": "Figure 5: Coin Game, LOLA-DiCE vs POLA-DiCE vs POLA-OM"}
    wall = conditions.get("wall_time_s", {})
    lines = [f"# Reproduction at the {preset} preset", "",
             f"Generated by `pola reproduce all --preset {preset}`; every number below comes from the files in this "
             "folder.", "", "| condition | value |", "|---|---|"]
    lines += [f"| {k.replace('_', ' ')} | {v} |" for k, v in conditions.items() if k != "wall_time_s"]
    lines += [f"| wall time | {', '.join(f'{k} {v:.0f} s' for k, v in wall.items())} |", ""]
    for fig, path in {**exact_paths, **sampled_paths}.items():
        lines += [f"## {titles[fig]}", "", f"![{fig}]({path.with_suffix('.png').name})", "", "```",
                  figure_table(path), "```", ""]
        if fig in sampled_paths:
            lines += [training_times(path), ""]
    lines += ["## League of the Figure 4 agents", "",
              f"Every agent (all seeds) against every other and ALLD, ALLC, TFT; `{league_path.name}`.", "",
              f"![league]({league_path.with_suffix('.png').name})", "", "```", figure_table(league_path), "```", ""]
    return "\n".join(lines)


def training_times(figure_file: Path) -> str:
    """One line: each run's training time, the stored ``wall_time`` (seconds of updates and
    evaluations, summed over seeds), so that a resumed reproduction still reports what it cost."""
    import h5py
    import numpy as np

    with open_results(figure_file) as f:
        runs = json.loads(f.attrs["runs"])
    parts = []
    for algo, name in runs.items():
        with h5py.File(figure_file.with_name(name), "r") as r:
            wall = r["metrics/wall_time"][()]
        last = np.nanmax(wall, axis=0) if wall.size else np.zeros(1)
        parts.append(f"{algo} {np.sum(last) / 60:.1f} min")
    return "Training time (summed over seeds, one worker each): " + ", ".join(parts) + "."
