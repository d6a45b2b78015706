"""``pola train``: LOLA-DiCE / POLA-DiCE / POLA-OM / LOQA on the IPD with full history or the Coin Game."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer

from pola_nb.cli.app import app
from pola_nb.cli.options import option_name, setting_options, with_options
from pola_nb.sampled.config import AAHyper, Hyper, LoqaHyper, RunConfig
from pola_nb.sampled.hyper import ALGOS

ALGO_LIST = ", ".join(ALGOS[:-1]) + " or " + ALGOS[-1]


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


def train_command(
    game: str = typer.Argument(..., help="ipd (full history) or coin."),
    out: Path = typer.Option(None, "--out", "-o", help="Run file (HDF5); required unless --print-config."),
    algo: str = typer.Option(None, "--algo", help=f"{ALGO_LIST} (optional with --resume or --config)."),
    preset: str = typer.Option(None, "--preset", help="paper (the official README's commands, the default) or "
                               "quick; the other settings are applied on top of it."),
    config: Path = typer.Option(None, "--config", help="A TOML configuration (as written by --print-config); "
                                "options given on the command line override it."),
    print_config: bool = typer.Option(False, "--print-config", help="Print the effective configuration as TOML "
                                      "and exit without training."),
    seeds: str = typer.Option(None, "--seeds", help="Seeds, e.g. 1,2,3 or 1-10 (independent runs; default 1)."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted run file exactly."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing run file."),
    cluster: str = typer.Option(None, "--cluster", help="Where the agents' updates run: local (this process), "
                                "local:N (N Dask worker processes), tcp://HOST:PORT (a Dask scheduler) or a "
                                "scheduler file (JSON). Default local:1."),
    workers: int = typer.Option(None, "--workers", help="N: the same as --cluster local:N."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
    **settings: Any,
) -> None:
    """Train both agents with one algorithm; every seed is an independent run stored in OUT.

    The configuration is the preset, then the --config file, then the options given here. With
    --resume the configuration stored in OUT is used and the run continues where it stopped;
    --updates N with --resume extends a run to N updates.
    """
    from pola_nb.cli.app import tune_for_training
    from pola_nb.errors import require
    from pola_nb.sampled.cluster import cluster_option
    from pola_nb.sampled.config import extended, to_toml
    from pola_nb.sampled.training import prepare_run, train

    given = {k: v for k, v in settings.items() if v is not None}
    if resume:
        from pola_nb.runfile import stored_config

        extra = [option_name(k) for k in given if k != "updates"]
        extra += [name for name, v in (("--config", config), ("--preset", preset), ("--seeds", seeds)) if v]
        require(not extra, f"--resume continues with the configuration stored in {out}; drop {', '.join(extra)}"
                " (only --updates may be given, to extend the run)")
        require(out is not None, "--out is needed: the run file to resume")
        cfg = stored_config(out)
        require((game, algo or cfg.hp.algo) == (cfg.game, cfg.hp.algo),
                f"{out} is a {cfg.game} {cfg.hp.algo} run, not {game} {algo or ''}".rstrip())
        cfg = extended(cfg, given.get("updates"), out)
    else:
        cfg = configured(game, algo, preset, config, seeds, given)
    if print_config:
        print(to_toml(cfg), end="")
        return
    require(out is not None, "--out is needed (the run file to write), or --print-config")
    where = cluster_option(cluster, workers)
    # Everything is checked before the progress display starts and before OUT is created or changed.
    prepare_run(out, None if resume else cfg, resume=resume, force=force, cluster=where,
                updates=cfg.updates if resume else None)
    tune_for_training()
    with opened_cluster(where, quiet) as executor, progress_display(cfg, quiet) as progress:
        train(out, None if resume else cfg, resume=resume, force=force, progress=progress, cluster=executor,
              updates=cfg.updates if resume else None)
    if not quiet:
        print(f"wrote {out}")


def configured(game: str, algo: str | None, preset: str | None, config: Path | None, seeds: str | None,
               given: dict[str, Any]) -> RunConfig:
    """The ``RunConfig`` of ``pola train``: ``preset`` (default paper), then the TOML file ``config``,
    then the options ``given`` on the command line."""
    from pola_nb.errors import require
    from pola_nb.sampled.config import preset_config, read_toml

    from_file = read_toml(config) if config is not None else {}
    file_game, file_algo, file_preset = (from_file.pop(k, None) for k in ("game", "algo", "preset"))
    require(file_game in (None, game), f"{config} configures the {file_game} game, not {game}")
    algo = algo or file_algo
    require(algo is not None, f"--algo is needed ({ALGO_LIST})")
    preset = preset if preset is not None else file_preset or "paper"
    if seeds is not None:
        given = {**given, "seeds": parse_seeds(seeds)}
    return preset_config(game, algo, preset, **{**from_file, **given})


with_options(train_command, setting_options((RunConfig, Hyper, LoqaHyper, AAHyper), skip=("game", "algo", "preset")))
app.command("train")(train_command)


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
def progress_display(cfg: RunConfig, quiet: bool, title: str | None = None
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
    from rich import progress as rp

    with rp.Progress(rp.TextColumn("[bold]{task.fields[title]}"), rp.BarColumn(), rp.MofNCompleteColumn(),
                     rp.TimeElapsedColumn(), rp.TextColumn("ETA"), rp.TimeRemainingColumn(),
                     rp.TextColumn("{task.description}")) as bar:
        task = bar.add_task("", total=cfg.updates * len(cfg.seeds), title=title or f"{cfg.game} {cfg.hp.algo}")
        latest = [0] * len(cfg.seeds)  # seeds advance independently: count each one's updates

        def progress(u: int, k: int, m: dict[str, float]) -> None:
            latest[k] = u
            bar.update(task, completed=sum(latest), description=f"update {u} seed {cfg.seeds[k]}: {_fmt(m)}")

        yield progress
