"""Benchmark of the second-order updates: prints one JSON object.

Measures, at the paper's settings (GRU H=64, layers_before_gru 1, T=50, float32):

- ``pola_ipd_s_per_outer_step``: one POLA-DiCE outer step of one agent, IPD, B=2000, K_in=2;
- ``pola_coin_s_per_outer_step``: the same on the Coin Game, B=1000, K_in=4;
- ``..._b100_...``: both at B=100;
- ``lola_ipd_s_per_update``: one LOLA-DiCE update of BOTH agents (no evaluation), IPD, B=2000;
- ``..._2workers...``: the same with the two agents' halves in two processes (``--workers 2``, one
  core each), and one POLA-DiCE outer step of both agents that way (IPD, B=2000);
- ``peak_rss_mib``: the largest peak resident memory of the configurations (each runs in a fresh
  process, so every figure is that configuration's own peak);
- matrix-product GFLOP/s achieved (all matmuls of the step counted exactly) against the float32
  matmul peak of this machine measured in the same run (2048^3 sgemm, 1 thread and all threads).

Each process runs single-threaded (one BLAS and one numba thread, the way training runs).

``--baseline REV`` also times the code of git revision ``REV`` (its ``pola_nb/`` and ``kernels/``,
extracted to a temporary folder and put first on ``PYTHONPATH``), alternating with this checkout
configuration by configuration, and adds ``baseline`` (its figures) and ``ratio_vs_baseline`` (this
checkout's best time over the baseline's): a speed change measured in the same run, under the same
load. ``--rounds N`` alternates N times and keeps each side's best.

``effective_gflops``: the matrix-product FLOPs of the step as the baseline counts them (this
checkout's own count without ``--baseline``) over this checkout's best time, so that a formulation
with fewer FLOPs counts as a faster one; ``effective_fraction_of_1_thread_peak`` relates it to the
sgemm peak of the same run.

Usage: ``python bench/update_step.py [--repeats N] [--only NAME] [--baseline REV [--rounds N]]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

CONFIGS = {
    "pola_ipd": dict(game="ipd", algo="pola-dice", batch_size=2000, inner_steps=2),
    "pola_coin": dict(game="coin", algo="pola-dice", batch_size=1000, inner_steps=4),
    "pola_ipd_b100": dict(game="ipd", algo="pola-dice", batch_size=100, inner_steps=2),
    "pola_coin_b100": dict(game="coin", algo="pola-dice", batch_size=100, inner_steps=4),
    "lola_ipd": dict(game="ipd", algo="lola-dice", batch_size=2000, inner_steps=1),
    "lola_ipd_2workers": dict(game="ipd", algo="lola-dice", batch_size=2000, inner_steps=1),
    "pola_ipd_both_2workers": dict(game="ipd", algo="pola-dice", batch_size=2000, inner_steps=2),
}
REFERENCE_JAX_2CORE = {"pola_ipd_s_per_outer_step": 6.7, "pola_coin_s_per_outer_step": 8.5,
                       "pola_ipd_b100_s_per_outer_step": 0.40, "pola_coin_b100_s_per_outer_step": 0.74,
                       "lola_ipd_s_per_update": 8.5, "peak_rss_gib": [5.9, 6.5]}


def sgemm_peak(threads: int) -> float:
    import numpy as np

    from pola_nb.sampled.process import limit_blas_threads

    limit_blas_threads(threads)
    n = 2048
    a = np.random.default_rng(0).random((n, n), dtype=np.float32)
    b = a.T.copy()
    a @ b
    best = 0.0
    for _ in range(3):
        t = time.perf_counter()
        a @ b
        best = max(best, 2 * n**3 / (time.perf_counter() - t) / 1e9)
    return best


def run_one(name: str, repeats: int) -> dict:
    """Time one configuration in this process."""
    import numpy as np
    from autograd import grad

    from pola_nb.sampled import fused, tree
    from pola_nb.sampled.learners import game_rollout, outer_loss
    from pola_nb.sampled.process import training_process

    try:  # the current layout
        from pola_nb.sampled.config import preset_config
        from pola_nb.sampled.pola_learner import update_pair
    except ImportError:  # a baseline revision's (e.g. 60941d8)
        from pola_nb.sampled.learners import update_pair
        from pola_nb.sampled.training import preset_config

    training_process()
    c = dict(CONFIGS[name])
    cfg = preset_config(c.pop("game"), c.pop("algo"), "paper", **c)
    game, arch, hp = cfg.make_game(), cfg.architecture(), cfg.hp
    rng = np.random.default_rng(0)
    agents = (arch.init(rng), arch.init(rng))
    rollout = game_rollout(game)

    pool = None
    if name.endswith("2workers"):  # both agents' halves in two worker processes (--workers 2)
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        from pola_nb.sampled.process import worker_init

        pool = ProcessPoolExecutor(2, mp_context=mp.get_context("spawn"), initializer=worker_init)
        hp = replace(hp, outer_steps=1)  # one outer step of BOTH agents per call
    if hp.algo == "lola-dice" or pool is not None:
        def work():
            update_pair(arch, agents, hp, rollout, rng, pool=pool)
    else:
        ref = tree.stop(agents[0])
        state = tree.adam_init(ref)

        def work():  # one outer step of agent 1: look ahead, score, Adam step
            g = grad(outer_loss, 1)(arch, ref, ref["pol"], agents[1], 0, hp, rollout, rng)
            tree.adam_step(ref, g, state, {"pol": hp.lr_out, "val": hp.lr_v})

    work()  # compile the kernels, warm the caches
    fused.FLOPS = [0]
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        work()
        times.append(time.perf_counter() - t)
    flops = fused.FLOPS[0] / repeats  # matmuls of this process only (not of worker processes)
    fused.FLOPS = None
    if pool is not None:
        pool.shutdown()
    best, mean = min(times), sum(times) / len(times)
    return {"name": name, "s_best": best, "s_mean": mean, "repeats": repeats, "matmul_gflop": flops / 1e9,
            "achieved_gflops": flops / 1e9 / best, "batch": hp.batch_size, "inner_steps": hp.inner_steps,
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "code": str(Path(fused.__file__).parents[2])}


def result_key(name: str) -> str:
    return {"lola_ipd": "lola_ipd_s_per_update", "lola_ipd_2workers": "lola_ipd_2workers_s_per_update",
            "pola_ipd_both_2workers": "pola_ipd_both_agents_2workers_s_per_outer_step"}.get(
        name, f"{name}_s_per_outer_step")


def extract_revision(rev: str, into: Path) -> dict:
    """Environment that imports ``pola_nb`` and ``pola_kernels`` as of git revision ``rev``."""
    repo = Path(__file__).resolve().parent.parent
    archive = subprocess.run(["git", "-C", str(repo), "archive", rev, "pola_nb", "kernels"],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    (into / "kernels").rename(into / "pola_kernels")
    return dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(into), os.environ.get("PYTHONPATH")])))


def time_config(name: str, repeats: int, env: dict | None = None) -> dict:
    """:func:`run_one` in a fresh process (``env``: e.g. a baseline revision's import path)."""
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--one", name, "--repeats", str(repeats)],
                         check=True, capture_output=True, text=True, env=env).stdout
    r = json.loads(out.strip().splitlines()[-1])
    if env is not None and Path(r["code"]).resolve() != Path(env["PYTHONPATH"].split(os.pathsep)[0]).resolve():
        raise SystemExit(f"the baseline imported pola_nb from {r['code']}, not from the extracted revision")
    return r


