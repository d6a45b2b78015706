"""``pola train``: LOLA-DiCE / POLA-DiCE / POLA-OM on the IPD with full history or the Coin Game."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import typer

from pola_nb.cli import app


def parse_seeds(text: str) -> tuple[int, ...]:
    """``"1,2,3"`` or a range ``"1-10"`` -> a tuple of distinct non-negative ints."""
    from pola_nb.errors import PolaUsageError, require

    seeds: list[int] = []
    try:
        for part in text.split(","):
            part = part.strip()
            if "-" in part:
                a, b = (int(x) for x in part.split("-", 1))
                seeds.extend(range(a, b + 1))
            elif part:
                seeds.append(int(part))
    except ValueError:
        raise PolaUsageError(f"--seeds must look like 1,2,3 or 1-10, got {text!r}") from None
    require(len(seeds) > 0 and all(s >= 0 for s in seeds), f"--seeds must list seeds >= 0, got {text!r}")
    require(len(set(seeds)) == len(seeds), f"--seeds has duplicates: {text!r}")
    return tuple(seeds)


def _fmt(m: dict[str, float]) -> str:
    parts = [f"self-play {0.5 * (m['score1'] + m['score2']):+.3f}",
             f"vs ALLD {0.5 * (m['vs_alld1'] + m['vs_alld2']):+.3f}"]
    if "own_coin" in m:
        parts.append(f"own coin {m['own_coin']:.3f}")
    return "  ".join(parts)


@app.command("train")
def train_command(
    game: str = typer.Argument(..., help="ipd (full history) or coin."),
    algo: str = typer.Option(None, "--algo", help="lola-dice, pola-dice or pola-om (optional with --resume)."),
    out: Path = typer.Option(..., "--out", help="Run file (HDF5)."),
    preset: str = typer.Option("paper", "--preset", help="paper (the official README's commands) or quick."),
    seeds: str = typer.Option("1", "--seeds", help="Seeds, e.g. 1,2,3 or 1-10 (independent runs)."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted run file exactly."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing run file."),
    updates: int = typer.Option(None, "--updates", help="Number of updates."),
    inner_steps: int = typer.Option(None, "--inner-steps"),
    outer_steps: int = typer.Option(None, "--outer-steps"),
    lr_in: float = typer.Option(None, "--lr-in"),
    lr_out: float = typer.Option(None, "--lr-out"),
    lr_v: float = typer.Option(None, "--lr-v"),
    batch_size: int = typer.Option(None, "--batch-size"),
    inner_beta: float = typer.Option(None, "--inner-beta"),
    outer_beta: float = typer.Option(None, "--outer-beta"),
    gamma: float = typer.Option(None, "--gamma"),
    gae_lambda: float = typer.Option(None, "--gae-lambda"),
    baseline: bool = typer.Option(None, "--baseline/--no-baseline"),
    kl: str = typer.Option(None, "--kl", help="ref-current (default) or current-ref (paper-era code)."),
    om_batches: int = typer.Option(None, "--om-batches", help="POLA-OM: rollouts per update per agent."),
    om_steps: int = typer.Option(None, "--om-steps", help="POLA-OM: Adam steps per rollout."),
    steps: int = typer.Option(None, "--steps", help="Episode length T."),
    cf: float = typer.Option(None, "--cf", help="IPD contribution factor."),
    grid: int = typer.Option(None, "--grid", help="Coin Game grid size."),
    policy: str = typer.Option(None, "--policy", help="gru, memory-one (ipd) or feed-forward."),
    hidden: int = typer.Option(None, "--hidden"),
    layers_before_gru: int = typer.Option(None, "--layers-before-gru"),
    eval_batch: int = typer.Option(None, "--eval-batch", help="Episodes per evaluation (default batch size)."),
    checkpoint_every: int = typer.Option(None, "--checkpoint-every"),
    backend: str = typer.Option(None, "--backend", help="cpu or cuda (rollout kernels)."),
    cluster: str = typer.Option(None, "--cluster", help="Where the agents' updates run: local (this process), "
                                "local:N (N Dask worker processes), tcp://HOST:PORT (a Dask scheduler) or a "
                                "scheduler file (JSON). Default local:1."),
    workers: int = typer.Option(None, "--workers", help="N: the same as --cluster local:N."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
) -> None:
    """Train both agents with one algorithm; every seed is an independent run stored in OUT.

    With --resume the configuration stored in OUT is used and the run continues where it stopped;
    --updates N with --resume extends a run to N updates.
    """
    from pola_nb.errors import require
    from pola_nb.runfile import stored_config
    from pola_nb.sampled.cluster import cluster_option
    from pola_nb.sampled.config import extended, preset_config
    from pola_nb.sampled.training import prepare_run, train

    where = cluster_option(cluster, workers)

    options = dict(
        inner_steps=inner_steps, outer_steps=outer_steps, lr_in=lr_in, lr_out=lr_out, lr_v=lr_v,
        batch_size=batch_size, inner_beta=inner_beta, outer_beta=outer_beta, gamma=gamma, gae_lambda=gae_lambda,
        baseline=baseline, kl=kl, om_batches=om_batches, om_steps=om_steps, steps=steps, cf=cf, grid=grid,
        policy=policy, hidden=hidden, layers_before_gru=layers_before_gru, eval_batch=eval_batch,
        checkpoint_every=checkpoint_every, backend=backend)
    if resume:
        given = [name.replace("_", "-") for name, v in options.items() if v is not None]
        require(not given, f"--resume continues with the configuration stored in {out}; drop --{', --'.join(given)}"
                " (only --updates may be given, to extend the run)")
        cfg = stored_config(out)
        require((game, algo or cfg.hp.algo) == (cfg.game, cfg.hp.algo),
                f"{out} is a {cfg.game} {cfg.hp.algo} run, not {game} {algo or ''}".rstrip())
        cfg = extended(cfg, updates, out)
    else:
        require(algo is not None, "--algo is needed (lola-dice, pola-dice or pola-om)")
        cfg = preset_config(game, algo, preset, seeds=parse_seeds(seeds), updates=updates, **options)
    # Everything is checked before the progress display starts and before OUT is created or changed.
    prepare_run(out, None if resume else cfg, resume=resume, force=force, cluster=where,
                updates=cfg.updates if resume else None)
    with opened_cluster(where, quiet) as executor, reporter(cfg, quiet) as progress:
        train(out, None if resume else cfg, resume=resume, force=force, progress=progress, cluster=executor,
              updates=cfg.updates if resume else None)
    if not quiet:
        print(f"wrote {out}")


@contextmanager
def opened_cluster(where: str, quiet: bool) -> Iterator:
    """The executor of the ``--cluster`` text ``where`` (refused with one line if it cannot be opened),
    its Dask dashboard's address printed on stderr unless ``quiet``."""
    from pola_nb.sampled.cluster import open_cluster

    with open_cluster(where) as executor:
        if executor.dashboard_link and not quiet:
            print(f"Dask dashboard: {executor.dashboard_link}", file=sys.stderr, flush=True)
        yield executor


