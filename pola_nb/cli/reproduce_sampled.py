"""``pola reproduce fig4|fig5``: LOLA-DiCE, POLA-DiCE and POLA-OM on the IPD / the Coin Game.

Each learner is an ordinary resumable run file (``pola train``) next to the figure file
``OUT``: ``<stem>_lola-dice.h5``, ``<stem>_pola-dice.h5``, ``<stem>_pola-om.h5``. ``OUT`` itself
(kind ``fig4``/``fig5``) lists them; ``pola summary OUT`` and ``pola plot OUT`` read them.
"""

from __future__ import annotations

from pathlib import Path

import typer

from pola_nb.cli.reproduce_cmd import reproduce_app

ALGOS = ("lola-dice", "pola-dice", "pola-om")
GAME = {"fig4": "ipd", "fig5": "coin"}


def run_sampled_figure(fig: str, scale: str, seeds: int | None, out: Path | None, force: bool, resume: bool,
                       cluster: str, quiet: bool, algos: tuple[str, ...] = ALGOS,
                       overrides: dict | None = None) -> Path:
    """Train the three learners (or continue them), then write the figure file, its PNG and a table.

    ``cluster``: where the agents' updates run (a ``--cluster`` text, one cluster for all three runs).
    ``overrides``: settings applied on top of the preset (as in :func:`preset_config`; for tests).
    Every setting, the cluster, the figure file, its PNG and every run file are checked before anything
    is written.
    """
    import json

    from pola_nb.cli.train_cmd import opened_cluster
    from pola_nb.errors import require
    from pola_nb.report import reporter_for
    from pola_nb.results import atomic_results, check_figure_paths, default_output, open_results
    from pola_nb.runfile import stored_config
    from pola_nb.sampled.config import sampled_figure_configs
    from pola_nb.sampled.training import prepare_run, train

    n = seeds if seeds is not None else (10 if scale == "paper" else 3)
    configs = sampled_figure_configs(GAME[fig], scale, n, **(overrides or {}))
    require(all(a in configs for a in algos), f"unknown algorithms in {algos!r}")
    # --resume rewrites the figure file and its PNG from the run files.
    out, png = check_figure_paths(out if out is not None else default_output(f"{fig}_{scale}.h5"), force or resume)
    runs = {a: out.with_name(f"{out.stem}_{a}.h5") for a in algos}
    plan = {}
    for algo, path in runs.items():
        if resume and path.exists():
            stored = stored_config(path)
            require((stored.game, stored.hp.algo) == (GAME[fig], algo),
                    f"{path} is a {stored.game} {stored.hp.algo} run, not {GAME[fig]} {algo}")
            prepare_run(path, resume=True, cluster=cluster)
            plan[algo] = None
        else:
            prepare_run(path, configs[algo], force=force, cluster=cluster)
            plan[algo] = configs[algo]
    with opened_cluster(cluster, quiet) as executor:
        for algo, path in runs.items():
            cfg = plan[algo]
            _train_with_bar(train, path, cfg, cfg is None, force, executor, quiet, algo)
    config = {"figure": fig, "scale": scale, "seeds": n, "runs": {a: p.name for a, p in runs.items()}}
    with atomic_results(out, kind=fig, config=config, force=True) as f:
        f.attrs["runs"] = json.dumps({a: p.name for a, p in runs.items()})
    with open_results(out) as f:
        rep = reporter_for(f)
        print(rep.table(rep.summary(f)))
        rep.plot(f, str(png))
    print(f"wrote {out} and {png}")
    return out


def _train_with_bar(train, path, cfg, resume, force, executor, quiet, algo) -> None:
    from pola_nb.cli.train_cmd import reporter
    from pola_nb.runfile import stored_config

    with reporter(cfg or stored_config(path), quiet, title=f"{algo:10s}") as progress:
        train(path, cfg, resume=resume, force=force, progress=progress, cluster=executor)


_SCALE = typer.Option("quick", "--scale", help="quick (minutes per seed) or paper (official README commands; days).")
_SEEDS = typer.Option(None, "--seeds", help="Number of seeds 1..N (default: 3 quick, 10 paper).")
_OUT = typer.Option(None, "--out", "-o", help="Figure file (.h5); run files and PNG go next to it.")
_FORCE = typer.Option(False, "--force", help="Overwrite existing files.")
_RESUME = typer.Option(False, "--resume", help="Continue interrupted run files.")
_CLUSTER = typer.Option(None, "--cluster", help="Where the agents' updates run: local, local:N, tcp://HOST:PORT "
                        "or a scheduler file (as for pola train). Default local:1.")
_WORKERS = typer.Option(None, "--workers", help="N: the same as --cluster local:N.")
_QUIET = typer.Option(False, "--quiet", help="No progress bars.")


@reproduce_app.command("fig4")
def fig4(scale: str = _SCALE, seeds: int = _SEEDS, out: Path = _OUT, force: bool = _FORCE, resume: bool = _RESUME,
         cluster: str = _CLUSTER, workers: int = _WORKERS, quiet: bool = _QUIET) -> None:
    """Figure 4: IPD with full history (cf 1.33), LOLA-DiCE vs POLA-DiCE vs POLA-OM."""
    from pola_nb.sampled.cluster import cluster_option

    run_sampled_figure("fig4", scale, seeds, out, force, resume, cluster_option(cluster, workers), quiet)


@reproduce_app.command("fig5")
def fig5(scale: str = _SCALE, seeds: int = _SEEDS, out: Path = _OUT, force: bool = _FORCE, resume: bool = _RESUME,
         cluster: str = _CLUSTER, workers: int = _WORKERS, quiet: bool = _QUIET) -> None:
    """Figure 5: Coin Game, LOLA-DiCE vs POLA-DiCE vs POLA-OM."""
    from pola_nb.sampled.cluster import cluster_option

    run_sampled_figure("fig5", scale, seeds, out, force, resume, cluster_option(cluster, workers), quiet)
