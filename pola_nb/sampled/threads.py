"""Keep OpenBLAS single-threaded: the matrices of the updates are small, and on a shared machine
a second BLAS thread spins against other processes (measured: (1000, 64) @ (64, 192) runs at
~55 GFLOP/s with one thread and ~2 GFLOP/s with two contending ones)."""

from __future__ import annotations

import ctypes

_NAMES = ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads_64_",
          "openblas_set_num_threads64_", "openblas_set_num_threads")


def limit_blas_threads(n: int = 1) -> bool:
    """Set the thread count of every loaded OpenBLAS library; False if none was found."""
    import numpy  # noqa: F401  (make sure numpy's BLAS is loaded)

    done = False
    try:
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1] for line in f if "openblas" in line.lower() and ".so" in line}
    except OSError:
        return False
    for path in libs:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for name in _NAMES:
            fn = getattr(lib, name, None)
            if fn is not None:
                fn(ctypes.c_int(n))
                done = True
                break
    return done


def single_threaded() -> None:
    """One BLAS thread and one numba thread in this process (ARCHITECTURE: one thread per worker;
    use the second core for a second seed or the other agent, not for tiny parallel loops)."""
    limit_blas_threads(1)
    try:
        import numba

        numba.set_num_threads(1)
    except Exception:  # numba's threading layer may refuse; the rollouts then stay parallel
        pass


def worker_init() -> None:
    """Initializer of worker processes: single-threaded, and (Linux) terminated with their parent,
    so that killing a training run never leaves workers behind."""
    single_threaded()
    try:
        import signal

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
