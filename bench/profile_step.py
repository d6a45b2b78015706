"""Where the time of one POLA-DiCE outer step or LOQA update goes: cProfile, grouped; prints one JSON object.

Usage: ``python bench/profile_step.py [--game ipd|coin] [--batch B] [--inner-steps K] [--by-shape]``
(defaults: the paper's IPD settings, B 2000, K_in 2; the Coin Game's are B 1000, K_in 4), or
``python bench/profile_step.py --algo loqa [--population K] [--grid N]``: one LOQA update at the
official Coin Game settings against a population of ``K`` snapshots (default 100), as
``bench/loqa_step.py`` times it.

``--by-shape`` adds ``products``: one more step (without cProfile) with every matrix product timed
by kind (``nn`` ``x @ w``, ``nt`` ``g @ w.T``, ``tn`` ``x.T @ g`` over all leading axes, ``into`` the
sampler's ``x @ w``) and operand shapes (leading axes flattened), with calls, seconds and GFLOP/s,
the most expensive first.

The step runs once to warm up, then once under cProfile, single-threaded as in training. Each
function's own time (``tottime``) goes to one group:

- ``matrix_products``: the BLAS calls (``mm_nn``, ``mm_nt``, ``mm_tn``, ``mm_into`` in ``fused.py``);
- ``cell_kernels``: the fused GRU cell kernels of ``pola_kernels.gru``;
- ``population_products``: the population's grouped products (``pola_kernels.grouped``);
- ``rollout_kernels``: the game kernels of ``pola_kernels.ipd`` / ``pola_kernels.coin``;
- ``autograd``: autograd's tracing and backward-pass bookkeeping, including the numpy ufuncs it
  calls for the graph's small elementwise nodes (cProfile books a ufunc's time to its caller);
- ``numpy_other``: numpy functions and reductions called directly (sums, stacking, allocation);
- ``python_other``: the rest (this library's Python code around the calls).

cProfile adds a few percent of overhead per Python call, most of it to ``autograd``.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import math
import os
import pstats
import time


def group(filename: str, name: str) -> str:
    if filename.endswith("fused.py") and name in ("mm_nn", "mm_nt", "mm_tn", "mm_into"):
        return "matrix_products"
    folder, base = os.path.split(filename)
    if os.path.basename(folder) in ("kernels", "pola_kernels"):
        return {"gru.py": "cell_kernels", "grouped.py": "population_products"}.get(base, "rollout_kernels")
    if "autograd" in filename:
        return "autograd"
    if "numpy" in filename or filename == "~":
        return "numpy_other"
    return "python_other"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--algo", choices=("pola-dice", "loqa"), default="pola-dice")
    ap.add_argument("--game", choices=("ipd", "coin"), default="ipd")
    ap.add_argument("--population", type=int, default=100, help="LOQA: snapshots in the opponent population")
    ap.add_argument("--grid", type=int, default=3, help="LOQA: Coin Game grid size")
    ap.add_argument("--batch", type=int)
    ap.add_argument("--inner-steps", type=int)
    ap.add_argument("--by-shape", action="store_true", help="also time every matrix product by shape")
    args = ap.parse_args()
    if args.algo == "loqa":
        step, out = _loqa_step(args)
    else:
        step, out = _pola_dice_step(args)

    step()
    t = time.perf_counter()
    step()
    plain = time.perf_counter() - t
    prof = cProfile.Profile()
    prof.runcall(step)
    stats = pstats.Stats(prof).stats
    groups: dict[str, float] = {}
    for (filename, _, name), (_, _, tottime, _, _) in stats.items():
        key = group(filename, name)
        groups[key] = groups.get(key, 0.0) + tottime
    total = sum(groups.values())
    out |= {"s_per_step": round(plain, 3), "profiled_s": round(total, 3),
           "fraction": {k: round(v / total, 3) for k, v in sorted(groups.items(), key=lambda kv: -kv[1])},
           "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}
    if args.by_shape:
        from pola_nb.sampled import fused

        fused.SHAPES = {}
        step()
        rows = sorted(fused.SHAPES.items(), key=lambda kv: -kv[1][2])
        fused.SHAPES = None
        out["products"] = [{"kind": kind, "a": list(_flat_shape(a)), "b": list(_flat_shape(b)), "calls": n,
                            "s": round(s, 4), "gflops": round(f / s / 1e9, 1)}
                           for (kind, a, b), (n, f, s) in rows]
    print(json.dumps(out))


def _pola_dice_step(args: argparse.Namespace):
    """One POLA-DiCE outer step's gradient at the paper preset (a closure) and the settings."""
    batch = args.batch or (2000 if args.game == "ipd" else 1000)
    inner = args.inner_steps or (2 if args.game == "ipd" else 4)

    import numpy as np
    from autograd import grad

    from pola_nb.sampled import tree
    from pola_nb.sampled.config import preset_config
    from pola_nb.sampled.learners import game_rollout, outer_loss
    from pola_nb.sampled.process import training_process

    training_process()
    cfg = preset_config(args.game, "pola-dice", "paper", batch_size=batch, inner_steps=inner)
    game, arch, hp = cfg.make_game(), cfg.architecture(), cfg.hp
    rng = np.random.default_rng(0)
    agents = (arch.init(rng), arch.init(rng))
    rollout = game_rollout(game)
    cur = tree.copy(agents[0])

    def step():
        grad(outer_loss, 1)(arch, cur, agents[0]["pol"], agents[1], 0, hp, rollout, rng)

    return step, {"algo": "pola-dice", "game": args.game, "batch": batch, "inner_steps": inner}


def _loqa_step(args: argparse.Namespace):
    """One LOQA update at the paper preset against ``args.population`` snapshots (a closure) and the settings."""
    from loqa_step import fixed_population_update  # this folder's LOQA benchmark (the script's folder is on sys.path)

    from pola_nb.sampled.process import pinned_numba_threads, training_process

    training_process()
    cfg, update = fixed_population_update(args.population, args.grid)

    def step():
        with pinned_numba_threads(1):
            update()

    return step, {"algo": "loqa", "game": "coin", "grid": args.grid, "batch": cfg.hp.batch_size,
                  "population": args.population}


def _flat_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    """``(..., n)`` with the leading axes multiplied out (matrices stay as they are)."""
    return (math.prod(shape[:-1]), shape[-1]) if len(shape) > 1 else shape


if __name__ == "__main__":
    main()
