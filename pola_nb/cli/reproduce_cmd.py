"""``pola reproduce``: the paper's experiments. Exact-IPD figures (fig1, fig3, b16) live here."""

from __future__ import annotations

from pathlib import Path

import typer

from pola_nb.cli import app
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


def run_exact_figure(fig: str, out: Path | None, repeats: int | None, cf: str | None, seed: int | None,
                     gamma: float, quick: bool, force: bool) -> None:
    """Run every method of ``fig`` as one batch each, write HDF5 + PNG, print the table.

    The settings and both output paths are validated before any work starts.
    """
    import json
    import time

    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from pola_nb.exact import experiments as ex
    from pola_nb.report import reporter_for
    from pola_nb.results import atomic_results, check_figure_paths, default_output, open_results

    settings = ex.figure_settings(fig, quick, repeats=repeats, cfs=parse_cfs(cf), seed=seed, gamma=gamma)
    path, png = check_figure_paths(out if out is not None else default_output(f"{fig}{'_quick' if quick else ''}.h5"),
                                   force)

    methods = settings.methods()
    results = []
    start = time.perf_counter()
    with Progress(TextColumn("{task.description:18s}"), BarColumn(), TextColumn("epoch {task.completed}/{task.total}"),
                  TimeElapsedColumn(), transient=False) as progress:
        for m in methods:
            task = progress.add_task(m.name, total=m.epochs)
            results.append(ex.run_method(m, settings.cfs, settings.repeats, gamma=settings.gamma, seed=settings.seed,
                                         on_epoch=lambda e, t=task: progress.update(t, completed=e)))
    with atomic_results(path, kind=fig, config=settings.config(), force=force) as f:
        for res in results:
            ex.write_method(f, res)
        f.attrs["seconds"] = time.perf_counter() - start
        f.attrs["methods"] = json.dumps([m.name for m in methods])
    with open_results(path) as f:
        rep = reporter_for(f)
        print(rep.table(rep.summary(f)))
        rep.plot(f, str(png))
    print(f"wrote {path} and {png}")


_OUT = typer.Option(None, "--out", "-o", help="Results file (.h5); the PNG goes next to it.")
_REPEATS = typer.Option(None, "--repeats", help="Runs per contribution factor (default: the paper's).")
_CF = typer.Option(None, "--cf", help="Comma-separated contribution factors, e.g. 1.1,1.33.")
_SEED = typer.Option(None, "--seed", help="Seed for every method (default: the paper's per method).")
_GAMMA = typer.Option(0.96, "--gamma", help="Discount factor, in (0, 1).")
_QUICK = typer.Option(False, "--quick", help="Reduced version (fewer repeats, cfs and epochs).")
_FORCE = typer.Option(False, "--force", help="Overwrite existing output files.")


@reproduce_app.command("fig1")
def fig1(out: Path = _OUT, repeats: int = _REPEATS, cf: str = _CF, seed: int = _SEED, gamma: float = _GAMMA,
         quick: bool = _QUICK, force: bool = _FORCE) -> None:
    """Figure 1: one LOLA and one POLA update under the two equivalent nets NN1 and NN2."""
    run_exact_figure("fig1", out, repeats, cf, seed, gamma, quick, force)


@reproduce_app.command("fig3")
def fig3(out: Path = _OUT, repeats: int = _REPEATS, cf: str = _CF, seed: int = _SEED, gamma: float = _GAMMA,
         quick: bool = _QUICK, force: bool = _FORCE) -> None:
    """Figure 3: fraction of runs finding TFT, LOLA vs outer POLA x tabular/NN/pre-conditioned x cf."""
    run_exact_figure("fig3", out, repeats, cf, seed, gamma, quick, force)


@reproduce_app.command("b16")
def b16(out: Path = _OUT, repeats: int = _REPEATS, cf: str = _CF, seed: int = _SEED, gamma: float = _GAMMA,
        quick: bool = _QUICK, force: bool = _FORCE) -> None:
    """Appendix B.1.6: LOLA vs POLA with exact opponent models in three parameterisations."""
    run_exact_figure("b16", out, repeats, cf, seed, gamma, quick, force)
