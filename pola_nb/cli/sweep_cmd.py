"""``pola sweep``: one training run per point of a hyperparameter grid described by a TOML file."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from pola_nb.cli.app import app


def log_progress(sweep) -> object:
    """A ``progress(name, update, seed_index, metrics)`` callback of :func:`pola_nb.sweep.run_sweep`
    that prints one line per run, seed and update on stderr."""
    from pola_nb.cli.train_cmd import _fmt

    configs = {r.name: r.config for r in sweep.runs}

    def log_line(name: str, u: int, k: int, m: dict[str, float]) -> None:
        cfg = configs[name]
        print(f"{name} update {u}/{cfg.updates} seed {cfg.seeds[k]}: {_fmt(m)}", file=sys.stderr, flush=True)

    return log_line


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
    plan_sweep(sweep, out, resume=resume, force=force, cluster=where)
    tune_for_training()
    with opened_cluster(where, quiet) as executor:
        index = run_sweep(sweep, out, resume=resume, force=force, cluster=executor,
                          progress=None if quiet else log_progress(sweep))
    if not quiet:
        print(f"wrote {index}")
