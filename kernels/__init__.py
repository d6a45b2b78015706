"""pola_kernels: batched environment kernels (numba CPU and CUDA) for the sampled games.

Modules:
    config   -- numba options, CUDA launch shape, fixed-strategy ids (one place)
    common   -- scalar helpers shared by the games (exact uniform -> integer map)
    ipd      -- IPD with full history: scalar bodies + reset / advance / rollout kernels
    coin     -- Coin Game on an N x N torus: scalar bodies + reset / advance / rollout kernels
    backend  -- ``get_backend("cpu" | "cuda")``: array placement and kernel launch
    gru      -- fused GRU cell kernels (forward, VJP, second order; CPU)
    grouped  -- products of row groups with one weight matrix per group (CPU)

Every game step is written once as plain Python scalar functions and compiled twice: with
``numba.njit`` (called from ``prange`` loops over the batch) and with ``numba.cuda.jit(device=True)``
(called from grid-stride kernels); see ``pola_kernels._compile``. The kernels take pre-drawn
float32 uniforms, so CPU and CUDA runs on the same uniforms are bit-identical. numba only:
no autograd, no I/O. Importing this package is cheap; numba loads with the first backend.
"""

from __future__ import annotations

from typing import Any

__all__ = ["get_backend"]


def get_backend(name: str) -> Any:
    """``pola_kernels.backend.get_backend`` (imported lazily so that numba loads on first use)."""
    from pola_kernels.backend import get_backend as _get

    return _get(name)
