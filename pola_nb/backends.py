"""Which compute backends work on this machine (cpu always; cuda when a usable GPU is present)."""

from __future__ import annotations

from pola_nb.errors import require

BACKENDS = ("cpu", "cuda")


def cuda_status() -> str:
    """``"available (<device name>)"`` or ``"unavailable (<reason>)"``."""
    try:
        from numba import cuda

        if cuda.is_available():
            name = getattr(cuda.get_current_device(), "name", "CUDA simulator")  # the simulator has no name
            return f"available ({name.decode() if isinstance(name, bytes) else name})"
        return "unavailable (no CUDA GPU or driver found)"
    except Exception as e:  # numba-cuda raises various errors when no driver exists
        return f"unavailable ({type(e).__name__})"


def available_backends() -> dict[str, str]:
    return {"cpu": "available", "cuda": cuda_status()}


def check_backend(backend: str) -> str:
    """Validate a backend name and that it works here; raise PolaUsageError otherwise."""
    require(backend in BACKENDS, f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if backend == "cuda":
        status = cuda_status()
        require(status.startswith("available"), f"backend 'cuda' is not usable here: {status}")
    return backend
