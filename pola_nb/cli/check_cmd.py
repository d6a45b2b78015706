"""``pola check-estimator``: DiCE gradient and LOLA term against exact derivatives."""

from __future__ import annotations

import json

import typer

from pola_nb.cli.app import app


@app.command("check-estimator")
def check_estimator_cmd(
    batch: int = typer.Option(4000, "--batch-size", help="Episodes per rollout batch."),
    seed: int = typer.Option(0, "--seed", help="Seed of the random policies and the rollouts."),
    steps: int = typer.Option(50, "--steps", help="Episode length T."),
    lr_in: float = typer.Option(1.0, "--lr-in", help="Inner (lookahead) learning rate of LOLA."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Compare the DiCE estimates with exact derivatives on the full-history IPD (memory-one policies).

    Prints the cosine between the sampled and the exact policy gradients (``grad_cosine``) and
    between the sampled and the exact LOLA opponent-shaping terms (``lola_term_cosine``).
    """
    from pola_nb.cli.app import tune_for_training
    from pola_nb.errors import require_int, require_real
    from pola_nb.sampled.estimator_check import check_estimator

    require_int("batch", batch, 1)
    require_int("seed", seed, 0)
    require_int("steps", steps, 1)
    require_real("lr_in", lr_in, 0.0)
    tune_for_training()
    res = check_estimator(batch=batch, seed=seed, steps=steps, lr_in=lr_in)
    if as_json:
        print(json.dumps(res))
        return
    print(f"DiCE gradient vs exact gradient:     cosine {res['grad_cosine']:.4f}  (pass >= 0.98)")
    print(f"LOLA-DiCE shaping term vs exact:     cosine {res['lola_term_cosine']:.4f}  (pass >= 0.90)")
    print(f"batch {batch}, T {steps}, seed {seed}, lr_in {lr_in}")
