"""``pola reproduce``: the paper's figures (:mod:`pola_nb.reproduce` does the work)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer

from pola_nb.cli.app import app
from pola_nb.cli.options import setting_options, with_options
from pola_nb.errors import PolaUsageError, require

reproduce_app = typer.Typer(help="Reproduce a figure of the paper (writes HDF5 + PNG, prints a table).",
                            no_args_is_help=True)
app.add_typer(reproduce_app, name="reproduce")


def parse_cfs(text: str | None) -> tuple[float, ...] | None:
    """Parse a comma-separated list of contribution factors (``None``: the figure's default).

    Only the syntax is checked here; the values are checked with the other settings
    (:class:`~pola_nb.exact.experiments.FigureSettings`).
    """
    if text is None:
        return None
    try:
        cfs = tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise PolaUsageError(f"--cf must be a comma-separated list of numbers, got {text!r}") from None
    require(len(cfs) > 0, "--cf needs at least one value")
    return cfs


@contextmanager
def epoch_bars() -> Iterator:
    """One bar per method of an exact figure; yields the ``progress`` callback. The display starts at
    the first epoch, so a refused command prints nothing but its error."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    display = Progress(TextColumn("{task.description:18s}"), BarColumn(),
                       TextColumn("epoch {task.completed}/{task.total}"), TimeElapsedColumn(), transient=False)
    tasks: dict[str, int] = {}

    def progress(name: str, epoch: int, total: int) -> None:
        if not tasks:
            display.start()
        if name not in tasks:
            tasks[name] = display.add_task(name, total=total)
        display.update(tasks[name], completed=epoch)

    try:
        yield progress
    finally:
        if tasks:
            display.stop()


def _exact(fig: str, out: Path | None, cf: str | None, preset: str, force: bool, settings: dict) -> None:
    from pola_nb.reproduce import exact_figure, figure_table

    cfs = parse_cfs(cf)
    with epoch_bars() as progress:
        path, png = exact_figure(fig, out, preset=preset, cfs=cfs, force=force, progress=progress, **settings)
    print(figure_table(path))
    print(f"wrote {path} and {png}")


_OUT = typer.Option(None, "--out", "-o", help="Results file (.h5); the PNG goes next to it.")
_CF = typer.Option(None, "--cf", help="Comma-separated contribution factors, e.g. 1.1,1.33.")
_EXACT_PRESET = typer.Option("paper", "--preset", help="paper, or quick (fewer repeats, cfs and epochs).")
_FORCE = typer.Option(False, "--force", help="Overwrite existing output files.")


def _exact_command(fig: str, doc: str) -> None:
    """Register ``pola reproduce FIG``: its --repeats, --seed and --gamma come from
    :class:`~pola_nb.exact.experiments.FigureSettings`."""
    from pola_nb.exact.experiments import FigureSettings

    def command(out: Path = _OUT, cf: str = _CF, preset: str = _EXACT_PRESET, force: bool = _FORCE,
                **settings: Any) -> None:
        _exact(fig, out, cf, preset, force, settings)

    command.__doc__ = doc
    with_options(command, setting_options([FigureSettings], skip=("figure", "quick")))
    reproduce_app.command(fig)(command)


_exact_command("fig1", "Figure 1: one LOLA and one POLA update under the two equivalent nets NN1 and NN2.")
_exact_command("fig3", "Figure 3: fraction of runs finding TFT, LOLA vs outer POLA x tabular/NN/pre-conditioned x cf.")
_exact_command("b16", "Appendix B.1.6: LOLA vs POLA with exact opponent models in three parameterisations.")


# ------------------------------------------------------------------------------------------------ fig4, fig5

_SAMPLED_PRESET = typer.Option("quick", "--preset", help="quick (minutes per seed) or paper (official README "
                               "commands; days per seed).")
