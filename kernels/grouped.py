"""Matrix products of row groups with one weight matrix per group (a population's dense layers).

:func:`grouped_matmul` computes ``out[r] = x[r] @ w[g]`` for the rows ``r`` of group ``g``, rows
sorted by group (``bounds[g] <= r < bounds[g + 1]``). A population of snapshots that plays a
batch of episodes has one or two rows per snapshot; BLAS spends most of such a small product
packing the ``(k, n)`` weight matrix, and one BLAS call per group costs a Python call too. Here each
weight row ``w[g, k]`` is read once and added, times ``x[r, k]``, to every row of its group, the
sum over ``k`` in increasing order (no reassociation: the result does not depend on vector width,
only on FMA contraction, which the GRU kernels allow too). float32 in, float32 out; C-contiguous.
"""

from __future__ import annotations

from numba import njit
from pola_kernels import config
from pola_kernels.gru import FASTMATH  # the GRU kernels' flags: no reassociation


@njit(cache=config.CACHE, fastmath=set(FASTMATH), error_model="numpy")
def grouped_matmul(x, w, bounds, out):
    """``out[r] = x[r] @ w[g]`` for ``bounds[g] <= r < bounds[g + 1]``: ``x`` ``(R, k)``, ``w``
    ``(G, k, n)``, ``bounds`` ``(G + 1,)`` int64 increasing from 0 to ``R``, ``out`` ``(R, n)``."""
    G, K, N = w.shape
    for g in range(G):
        lo, hi = bounds[g], bounds[g + 1]
        for r in range(lo, hi):
            for j in range(N):
                out[r, j] = 0.0
        for k in range(K):
            for r in range(lo, hi):
                a = x[r, k]
                for j in range(N):
                    out[r, j] += a * w[g, k, j]
