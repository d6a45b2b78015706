"""``pola info``: versions, numba threading, BLAS, the GRU cell kernels, available backends."""

from __future__ import annotations

import json

import typer

from pola_nb.cli.app import app


def collect_info() -> dict:
    """Versions of the stack, numba's threading layer and thread count, and which backends work."""
    from importlib.metadata import version

    import h5py
    import numba
    import numpy as np
    import scipy

    from pola_nb._version import __version__
    from pola_nb.backends import available_backends

    @numba.njit(parallel=True)
    def _touch(n):  # compiling one parallel function initialises the threading layer
        s = 0
        for i in numba.prange(n):
            s += i
        return s

    _touch(4)
    from pola_kernels import gru

    return {
        "pola_nb": __version__,
        "numpy": np.__version__,
        "numba": numba.__version__,
        "autograd": version("autograd"),
        "scipy": scipy.__version__,
        "h5py": h5py.__version__,
        "numba_threading_layer": numba.threading_layer(),
        "numba_threads": numba.get_num_threads(),
        "blas": _blas(),
        "gru_cell_kernels": gru.describe(),
        "backends": available_backends(),
    }


def _blas() -> str:
    """numpy's BLAS library and version, as numpy reports them."""
    import numpy as np

    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{blas['name']} {blas.get('version', '')}".strip()
    except Exception:  # numpy < 1.26 has no dict mode
        return "unknown"


@app.command()
def info(as_json: bool = typer.Option(False, "--json", help="Print one JSON object.")) -> None:
    """Show versions, numba's threading layer and threads, and which backends (cpu, cuda) work."""
    data = collect_info()
    if as_json:
        print(json.dumps(data))
        return
    for k, v in data.items():
        if k == "backends":
            for name, status in v.items():
                print(f"{'backend ' + name:24s} {status}")
        else:
            print(f"{k:24s} {v}")