_SEEDS = typer.Option(None, "--seeds", help="Seeds, e.g. 1,2,3 or 1-10 (default: 1-3 quick, 1-10 paper).")
_FIG_OUT = typer.Option(None, "--out", "-o", help="Figure file (.h5); run files and PNG go next to it.")
_RESUME = typer.Option(False, "--resume", help="Continue interrupted run files.")
_CLUSTER = typer.Option(None, "--cluster", help="Where the agents' updates run: local, local:N, tcp://HOST:PORT "
                        "or a scheduler file (as for pola train). Default local:1.")
_WORKERS = typer.Option(None, "--workers", help="N: the same as --cluster local:N.")
_QUIET = typer.Option(False, "--quiet", help="No progress bars.")


def _bar(quiet: bool):
    from pola_nb.cli.train_cmd import progress_display

    return lambda cfg, title: progress_display(cfg, quiet, title=title)


def _log(quiet: bool):
    import sys

    return (lambda s: None) if quiet else (lambda s: print(s, file=sys.stderr, flush=True))


def _sampled(fig: str, preset: str, seeds: str | None, out: Path | None, force: bool, resume: bool,
             cluster: str | None, workers: int | None, quiet: bool) -> None:
    from pola_nb.cli.app import tune_for_training
    from pola_nb.cli.train_cmd import parse_seeds
    from pola_nb.reproduce import figure_table, sampled_figure
    from pola_nb.sampled.cluster import cluster_option

    tune_for_training()
    where = cluster_option(cluster, workers)
    parsed = parse_seeds(seeds) if seeds is not None else None
    path, png = sampled_figure(fig, out, preset=preset, seeds=parsed, force=force, resume=resume,
                               cluster=where, bar=_bar(quiet), log=_log(quiet))
    print(figure_table(path))
    print(f"wrote {path} and {png}")


@reproduce_app.command("fig4")
def fig4(preset: str = _SAMPLED_PRESET, seeds: str = _SEEDS, out: Path = _FIG_OUT, force: bool = _FORCE,
         resume: bool = _RESUME, cluster: str = _CLUSTER, workers: int = _WORKERS, quiet: bool = _QUIET) -> None:
    """Figure 4: IPD with full history (cf 1.33), LOLA-DiCE vs POLA-DiCE vs POLA-OM."""
    _sampled("fig4", preset, seeds, out, force, resume, cluster, workers, quiet)


@reproduce_app.command("fig5")
def fig5(preset: str = _SAMPLED_PRESET, seeds: str = _SEEDS, out: Path = _FIG_OUT, force: bool = _FORCE,
         resume: bool = _RESUME, cluster: str = _CLUSTER, workers: int = _WORKERS, quiet: bool = _QUIET) -> None:
    """Figure 5: Coin Game, LOLA-DiCE vs POLA-DiCE vs POLA-OM."""
    _sampled("fig5", preset, seeds, out, force, resume, cluster, workers, quiet)


@reproduce_app.command("all")
def all_figures(
    preset: str = typer.Option("quick", "--preset", help="quick (about 2 hours on 2 cores) or paper (weeks)."),
    out: Path = typer.Option(None, "--out", "-o", help="Folder for every file and report.md "
                             "(default: results/reproduce_<preset>)."),
    seeds: str = _SEEDS, force: bool = _FORCE,
    resume: bool = typer.Option(False, "--resume", help="Keep what is finished, continue what is not."),
    cluster: str = _CLUSTER, workers: int = _WORKERS, quiet: bool = _QUIET,
) -> None:
    """Every figure (1, 3, B.1.6, 4, 5), a league of the Figure 4 agents, and report.md with the tables,
    figures, commit, versions, machine, load and wall times."""
    from pola_nb.cli.app import tune_for_training
    from pola_nb.cli.train_cmd import parse_seeds
    from pola_nb.reproduce import reproduce_all
    from pola_nb.sampled.cluster import cluster_option

    tune_for_training()

    where = cluster_option(cluster, workers)
    parsed = parse_seeds(seeds) if seeds is not None else None
    folder = out if out is not None else Path("results") / f"reproduce_{preset}"
    report = reproduce_all(folder, preset=preset, seeds=parsed, cluster=where, force=force,
                           resume=resume, bar=_bar(quiet), log=_log(quiet))
    print(f"wrote {report}")
