"""Backends: where arrays live and how a kernel is launched (CPU ``prange`` or a CUDA grid).

A backend object has the same small interface on both targets, so the rollout driver is written
once::

    be = get_backend("cpu")            # or "cuda"
    x = be.to_device(host_array)       # identity on the CPU
    y = be.empty((T, B, 2), np.int8)   # numpy array or CUDA device array
    be.launch(be.coin.rollout, B, *args, steps=T)
    host = be.to_host(y)               # identity on the CPU

``be.ipd`` / ``be.coin`` hold the compiled kernels of :mod:`pola_kernels.ipd` and
:mod:`pola_kernels.coin` for that target. This module does not check whether a GPU exists;
callers validate the backend name first (``pola_nb.backends.check_backend``).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
from pola_kernels import coin, config, ipd


class CPUBackend:
    name = "cpu"

    def __init__(self) -> None:
        self.ipd = ipd.kernels("cpu")
        self.coin = coin.kernels("cpu")

    @staticmethod
    def to_device(x: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(x)

    @staticmethod
    def to_host(x: np.ndarray) -> np.ndarray:
        return x

    @staticmethod
    def empty(shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        return np.empty(shape, dtype=dtype)

    @staticmethod
    def launch(kernel: Any, batch: int, *args: Any, steps: int = 1) -> None:
        """Run ``kernel`` (a ``.parallel`` / ``.serial`` pair) over ``batch`` envs for ``steps`` steps."""
        big = batch * steps >= config.CPU_PARALLEL_MIN_WORK
        (kernel.parallel if big else kernel.serial)(*args)

    @staticmethod
    def synchronize() -> None:
        pass


class CUDABackend:
    name = "cuda"

    def __init__(self) -> None:
        from numba import cuda

        self._cuda = cuda
        self.ipd = ipd.kernels("cuda")
        self.coin = coin.kernels("cuda")

    def to_device(self, x: np.ndarray) -> Any:
        return self._cuda.to_device(np.ascontiguousarray(x))

    @staticmethod
    def to_host(x: Any) -> np.ndarray:
        return x.copy_to_host()

    def empty(self, shape: tuple[int, ...], dtype: Any) -> Any:
        return self._cuda.device_array(shape, dtype=dtype)

    @staticmethod
    def launch(kernel: Any, batch: int, *args: Any, steps: int = 1) -> None:
        """Launch ``kernel`` with one thread per env (grid-stride beyond ``MAX_BLOCKS`` blocks)."""
        tpb = config.THREADS_PER_BLOCK
        blocks = max(1, min(-(-batch // tpb), config.MAX_BLOCKS))
        kernel[blocks, tpb](*args)

    def synchronize(self) -> None:
        self._cuda.synchronize()


@functools.cache
def get_backend(name: str) -> CPUBackend | CUDABackend:
    """The backend object for ``name`` in {"cpu", "cuda"} (created once per process)."""
    if name == "cpu":
        return CPUBackend()
    if name == "cuda":
        return CUDABackend()
    raise ValueError(f"unknown backend {name!r}")
