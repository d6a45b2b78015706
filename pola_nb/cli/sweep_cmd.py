"""``pola sweep``: one training run per point of a hyperparameter grid described by a TOML file."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer

from pola_nb.cli.app import app
from pola_nb.sweep import Sweep, SweepCounter, SweepProgress


@contextmanager
def sweep_progress(counter: SweepCounter, sweep: Sweep, quiet: bool) -> Iterator[SweepProgress | None]:
    """The ``progress(name, update, seed_index, metrics)`` callback of :func:`pola_nb.sweep.run_sweep`:
    nothing with ``--quiet``; on a terminal one bar over all seed-updates of the sweep; otherwise one
    line per run, seed and update on stderr. Both show runs done, updates done out of the total and
    the time left (:class:`~pola_nb.sweep.SweepCounter`)."""
    from pola_nb.cli.train_cmd import _fmt

    if quiet:
        yield None
        return
    seeds = {r.name: r.config.seeds for r in sweep.runs}
    if not sys.stderr.isatty():
        def log_line(name: str, u: int, k: int, m: dict[str, float]) -> None:
            counter.update(name, u, k)
            print(f"{name} update {u}/{counter.goal[name]} seed {seeds[name][k]}: {_fmt(m)} [{counter.text()}]",
                  file=sys.stderr, flush=True)

        yield log_line
        return
    from rich.progress import BarColumn, Progress, TextColumn

    with Progress(TextColumn("[bold]sweep"), BarColumn(bar_width=20), TextColumn("{task.fields[status]}")) as bar:
        task = bar.add_task("", total=counter.total, completed=counter.updates_done, status=counter.text())

        def progress(name: str, u: int, k: int, m: dict[str, float]) -> None:
            counter.update(name, u, k)
            bar.update(task, completed=counter.updates_done, status=counter.text())

        yield progress


@app.command("sweep")
def sweep_command(
    file: Path = typer.Argument(..., help="Sweep file (TOML): game, algo, preset, seeds, [set] and [grid]."),
    out: Path = typer.Option(..., "--out", help="Output folder: one run file per grid point and sweep.h5."),
    cluster: str = typer.Option(None, "--cluster", help="Where the agents' updates run, shared by all runs: "
                                "local, local:N, tcp://HOST:PORT or a scheduler file. Default local:1."),
    workers: int = typer.Option(None, "--workers", help="N: the same as --cluster local:N."),
    resume: bool = typer.Option(False, "--resume", help="Continue every unfinished run; skip finished ones."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing sweep and its run files."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress lines."),
) -> None:
    """Train one run per point of the sweep file's grid (the cartesian product of its lists).

    Everything is checked before OUT is created or changed. OUT/sweep.h5 lists the runs;
    ``pola summary OUT/sweep.h5`` reports the final metrics of each.
    """
    from pola_nb.cli.app import tune_for_training
    from pola_nb.cli.train_cmd import opened_cluster
    from pola_nb.sampled.cluster import cluster_option
    from pola_nb.sweep import load_sweep, plan_sweep, run_sweep

    where = cluster_option(cluster, workers)
    sweep = load_sweep(file)
    todo = plan_sweep(sweep, out, resume=resume, force=force, cluster=where)
    tune_for_training()
    counter = SweepCounter(sweep, out, todo)
    with opened_cluster(where, quiet) as executor, sweep_progress(counter, sweep, quiet) as progress:
        index = run_sweep(sweep, out, resume=resume, force=force, cluster=executor, progress=progress)
    if not quiet:
        print(f"wrote {index}")