def keep_best(runs: dict, name: str, r: dict) -> None:
    if name not in runs or r["s_best"] < runs[name]["s_best"]:
        runs[name] = r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--only", choices=sorted(CONFIGS), action="append")
    ap.add_argument("--baseline", metavar="REV", help="also time git revision REV, alternating (same run)")
    ap.add_argument("--rounds", type=int, default=1, help="with --baseline: alternations (best of each side)")
    ap.add_argument("--one", choices=sorted(CONFIGS), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.repeats)))
        return
    load = os.getloadavg()
    peak1, peak_all = sgemm_peak(1), sgemm_peak(os.cpu_count() or 1)
    names = args.only or list(CONFIGS)
    with tempfile.TemporaryDirectory() as tmp:
        base_env = extract_revision(args.baseline, Path(tmp)) if args.baseline else None
        runs, base_runs = {}, {}
        for _ in range(args.rounds if base_env else 1):
            for name in names:
                keep_best(runs, name, time_config(name, args.repeats))
                if base_env:
                    keep_best(base_runs, name, time_config(name, args.repeats, base_env))
    res: dict = {}
    for name, r in runs.items():
        res[result_key(name)] = round(r["s_best"], 3)
    if base_runs:
        res["baseline"] = {"rev": args.baseline, **{result_key(n): round(r["s_best"], 3) for n, r in base_runs.items()},
                           "peak_rss_mib": round(max(r["peak_rss_mib"] for r in base_runs.values()), 1)}
        res["ratio_vs_baseline"] = {result_key(n): round(runs[n]["s_best"] / r["s_best"], 3)
                                    for n, r in base_runs.items()}
        res["rounds"] = args.rounds
    res["peak_rss_mib"] = round(max(r["peak_rss_mib"] for r in runs.values()), 1)
    res["peak_rss_mib_by_config"] = {k: round(r["peak_rss_mib"], 1) for k, r in runs.items()}
    res["matmul_gflop_per_step"] = {k: round(r["matmul_gflop"], 2) for k, r in runs.items()}
    res["achieved_gflops"] = {k: round(r["achieved_gflops"], 1) for k, r in runs.items()
                              if "2workers" not in k}
    flops_ref = base_runs or runs
    res["effective_gflops"] = {k: round(flops_ref[k]["matmul_gflop"] / r["s_best"], 1) for k, r in runs.items()
                               if "2workers" not in k}
    res["effective_fraction_of_1_thread_peak"] = {k: round(v / peak1, 3) for k, v in res["effective_gflops"].items()}
    res["sgemm_peak_gflops_1_thread"] = round(peak1, 1)
    res["sgemm_peak_gflops_all_threads"] = round(peak_all, 1)
    res["fraction_of_1_thread_peak"] = {k: round(r["achieved_gflops"] / peak1, 3) for k, r in runs.items()
                                        if "2workers" not in k}
    res["mean_s"] = {k: round(r["s_mean"], 3) for k, r in runs.items()}
    res["repeats"] = args.repeats
    res["threads_per_process"] = 1
    res["cpu_count"] = os.cpu_count()
    res["load_average_at_start"] = [round(x, 2) for x in load]
    res["reference_official_jax_2_cores"] = REFERENCE_JAX_2CORE
    print(json.dumps(res))


if __name__ == "__main__":
    main()
