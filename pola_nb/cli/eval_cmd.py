"""``pola eval``: play two agents against each other in a sampled game and report the scores."""

from __future__ import annotations

import json

import typer

from pola_nb.cli import app
from pola_nb.errors import require


def evaluate(game_name: str, agent1: str, agent2: str, *, batch: int = 10000, steps: int = 50, seed: int = 0,
             grid: int = 3, cf: float = 1.33, backend: str = "cpu") -> dict:
    """Scores of ``agent1`` vs ``agent2`` over ``batch`` episodes (spec 4.2), as a flat dict.

    Keys: ``score1``, ``score2`` (per-step mean rewards) and for the Coin Game ``rr``, ``rb``,
    ``br``, ``bb`` (pick-ups per episode), ``own_coin1`` = RR/(RR+RB), ``own_coin2`` = BB/(BR+BB),
    ``same`` = (RR+BB)/(all pick-ups). Raises PolaUsageError on bad input.
    """
    from pola_nb.backends import check_backend
    from pola_nb.sampled.games import make_game
    from pola_nb.sampled.strategies import strategy

    require(batch > 0, f"--batch must be positive, got {batch}")
    require(steps > 0, f"--steps must be positive, got {steps}")
    require(seed >= 0, f"--seed must be >= 0, got {seed}")
    game = make_game(game_name, steps=steps, grid=grid, cf=cf)
    agents = (strategy(agent1), strategy(agent2))
    check_backend(backend)

    from pola_nb.sampled.rollout import coin_counts, own_coin_stats, rollout, scores

    traj = rollout(game, agents[0], agents[1], batch, seed=seed, backend=backend, keep_obs=False)
    s1, s2 = scores(traj)
    out = {"game": game.name, "agent1": agents[0].name, "agent2": agents[1].name, "batch": batch,
           "steps": steps, "seed": seed, "backend": backend, "score1": s1, "score2": s2}
    if game.name == "coin":
        own = own_coin_stats(traj)
        out.update(grid=grid, **coin_counts(traj), own_coin1=own["own_coin1"], own_coin2=own["own_coin2"],
                   same=own["same"])
    else:
        out.update(cf=cf)
    return out


def _table(r: dict) -> str:
    lines = [f"{r['game']}: {r['agent1']} (agent 1) vs {r['agent2']} (agent 2), {r['batch']} episodes x "
             f"{r['steps']} steps, seed {r['seed']}, backend {r['backend']}",
             f"  per-step mean reward   agent 1 {r['score1']:+.4f}   agent 2 {r['score2']:+.4f}"]
    if r["game"] == "coin":
        lines += [f"  pick-ups per episode   RR {r['rr']:.3f}  RB {r['rb']:.3f}  BR {r['br']:.3f}  BB {r['bb']:.3f}",
                  f"  own-coin proportion    agent 1 {r['own_coin1']:.4f}   agent 2 {r['own_coin2']:.4f}"
                  f"   same-colour overall {r['same']:.4f}"]
    return "\n".join(lines)


@app.command("eval")
def eval_command(
    game: str = typer.Argument(..., help="Game: ipd (full history) or coin."),
    agent1: str = typer.Option(..., "--agent1", help="Agent 1 (red): alld, allc, tft or random."),
    agent2: str = typer.Option(..., "--agent2", help="Agent 2 (blue): alld, allc, tft or random."),
    batch: int = typer.Option(10000, "--batch", help="Episodes played in parallel."),
    steps: int = typer.Option(50, "--steps", help="Steps per episode."),
    seed: int = typer.Option(0, "--seed", help="Seed of the PCG64 stream of uniforms."),
    grid: int = typer.Option(3, "--grid", help="Coin Game grid size N (N x N torus, N >= 2)."),
    cf: float = typer.Option(1.33, "--cf", help="IPD contribution factor."),
    backend: str = typer.Option("cpu", "--backend", help="cpu or cuda."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Play two reference strategies against each other; print per-step scores (and coin counts)."""
    r = evaluate(game, agent1, agent2, batch=batch, steps=steps, seed=seed, grid=grid, cf=cf, backend=backend)
    print(json.dumps(r) if as_json else _table(r))