@contextmanager
def reporter(cfg, quiet: bool, title: str | None = None
             ) -> Iterator[Callable[[int, int, dict[str, float]], None] | None]:
    """The ``progress(update, seed_index, metrics)`` callback of a run (``cfg`` a ``RunConfig``):
    nothing with ``--quiet``, a bar titled ``title`` on a terminal, and one line per seed and update
    when stderr is a file (nohup, a batch job), where a bar would only be drawn when the run ends."""
    if quiet:
        yield None
        return
    if not sys.stderr.isatty():
        start = time.monotonic()

        def log_line(u: int, k: int, m: dict[str, float]) -> None:
            print(f"{cfg.game} {cfg.hp.algo} update {u}/{cfg.updates} seed {cfg.seeds[k]} "
                  f"({time.monotonic() - start:.0f} s): {_fmt(m)}", file=sys.stderr, flush=True)

        yield log_line
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("[bold]{task.fields[title]}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), TextColumn("{task.description}")) as bar:
        task = bar.add_task("", total=cfg.updates * len(cfg.seeds), title=title or f"{cfg.game} {cfg.hp.algo}")
        latest = [0] * len(cfg.seeds)  # seeds advance independently: count each one's updates

        def progress(u: int, k: int, m: dict[str, float]) -> None:
            latest[k] = u
            bar.update(task, completed=sum(latest), description=f"update {u} seed {cfg.seeds[k]}: {_fmt(m)}")

        yield progress
