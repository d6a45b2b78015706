"""Compile plain-Python scalar bodies once per target (CPU ``njit`` and CUDA device functions).

A game module writes its per-environment logic as ordinary Python functions that call each
other by global name. :func:`compile_module` copies those functions into a fresh globals
dictionary in which every listed name is replaced by its compiled version for one target, so
the *same* source becomes a set of CPU functions and a set of CUDA device functions. Kernel
wrappers (the only target-specific code: ``prange`` loop vs grid-stride loop) are compiled the
same way and see the target's bodies.

Copies are plain (non-closure) functions, so numba's on-disk cache works for the CPU kernels.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from types import FunctionType, SimpleNamespace


def _rebind(fn: FunctionType, namespace: dict, name: str | None = None) -> FunctionType:
    new = FunctionType(fn.__code__, namespace, fn.__name__, fn.__defaults__, fn.__closure__)
    # numba names its cache files after the qualname: distinct names for distinct compilations
    new.__qualname__ = name or fn.__qualname__
    new.__module__ = fn.__module__
    new.__doc__ = fn.__doc__
    return new


def compile_module(
    module_globals: dict,
    scalars: Iterable[str],
    device_jit: Callable,
    kernels: Mapping[str, tuple[str, Callable]],
) -> SimpleNamespace:
    """Compile ``scalars`` with ``device_jit``; ``kernels`` maps an output name to
    ``(function name, kernel_jit)`` (one function may be compiled several ways).

    Returns a namespace holding the compiled scalars and kernels under their names.
    Compilation itself stays lazy (numba compiles on the first call).
    """
    ns = dict(module_globals)
    out = {}
    for name in scalars:
        ns[name] = out[name] = device_jit(_rebind(module_globals[name], ns))
    for out_name, (name, kernel_jit) in kernels.items():
        out[out_name] = kernel_jit(_rebind(module_globals[name], ns, out_name))
    return SimpleNamespace(**out)


KERNEL_NAMES = ("reset", "advance", "rollout", "rollout_pairs")


def compile_game_kernels(module_globals: dict, scalars: Iterable[str], target: str) -> SimpleNamespace:
    """A game module's kernels ``reset``, ``advance``, ``rollout``, ``rollout_pairs`` for ``target`` in
    {"cpu", "cuda"}.

    The module defines ``<name>_cpu`` (a ``prange`` loop) and ``<name>_cuda`` (a grid-stride loop)
    for each kernel name. On the CPU each kernel is a pair ``.parallel`` / ``.serial`` (the same loop
    compiled with and without ``parallel=True``); the backend picks one by the amount of work.
    The result also holds the compiled scalar bodies as ``.scalars``.
    """
    from numba import njit
    from pola_kernels import config

    if target == "cpu":
        par, ser = njit(**config.CPU_KERNEL_OPTIONS), njit(**config.CPU_SERIAL_KERNEL_OPTIONS)
        jobs = {f"{n}_cpu": (f"{n}_cpu", par) for n in KERNEL_NAMES}
        jobs.update({f"{n}_cpu_serial": (f"{n}_cpu", ser) for n in KERNEL_NAMES})
        ns = compile_module(module_globals, scalars, njit(**config.CPU_DEVICE_OPTIONS), jobs)
        pairs = {n: SimpleNamespace(parallel=getattr(ns, f"{n}_cpu"), serial=getattr(ns, f"{n}_cpu_serial"))
                 for n in KERNEL_NAMES}
        return SimpleNamespace(**pairs, scalars=ns)
    from numba import cuda

    kern = cuda.jit(**config.CUDA_KERNEL_OPTIONS)
    ns = compile_module({**module_globals, "cuda": cuda}, scalars, cuda.jit(**config.CUDA_DEVICE_OPTIONS),
                        {f"{n}_cuda": (f"{n}_cuda", kern) for n in KERNEL_NAMES})
    return SimpleNamespace(**{n: getattr(ns, f"{n}_cuda") for n in KERNEL_NAMES}, scalars=ns)
