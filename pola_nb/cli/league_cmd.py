"""``pola league``: every agent plays every other agent and the fixed strategies; results in HDF5."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from pola_nb.cli.app import app


@app.command("league")
def league_command(
    agents: list[str] = typer.Argument(None, help="Agents: checkpoints RUN.h5[:update][@seed_index] "
                                                  "(RUN.h5@* = every seed; globs expand) or strategy names."),
    strategies: str = typer.Option("alld,allc,tft,random", "--strategies",
                                   help="Fixed strategies that join the league, comma-separated ('' for none)."),
    out: Path = typer.Option(..., "--out", "-o", help="Results file to write (.h5)."),
    game: str = typer.Option(None, "--game", help="ipd or coin (default: the checkpoints' game)."),
    batch: int = typer.Option(10000, "--batch-size", help="Episodes per pair."),
    seed: int = typer.Option(0, "--seed", help="League seed; each pair's rollout seed derives from it."),
    steps: int = typer.Option(None, "--steps", help="Steps per episode (default: the checkpoints', else 50)."),
    grid: int = typer.Option(None, "--grid", help="Coin Game grid size (default: the checkpoints', else 3)."),
    cf: float = typer.Option(None, "--cf", help="IPD contribution factor (default: the checkpoints', else 1.33)."),
    backend: str = typer.Option("cpu", "--backend", help="cpu or cuda."),
    cluster: str = typer.Option(None, "--cluster", help="Where the pairs are played: local (this process), "
                                "local:N (N Dask worker processes), tcp://HOST:PORT (a Dask scheduler) or a "
                                "scheduler file (JSON). Default local:1; the results are the same."),
    workers: int = typer.Option(None, "--workers", help="N: the same as --cluster local:N."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as one JSON object."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing results file."),
) -> None:
    """Play every ordered pair of agents; store scores (and coin statistics) per pair."""
    from pola_nb.cli.options import comma_list
    from pola_nb.generics import table
    from pola_nb.league import LeagueResults, run_league
    from pola_nb.sampled.cluster import cluster_option

    where = cluster_option(cluster, workers)
    names = comma_list(strategies)
    s = run_league(list(agents or []), out, strategies=names, game=game, batch=batch, seed=seed, steps=steps,
                   grid=grid, cf=cf, backend=backend, force=force, cluster=where)
    print(json.dumps(s) if as_json else f"{table(LeagueResults(), s)}\nwrote {out}")
