"""Benchmark of one LOQA update at the official Coin Game settings: prints one JSON object.

Settings (``pola train coin --algo loqa --preset paper``): 3x3 Coin Game, T = 50, B = 512 episodes,
actor GRU H = 128 with 2 dense layers before it, Q GRU H = 64 with 2 dense layers, float32. The
opponent population holds ``--population`` snapshots (default 100: the population after 1000
updates; each episode draws its own), so the opponent's rollout and values cost what they cost in
the middle of a run.

Reports ``s_per_update`` (best and mean of ``--repeats`` updates, after one warm-up update), the
matrix-product GFLOP of one update as :mod:`pola_nb.sampled.fused` counts them (the products of the
differentiable passes; the samplers' GRU cells and the population's per-snapshot products are not
counted), the GFLOP/s that makes, and the float32 matmul peak of this machine measured in the same
run (2048^3 sgemm, one thread), with the load average and versions. Runs single-threaded (one BLAS
and one numba thread, the way training runs).

With ``--baseline REV`` it also times git revision ``REV`` (its ``pola_nb`` and ``kernels``, extracted
to a temporary folder), alternating fresh processes of the baseline and this checkout for
``--rounds`` rounds, and adds ``baseline``, ``baseline_s_per_update_best`` and ``ratio_vs_baseline``
(this checkout's best over the baseline's).

Usage: ``python bench/loqa_step.py [--repeats N] [--population K] [--grid N] [--baseline REV [--rounds N]]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import time
from pathlib import Path


def fixed_population_update(population: int, grid: int = 3):
    """``(cfg, update)``: the paper preset's LOQA configuration on the ``grid`` x ``grid`` Coin Game and
    a function that runs one update of it against the same ``population`` fresh snapshots every time
    (no update pushes a snapshot, so the population's stacked copy is built once)."""
    import numpy as np

    from pola_nb.generics import init_net, init_state, make_learner, train_step
    from pola_nb.sampled import tree
    from pola_nb.sampled.config import preset_config

    cfg = preset_config("coin", "loqa", "paper", grid=grid)
    learner, game = make_learner(cfg.hp, cfg), cfg.make_game()
    rng = np.random.default_rng(0)
    state = init_state(learner, game, rng)
    snaps = [tree.copy(init_net(learner.actor, rng)) for _ in range(population)]
    state["population"].extend({"pol": p, "q": init_net(learner.q, rng)} for p in snaps)

    def update() -> None:
        nonlocal state
        state["step"] = np.int64(1)  # not a multiple of population_every: the population stays as set
        state, _ = train_step(learner, game, state, rng)
        del state["population"][population:]

    return cfg, update


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--population", type=int, default=100)
    ap.add_argument("--grid", type=int, default=3)
    ap.add_argument("--baseline", default=None, help="git revision to time alternately with this checkout")
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    if args.baseline:
        compare(args)
        return

    import numpy as np
    from update_step import sgemm_peak  # this folder's update benchmark (the script's folder is on sys.path)

    from pola_nb.sampled import fused
    from pola_nb.sampled.process import pinned_numba_threads

    peak = sgemm_peak(1)  # also leaves BLAS at one thread, the way training runs
    cfg, update = fixed_population_update(args.population, args.grid)
    times = []
    with pinned_numba_threads(1):
        update()  # warm-up (compilation, allocation)
        fused.FLOPS = [0]
        for _ in range(args.repeats):
            t = time.perf_counter()
            update()
            times.append(time.perf_counter() - t)
        flops = fused.FLOPS[0] / args.repeats
        fused.FLOPS = None
    best = min(times)
    root = Path(__file__).resolve().parents[1]
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True).stdout.strip()
    except OSError:
        commit = ""
    print(json.dumps({
        "benchmark": "loqa_update", "grid": args.grid, "batch": cfg.hp.batch_size, "steps": cfg.steps,
        "actor_hidden": cfg.hidden, "q_hidden": cfg.hp.q_hidden, "population": args.population,
        "s_per_update_best": round(best, 4), "s_per_update_mean": round(float(np.mean(times)), 4),
        "repeats": args.repeats, "matmul_gflop_per_update": round(flops / 1e9, 3),
        "achieved_gflops": round(flops / 1e9 / best, 2), "sgemm_peak_gflops_1_thread": round(peak, 1),
        "fraction_of_peak": round(flops / 1e9 / best / peak, 3),
        "load_average": [round(x, 2) for x in os.getloadavg()], "cpus": os.cpu_count(),
        "python": platform.python_version(), "numpy": np.__version__, "commit": commit,
        "code": str(Path(fused.__file__).resolve().parents[2]),
    }, indent=1))


def compare(args: argparse.Namespace) -> None:
    """Time the baseline revision and this checkout alternately, each update in a fresh process."""
    import sys
    import tempfile

    from update_step import extract_revision

    cmd = [sys.executable, str(Path(__file__).resolve()), "--repeats", str(args.repeats),
           "--population", str(args.population), "--grid", str(args.grid)]

    def once(env: dict | None) -> dict:
        out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
        return json.loads(out)

    load = [round(x, 2) for x in os.getloadavg()]
    with tempfile.TemporaryDirectory() as tmp:
        env = extract_revision(args.baseline, Path(tmp))
        base, new = [], []
        for _ in range(args.rounds):
            b = once(env)
            if Path(b["code"]).resolve() != Path(tmp).resolve():
                raise SystemExit(f"the baseline imported pola_nb from {b['code']}, not from the extracted revision")
            base.append(b)
            new.append(once(None))
    best = min(new, key=lambda r: r["s_per_update_best"])
    b_best = min(r["s_per_update_best"] for r in base)
    print(json.dumps(dict(best, baseline=args.baseline, rounds=args.rounds, baseline_s_per_update_best=b_best,
                          ratio_vs_baseline=round(best["s_per_update_best"] / b_best, 3),
                          load_average_at_start=load), indent=1))


if __name__ == "__main__":
    main()
