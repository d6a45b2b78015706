"""Central settings of the kernels: numba options, CUDA launch shape, strategy ids.

Everything a kernel module needs to agree on lives here, so CPU and CUDA code cannot drift.
Launch settings are read at every launch (not at import), so tests can shrink thread blocks::

    from pola_kernels import config
    config.THREADS_PER_BLOCK, config.MAX_BLOCKS = 4, 3   # several blocks and grid-stride loops
"""

from __future__ import annotations

import os

# numba options for CPU kernels. Caching can go stale when a *different* file that a kernel
# inlines changes (numba tracks only the kernel's own file); set POLA_NUMBA_CACHE=0 when
# editing kernels/common.py.
CACHE = os.environ.get("POLA_NUMBA_CACHE", "1") != "0"
FASTMATH = True
CPU_DEVICE_OPTIONS = dict(cache=CACHE, fastmath=FASTMATH, error_model="numpy", inline="always")
CPU_KERNEL_OPTIONS = dict(cache=CACHE, fastmath=FASTMATH, error_model="numpy", parallel=True)
CPU_SERIAL_KERNEL_OPTIONS = dict(cache=CACHE, fastmath=FASTMATH, error_model="numpy")
# Calls with fewer env-steps than this run on one thread: waking the worker threads costs more
# than it saves for small batches, and on a loaded machine a sleeping worker can take
# milliseconds to get a core (a T = 50, B = 1000 Coin Game rollout takes ~1 ms on one core).
CPU_PARALLEL_MIN_WORK = 200_000
CUDA_DEVICE_OPTIONS = dict(device=True, fastmath=FASTMATH)
CUDA_KERNEL_OPTIONS = dict(fastmath=FASTMATH)

# CUDA launch: blocks = min(ceil(B / THREADS_PER_BLOCK), MAX_BLOCKS); kernels loop grid-stride.
THREADS_PER_BLOCK = 128
MAX_BLOCKS = 65535

# Fixed-strategy ids understood by the kernels. EXTERNAL = the action comes from the caller.
EXTERNAL = -1
ALLD = 0  # IPD: always defect; Coin Game: greedy shortest path to the coin
ALLC = 1  # IPD: always cooperate; Coin Game: go for own-colour coins, step away from others
TFT = 2  # IPD: copy the opponent's previous action (C first); Coin Game: the official code's TFT-like mode
RANDOM = 3  # uniformly random action

# Coin Game TFT modes
MODE_COOP = 0
MODE_DEFECT = 1

# Uniforms per env and step: [agent 1, agent 2, environment]; see pola_nb.sampled.rollout.
U_PER_STEP = 3
