"""Settings of the processes that run the second-order updates: one BLAS and one numba thread, and
freed memory kept for reuse.

- **One thread.** The matrices of the updates are small, and on a shared machine a second BLAS
  thread spins against other processes (measured: (1000, 64) @ (64, 192) runs at ~55 GFLOP/s with
  one thread and ~2 GFLOP/s with two contending ones). Use the second core for the other agent or
  another seed instead. The thread count also decides how OpenBLAS splits a product with a long
  contraction axis (the weight gradients ``x.T @ g`` over all ``T * B`` rows) and so how its float32
  partial sums round: an update pins it with :func:`pinned_blas_threads`, so that it gives the same
  bits in any process.
- **Keep freed memory.** An update allocates and frees the same large arrays (a GRU sequence of
  50 × 2000 × 192 float32 is 77 MB) thousands of times. glibc serves blocks above 32 MB with a fresh
  ``mmap`` and returns them with ``munmap``, so every such array costs page faults and page zeroing
  in the kernel: 35 % of an IPD outer step at B = 2000 was system time. :func:`keep_freed_memory`
  tells glibc to serve everything from its heap and never give it back, so the arrays of one outer
  step reuse the memory of the previous one (same peak memory, 7.5 s instead of 11.8 s per step).
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Iterator
from contextlib import contextmanager

_NAMES = ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads_64_",
          "openblas_set_num_threads64_", "openblas_set_num_threads")
_GET_NAMES = ("scipy_openblas_get_num_threads64_", "scipy_openblas_get_num_threads_64_",
              "openblas_get_num_threads64_", "openblas_get_num_threads")
# glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_MAX = -1, -2, -4


def _openblas_libraries() -> list[ctypes.CDLL]:
    """Every OpenBLAS library loaded in this process (numpy's first: it is loaded here if needed)."""
    import numpy  # noqa: F401  (make sure numpy's BLAS is loaded)

    try:
        with open("/proc/self/maps") as f:
            paths = sorted({line.split()[-1] for line in f if "openblas" in line.lower() and ".so" in line})
    except OSError:
        return []
    libs = []
    for path in paths:
        try:
            libs.append(ctypes.CDLL(path))
        except OSError:
            continue
    return libs


def _first(lib: ctypes.CDLL, names: tuple[str, ...]):
    return next((fn for fn in (getattr(lib, n, None) for n in names) if fn is not None), None)


def limit_blas_threads(n: int = 1) -> bool:
    """Set the thread count of every loaded OpenBLAS library; False if none was found."""
    done = False
    for lib in _openblas_libraries():
        fn = _first(lib, _NAMES)
        if fn is not None:
            fn(ctypes.c_int(n))
            done = True
    return done


def blas_thread_counts() -> list[int]:
    """The thread count of every loaded OpenBLAS library (empty where none is found)."""
    counts = []
    for lib in _openblas_libraries():
        fn = _first(lib, _GET_NAMES)
        if fn is not None:
            counts.append(int(fn()))
    return counts


@contextmanager
def pinned_blas_threads(n: int = 1) -> Iterator[None]:
    """Run the block with ``n`` BLAS threads, then restore the process's previous count.

    A float32 product with a long contraction axis, e.g. a weight gradient ``x.T @ g`` summed over
    all ``T * B`` rows, is split across threads by OpenBLAS, and the partial sums are added in an
    order that depends on the thread count. An update must therefore fix the count itself: a
    process that did not call :func:`training_process` (the caller of an in-process update) would
    otherwise round differently from a worker process.
    """
    before = blas_thread_counts()
    limit_blas_threads(n)
    try:
        yield
    finally:
        if before and any(c != n for c in before):
            limit_blas_threads(max(before))


def keep_freed_memory() -> bool:
    """glibc only: no ``mmap`` for large blocks, no trimming of the heap (see the module docstring).

    Peak memory is unchanged; memory freed after the peak stays with the process until it exits.
    Returns False (and changes nothing) where the C library has no ``mallopt``.
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_MAX, 0) and mallopt(_M_TRIM_THRESHOLD, -1) and mallopt(_M_TOP_PAD, 256 << 20))


def one_numba_thread() -> None:
    """One numba thread for the parallel loops started from the calling thread (numba's setting is
    per thread: a task that runs in a worker's executor thread must set it there)."""
    try:
        import numba

        numba.set_num_threads(1)
    except Exception:  # numba's threading layer may refuse; the rollouts then stay parallel
        pass


@contextmanager
def pinned_numba_threads(n: int = 1) -> Iterator[None]:
    """Run the block with ``n`` numba threads in the calling thread, then restore its previous count."""
    try:
        import numba

        before = numba.get_num_threads()
        numba.set_num_threads(n)
    except Exception:  # numba's threading layer may refuse; the rollouts then stay parallel
        yield
        return
    try:
        yield
    finally:
        numba.set_num_threads(before)


def single_threaded() -> None:
    """One BLAS thread in this process and one numba thread in the calling thread."""
    limit_blas_threads(1)
    one_numba_thread()


def training_process() -> None:
    """Everything a process that runs updates needs: :func:`single_threaded` and :func:`keep_freed_memory`."""
    single_threaded()
    keep_freed_memory()


def worker_init() -> None:
    """Initializer of worker processes: :func:`training_process`, and (Linux) terminated with their
    parent, so that killing a training run never leaves workers behind."""
    training_process()
    try:
        import signal

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
