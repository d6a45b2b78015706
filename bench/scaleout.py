"""Throughput of ``pola train`` in this process and on a Dask ``LocalCluster``: prints one JSON object.

Runs the same small POLA-DiCE run (IPD, 4 seeds, GRU H=16, B=200, 5 outer steps, 3 updates) with
``--cluster local:1`` (every task in this process, one after the other) and ``local:2`` (two
single-threaded Dask worker processes), and reports for each:

- ``updates_per_min``: seed-updates (both agents' parts, evaluation and file writes included) per
  minute of the run, the cluster's start and a warm-up run (numba compilation in every process) left
  out; ``start_s`` and ``warmup_s`` say what they took;
- per task: ``task_s`` (the span of ``agent_step`` on the worker, from ``timed_task``),
  ``submit_to_result_s`` (from ``submit`` to the moment the client's wait returns the finished task),
  ``dispatch_s`` (from ``submit`` to the task's start: queueing behind busy workers and the
  scheduler's latency), ``return_s`` (from the task's end to the client seeing it: result transfer
  and notification) and ``overhead_s`` = ``submit_to_result_s - task_s``; means over all tasks;
- ``speedup``: ``updates_per_min`` of ``local:2`` over ``local:1``;
- ``loadavg_before`` / ``loadavg_after``: the 1, 5 and 15 minute load averages of the machine.

``--baseline REV`` also times revision ``REV``'s ``pola train ... --workers 2`` (the process pool that
Dask replaced, e.g. ``3ecee76``) on the same run, in a fresh process that imports that revision, and
adds ``baseline`` (its ``updates_per_min`` and ``run_s``; the pool is started inside each run, so its
start is part of ``run_s``) and ``speedup_vs_baseline`` (``local:N`` over it).

With ``local:1`` a task starts only when the loop waits for it, so its ``dispatch_s`` is the time the
loop spends elsewhere (evaluations, other tasks), not a scheduling cost.

``--hidden 32 --batch-size 1000`` gives the quick preset's own network and batch (memory-bound
enough that two processes slow each other down on a machine whose cores share memory bandwidth).

Usage: ``python bench/scaleout.py [--workers N] [--seeds N] [--hidden H] [--batch-size B] [--baseline REV]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SETTINGS = dict(hidden=16, batch_size=200, outer_steps=5, updates=3)
"""The benchmark run's overrides of the quick IPD POLA-DiCE preset (``--hidden`` and ``--batch-size``
replace the first two). Its warm-up: 1 outer step, 1 update."""


class TimedExecutor:
    """An executor that records, per task, when it was submitted and when the client got it back."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.dashboard_link = None
        self.tasks: list[tuple[Any, float]] = []
        self.received: dict[int, float] = {}

    def submit(self, fn: Any, *args: Any) -> Any:
        t = time.time()
        fut = self.inner.submit(fn, *args)
        self.tasks.append((fut, t))
        return fut

    def wait_any(self, futures: list) -> list:
        done = self.inner.wait_any(futures)
        now = time.time()
        for f in done:
            self.received.setdefault(id(f), now)
        return done

    def summary(self) -> dict[str, float]:
        """Means over the tasks of :data:`summary`'s fields (see the module's docstring)."""
        rows = []
        for fut, submitted in self.tasks:
            _, start, end = fut.result()
            got = self.received[id(fut)]
            rows.append(dict(task_s=end - start, submit_to_result_s=got - submitted, dispatch_s=start - submitted,
                             return_s=got - end, overhead_s=(got - submitted) - (end - start)))
        return {k: round(statistics.fmean(r[k] for r in rows), 4) for k in rows[0]} | {"tasks": len(rows)}


