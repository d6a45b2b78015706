"""Which kind of results file is open: the ``kind`` attribute mapped to its :class:`ResultsKind` type.

Summaries, tables and figures are the generics ``summary``, ``table`` and ``plot`` of
:mod:`pola_nb.generics`, with methods next to each kind's type (in the module that writes the kind).
``pola summary`` and ``pola plot`` call them on ``kind_of(f)``::

    with open_results(path) as f:
        kind = kind_of(f)
        print(table(kind, summary(kind, f)))
"""

from __future__ import annotations

import h5py

from pola_nb.errors import PolaUsageError
from pola_nb.results import ResultsKind


def _load_builtin_kinds() -> None:
    """Import the modules that define the built-in kinds (their types and methods)."""
    import pola_nb.exact.report  # noqa: F401  (fig1, fig3, b16)
    import pola_nb.league  # noqa: F401  (league)
    import pola_nb.sampled.report  # noqa: F401  (train, fig4, fig5)
    import pola_nb.sweep  # noqa: F401  (sweep)


def known_kinds() -> dict[str, type[ResultsKind]]:
    """Every named :class:`ResultsKind` subclass (built-in ones and any imported), by ``kind`` name."""
    _load_builtin_kinds()
    out: dict[str, type[ResultsKind]] = {}
    todo = list(ResultsKind.__subclasses__())
    while todo:
        cls = todo.pop()
        todo += cls.__subclasses__()
        name = cls.__dict__.get("name")
        if name is not None:
            if name in out and out[name] is not cls:
                raise TypeError(f"two results kinds are called {name!r}: {out[name].__name__}, {cls.__name__}")
            out[name] = cls
    return out


def kind_of(f: h5py.File) -> ResultsKind:
    """The kind of the open results file ``f``; PolaUsageError if it is unknown or the run failed."""
    name = str(f.attrs["kind"])
    kinds = known_kinds()
    if name not in kinds:
        raise PolaUsageError(f"unknown results kind {name!r}; known kinds: {', '.join(sorted(kinds))}")
    if f.attrs.get("status") == "failed":
        raise PolaUsageError(f"{f.filename} is marked failed")
    return kinds[name]()
