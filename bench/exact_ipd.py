"""Benchmark of the exact-IPD reproductions: wall time of the full Figure 3 sweep and of Figure 1.

Prints one JSON object. The baseline measured in the same run is a single run (one repeat, one cf)
of each Figure 3 method: the batched sweep's time divided by it shows what batching buys.

    python bench/exact_ipd.py            # full sweep: 6 methods x 5 cf x 20 repeats
    python bench/exact_ipd.py --quick    # the --quick configuration
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np

from pola_nb.exact import experiments as ex


def timed_sweep(methods, cfs, repeats) -> tuple[float, dict]:
    start = time.perf_counter()
    per_method, fractions = {}, {}
    for m in methods:
        res = ex.run_method(m, cfs, repeats)
        per_method[m.name] = round(res.seconds, 2)
        fractions[m.name] = dict(zip([f"{c:g}" for c in cfs], np.round(res.fraction_tft(), 3).tolist(), strict=True))
    return time.perf_counter() - start, {"seconds": per_method, "fraction_tft": fractions}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    methods = ex.fig3_methods()
    cfs, repeats = ex.PAPER_CFS, 20
    if args.quick:
        methods, cfs, repeats = ex.quick(methods, 10, 400), (1.1, 1.33, 1.6), 3

    t_fig1, _ = timed_sweep(ex.fig1_methods(), (1.33,), 1)
    t_sweep, details = timed_sweep(methods, cfs, repeats)
    t_single, _ = timed_sweep(methods, (1.33,), 1)
    n_runs = len(methods) * len(cfs) * repeats
    print(json.dumps({
        "fig3_sweep_s": round(t_sweep, 2),
        "fig3_runs": n_runs,
        "fig3_single_run_per_method_s": round(t_single, 2),
        "batching_speedup_vs_sequential": round(t_single * len(cfs) * repeats / t_sweep, 1),
        "fig1_s": round(t_fig1, 2),
        "per_method_s": details["seconds"],
        "fraction_tft": details["fraction_tft"],
        "quick": args.quick,
        "cpu_count": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
    }))


if __name__ == "__main__":
    main()
