"""Throughput of the rollout kernels; prints one JSON object.

    python bench/kernels.py            # full run (about a minute on 2 cores)
    python bench/kernels.py --quick    # fewer repeats

Measured in one process, on the same pre-drawn float32 uniforms (layout of
``pola_nb.sampled.rollout``), with uniformly random actions for both agents:

- numba CPU kernels (whole rollout in one call), kernel time only; as the driver launches them:
  ``prange`` over the batch from ``config.CPU_PARALLEL_MIN_WORK`` env-steps on, one thread below;
- the same through ``rollout()`` end to end (drawing the uniforms, allocating, copying back);
- the vectorised numpy twin of the game (``tests/reference_games.py``) as the baseline;
- CUDA kernels on device-resident uniforms and outputs, when a GPU is present.

Env-steps/s = B * T / seconds (one env-step = one joint action of both agents in one env).
Bytes per env-step count what the fused kernel must move: uniforms read (3 x 4 B for the Coin
Game, 2 x 4 B for the IPD) plus actions (2 x 1 B), rewards (2 x 4 B) and Coin Game pick-ups
(4 x 1 B) written; no observations (``keep_obs=False``). Memory bandwidth is a large numpy copy
(bytes read + bytes written per second) in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import reference_games as ref  # noqa: E402
from pola_kernels import config  # noqa: E402
from pola_kernels.coin import ring_table  # noqa: E402

from pola_nb.sampled import CoinGame, IPDHistory, rollout  # noqa: E402
from pola_nb.sampled.rollout import draw_uniforms, make_rng  # noqa: E402

T = 50
RANDOM = config.RANDOM
COIN_BYTES = 3 * 4 + 2 + 2 * 4 + 4
IPD_BYTES = 2 * 4 + 2 + 2 * 4


def timeit(fn, repeats: int, min_seconds: float = 0.0) -> dict:
    """Best and median wall time of ``fn()`` over at least ``repeats`` calls (after one warm-up)."""
    fn()
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < repeats or time.perf_counter() - start < min_seconds:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return {"best": min(times), "median": statistics.median(times), "n": len(times)}


def memory_bandwidth(quick: bool) -> float:
    """Bytes/s of ``dst[:] = src`` on 256 MiB arrays (read + write), best of several."""
    src = np.ones(64 * 2**20, np.float32)
    dst = np.empty_like(src)
    t = timeit(lambda: np.copyto(dst, src), 3 if quick else 8)
    return 2 * src.nbytes / t["best"]


def cpu_case(game, batch: int, repeats: int) -> dict:
    from pola_kernels import get_backend

    be = get_backend("cpu")
    u_reset, u_step = draw_uniforms(game, batch, T, make_rng(0))
    actions = np.empty((T, batch, 2), np.int8)
    rewards = np.empty((T, batch, 2), np.float32)
    pickups = np.empty((T, batch, 4), np.int8)
    if isinstance(game, CoinGame):
        obs = np.empty((1, 1, game.obs_dim), np.float32)
        ring = ring_table(game.grid)
        run = lambda: be.launch(be.coin.rollout, batch, game.grid, ring, False, RANDOM, RANDOM,  # noqa: E731
                                u_reset, u_step, actions, rewards, pickups, obs, obs, False, steps=T)
    else:
        obs = np.empty((1, 1, 6), np.float32)
        pay = game.payoff_table()
        run = lambda: be.launch(be.ipd.rollout, batch, False, RANDOM, RANDOM, pay, u_step,  # noqa: E731
                                actions, rewards, obs, obs, False, steps=T)
    kernel = timeit(run, repeats, min_seconds=0.5)
    e2e = timeit(lambda: rollout(game, "random", "random", batch, T, seed=1, keep_obs=False),
                 max(2, repeats // 4), min_seconds=0.5)
    return {"kernel": kernel, "end_to_end": e2e}


def numpy_case(game, batch: int, repeats: int) -> dict:
    u_reset, u_step = draw_uniforms(game, batch, T, make_rng(0))
    if isinstance(game, CoinGame):
        run = lambda: ref.coin_rollout(game.grid, "random", "random", u_reset, u_step, keep_obs=False)  # noqa: E731
    else:
        run = lambda: ref.ipd_rollout(game.cf, "random", "random", u_step, keep_obs=False)  # noqa: E731
    return timeit(run, repeats)


def cuda_case(game, batch: int, repeats: int) -> dict:
    from numba import cuda
    from pola_kernels import get_backend

    be = get_backend("cuda")
    u_reset, u_step = draw_uniforms(game, batch, T, make_rng(0))
    ur, us = be.to_device(u_reset), be.to_device(u_step)
    is_coin = isinstance(game, CoinGame)
    ring = be.to_device(ring_table(game.grid)) if is_coin else None
    pay = None if is_coin else be.to_device(game.payoff_table())
    actions = be.empty((T, batch, 2), np.int8)
    rewards = be.empty((T, batch, 2), np.float32)
    pickups = be.empty((T, batch, 4), np.int8)
    obs = be.empty((1, 1, game.obs_dim), np.float32)

    def run():
        if is_coin:
            be.launch(be.coin.rollout, batch, game.grid, ring, False, RANDOM, RANDOM, ur, us, actions, rewards,
                      pickups, obs, obs, False)
        else:
            be.launch(be.ipd.rollout, batch, False, RANDOM, RANDOM, pay, us, actions, rewards, obs, obs, False)
        cuda.synchronize()

    return {"kernel": timeit(run, repeats, min_seconds=0.5)}


def rate(batch: int, seconds: float) -> float:
    return batch * T / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    args = parser.parse_args()
    rep = 3 if args.quick else 10

    import numba

    from pola_nb.backends import cuda_status

    out: dict = {"T": T, "numba_threads": numba.get_num_threads(), "cpu_count": os.cpu_count(),
                 "load_average_1min": os.getloadavg()[0]}
    bw = memory_bandwidth(args.quick)
    out["memory_bandwidth_bytes_per_s"] = bw

    ipd, coin = IPDHistory(), CoinGame(grid=3)
    r = cpu_case(ipd, 2000, rep * 20)
    out["ipd_cpu_steps_per_s"] = rate(2000, r["kernel"]["best"])
    out["ipd_cpu_steps_per_s_median"] = rate(2000, r["kernel"]["median"])
    out["ipd_cpu_end_to_end_steps_per_s"] = rate(2000, r["end_to_end"]["best"])
    out["ipd_numpy_steps_per_s"] = rate(2000, numpy_case(ipd, 2000, rep)["best"])
    out["ipd_cpu_speedup_vs_numpy"] = out["ipd_cpu_steps_per_s"] / out["ipd_numpy_steps_per_s"]

    r = cpu_case(coin, 1000, rep * 20)
    out["coin_cpu_steps_per_s_b1000"] = rate(1000, r["kernel"]["best"])
    out["coin_cpu_end_to_end_steps_per_s_b1000"] = rate(1000, r["end_to_end"]["best"])
    out["coin_numpy_steps_per_s_b1000"] = rate(1000, numpy_case(coin, 1000, rep)["best"])
    out["coin_cpu_speedup_vs_numpy"] = out["coin_cpu_steps_per_s_b1000"] / out["coin_numpy_steps_per_s_b1000"]
    out["coin_cpu_end_to_end_speedup_vs_numpy"] = (out["coin_cpu_end_to_end_steps_per_s_b1000"]
                                                   / out["coin_numpy_steps_per_s_b1000"])

    numba.set_num_threads(1)  # per-core throughput, less sensitive to other load on a shared machine
    out["coin_cpu_steps_per_s_1thread"] = rate(100_000, cpu_case(coin, 100_000, rep)["kernel"]["best"])
    numba.set_num_threads(out["numba_threads"])
    r = cpu_case(coin, 100_000, rep)
    out["coin_cpu_steps_per_s"] = rate(100_000, r["kernel"]["best"])
    out["coin_cpu_steps_per_s_median"] = rate(100_000, r["kernel"]["median"])
    out["coin_cpu_end_to_end_steps_per_s"] = rate(100_000, r["end_to_end"]["best"])
    out["coin_numpy_steps_per_s_b100000"] = rate(100_000, numpy_case(coin, 100_000, 1)["best"])
    out["coin_bytes_per_step"] = COIN_BYTES
    out["ipd_bytes_per_step"] = IPD_BYTES
    out["coin_cpu_fraction_of_bandwidth"] = out["coin_cpu_steps_per_s"] * COIN_BYTES / bw

    out["cuda"] = cuda_status()
    if out["cuda"].startswith("available") and os.environ.get("NUMBA_ENABLE_CUDASIM") != "1":
        for batch in (100_000, 1_000_000):
            suffix = "" if batch == 100_000 else "_b1000000"
            out["coin_cuda_steps_per_s" + suffix] = rate(batch, cuda_case(coin, batch, rep)["kernel"]["best"])
            out["ipd_cuda_steps_per_s" + suffix] = rate(batch, cuda_case(ipd, batch, rep)["kernel"]["best"])
        out["coin_cuda_bytes_per_s"] = out["coin_cuda_steps_per_s_b1000000"] * COIN_BYTES
    print(json.dumps(out))


if __name__ == "__main__":
    main()