def measure(cluster: str, seeds: tuple[int, ...], workdir: Path) -> dict[str, Any]:
    """Time the benchmark run on ``cluster`` (after a warm-up run on the same executor)."""
    from pola_nb.sampled.cluster import open_cluster
    from pola_nb.sampled.config import preset_config
    from pola_nb.sampled.training import train

    cfg = preset_config("ipd", "pola-dice", "quick", **SETTINGS, seeds=seeds)
    warm = preset_config("ipd", "pola-dice", "quick", **(SETTINGS | dict(outer_steps=1, updates=1)), seeds=seeds)
    t0 = time.perf_counter()
    with open_cluster(cluster) as executor:
        start_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        train(workdir / f"warm_{cluster.replace(':', '_')}.h5", warm, force=True, cluster=executor)
        warmup_s = time.perf_counter() - t0
        timed = TimedExecutor(executor)
        t0 = time.perf_counter()
        train(workdir / f"run_{cluster.replace(':', '_')}.h5", cfg, force=True, cluster=timed)
        run_s = time.perf_counter() - t0
        per_task = timed.summary()
    n = cfg.updates * len(cfg.seeds)
    return dict(cluster=cluster, seed_updates=n, run_s=round(run_s, 3), updates_per_min=round(60 * n / run_s, 2),
                start_s=round(start_s, 3), warmup_s=round(warmup_s, 3), per_task=per_task)


def measure_old_pool(seeds: tuple[int, ...], workdir: Path) -> dict[str, Any]:
    """The benchmark run with ``train(..., workers=2)`` of the revision this process imports (the
    process pool that Dask replaced; ``preset_config`` then lived in ``training``)."""
    from pola_nb.sampled import training

    cfg = training.preset_config("ipd", "pola-dice", "quick", **SETTINGS, seeds=seeds)
    warm = training.preset_config("ipd", "pola-dice", "quick", **(SETTINGS | dict(outer_steps=1, updates=1)),
                                  seeds=seeds)
    t0 = time.perf_counter()
    training.train(workdir / "warm_pool.h5", warm, force=True, workers=2)
    warmup_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    training.train(workdir / "run_pool.h5", cfg, force=True, workers=2)
    run_s = time.perf_counter() - t0
    n = cfg.updates * len(cfg.seeds)
    return dict(workers=2, seed_updates=n, run_s=round(run_s, 3), updates_per_min=round(60 * n / run_s, 2),
                warmup_s=round(warmup_s, 3), code=str(Path(training.__file__).resolve().parents[2]))


def time_baseline(rev: str, seeds: int, tmp: Path) -> dict[str, Any]:
    """:func:`measure_old_pool` in a fresh process importing revision ``rev``."""
    from update_step import extract_revision

    (tmp / "code").mkdir()
    env = extract_revision(rev, tmp / "code")
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--old-pool", "--seeds", str(seeds),
                          "--hidden", str(SETTINGS["hidden"]), "--batch-size", str(SETTINGS["batch_size"])],
                         check=True, capture_output=True, text=True, env=env, cwd=tmp).stdout
    r = json.loads(out.strip().splitlines()[-1])
    if Path(r.pop("code")) != (tmp / "code").resolve():
        raise SystemExit("the baseline did not import the extracted revision")
    return {"rev": rev} | r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=2, help="Dask worker processes of the second run")
    ap.add_argument("--seeds", type=int, default=4)
    ap.add_argument("--hidden", type=int, default=SETTINGS["hidden"])
    ap.add_argument("--batch-size", type=int, default=SETTINGS["batch_size"])
    ap.add_argument("--baseline", metavar="REV", help="also time REV's train(..., workers=2) (the old pool)")
    ap.add_argument("--old-pool", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    seeds = tuple(range(1, args.seeds + 1))
    SETTINGS.update(hidden=args.hidden, batch_size=args.batch_size)
    from pola_nb.sampled.process import training_process

    training_process()  # as ``pola train`` does: one BLAS and one numba thread in the client too
    if args.old_pool:
        with tempfile.TemporaryDirectory() as d:
            print(json.dumps(measure_old_pool(seeds, Path(d))))
        return
    before = os.getloadavg()
    with tempfile.TemporaryDirectory() as d:
        here = measure("local:1", seeds, Path(d))
        dask = measure(f"local:{args.workers}", seeds, Path(d))
        old = time_baseline(args.baseline, args.seeds, Path(d)) if args.baseline else None
    out = dict(config=dict(game="ipd", algo="pola-dice", preset="quick", **SETTINGS, seeds=len(seeds)),
               machine=dict(cpus=os.cpu_count(), python=platform.python_version()),
               loadavg_before=[round(x, 2) for x in before], in_process=here, dask=dask,
               speedup=round(dask["updates_per_min"] / here["updates_per_min"], 3))
    if old:
        out |= dict(baseline=old, speedup_vs_baseline=round(dask["updates_per_min"] / old["updates_per_min"], 3))
    out["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
