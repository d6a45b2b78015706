"""``pola eval``: play two agents against each other in a sampled game and report the scores."""

from __future__ import annotations

import json

import typer

from pola_nb.cli.app import app


def _table(r: dict) -> str:
    from pola_nb.generics import stats_lines
    from pola_nb.sampled.games import make_game

    lines = [f"{r['game']}: {r['agent1']} (agent 1) vs {r['agent2']} (agent 2), {r['batch']} episodes x "
             f"{r['steps']} steps, seed {r['seed']}, backend {r['backend']}",
             f"  per-step mean reward   agent 1 {r['score1']:+.4f}   agent 2 {r['score2']:+.4f}"]
    lines += stats_lines(make_game(r["game"]), r)  # the game's type is all its lines depend on
    return "\n".join(lines)


_AGENTS = "alld, allc, tft, random, or a training checkpoint RUN.h5[:update][@seed_index]."


@app.command("eval")
def eval_command(
    game: str = typer.Argument(..., help="Game: ipd (full history) or coin."),
    agent1: str = typer.Option(..., "--agent1", help=f"Agent 1 (red): {_AGENTS}"),
    agent2: str = typer.Option(..., "--agent2", help=f"Agent 2 (blue): {_AGENTS}"),
    batch: int = typer.Option(10000, "--batch-size", help="Episodes played in parallel."),
    steps: int = typer.Option(50, "--steps", help="Steps per episode."),
    seed: int = typer.Option(0, "--seed", help="Seed of the PCG64 stream of uniforms."),
    grid: int = typer.Option(3, "--grid", help="Coin Game grid size N (N x N torus, N >= 2)."),
    cf: float = typer.Option(1.33, "--cf", help="IPD contribution factor."),
    backend: str = typer.Option("cpu", "--backend", help="cpu or cuda."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Play two agents (strategies or trained checkpoints); print per-step scores (and coin counts)."""
    from pola_nb.sampled.matches import play_match

    r = play_match(game, agent1, agent2, batch=batch, steps=steps, seed=seed, grid=grid, cf=cf, backend=backend)
    print(json.dumps(r) if as_json else _table(r))
