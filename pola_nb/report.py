"""Summaries and plots of results files, looked up by the file's ``kind`` attribute.

A module that writes a kind of results file registers how to summarise it (a JSON-ready dict) and
how to plot it with :func:`register`; ``pola summary`` and ``pola plot`` then work on any file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import h5py

from pola_nb.errors import PolaUsageError


@dataclass(frozen=True)
class Reporter:
    summary: Callable[[h5py.File], dict]
    table: Callable[[dict], str]
    plot: Callable[[h5py.File, str], None]


_REPORTERS: dict[str, Reporter] = {}


def register(kind: str, reporter: Reporter) -> None:
    _REPORTERS[kind] = reporter


def reporter_for(f: h5py.File) -> Reporter:
    _load_builtin()
    kind = str(f.attrs["kind"])
    if kind not in _REPORTERS:
        raise PolaUsageError(f"no summary is known for results of kind {kind!r}")
    if f.attrs.get("status") == "failed":
        raise PolaUsageError(f"{f.filename} is marked failed")
    return _REPORTERS[kind]


def _load_builtin() -> None:
    import pola_nb.exact.report  # noqa: F401  (registers fig1, fig3, b16)
    import pola_nb.league  # noqa: F401  (registers league)
    import pola_nb.sampled.report  # noqa: F401  (registers train, fig4, fig5)
    import pola_nb.sweep  # noqa: F401  (registers sweep)
