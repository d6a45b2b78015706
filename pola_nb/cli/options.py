"""Command-line options generated from typed configuration fields (:func:`pola_nb.settings.setting`).

:func:`setting_options` makes one typer option per field (``--lr-in`` for ``lr_in``; ``--x/--no-x``
for a bool), every one defaulting to ``None`` = "not given", with the field's help and range.
:func:`with_options` appends them to a command function's signature; the command receives them as
keyword arguments and passes the given ones on as overrides.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import Any

import typer

from pola_nb.settings import described_fields


def comma_list(text: str) -> list[str]:
    """``"a, b,,c"`` -> ``["a", "b", "c"]``: the items of a comma-separated option, stripped, empty ones dropped."""
    return [part.strip() for part in text.split(",") if part.strip()]


def option_name(field_name: str) -> str:
    """``lr_in`` -> ``--lr-in``."""
    return "--" + field_name.replace("_", "-")


def setting_options(classes: Iterable[type], skip: Iterable[str] = ()) -> list[inspect.Parameter]:
    """Keyword parameters (typer options, default ``None``) for every :func:`~pola_nb.settings.setting`
    field of ``classes`` whose name is not in ``skip``, in declaration order. A name declared by
    several classes (``batch_size`` of every learner) gives one option, with the first class's help."""
    skip = set(skip)
    params = []
    for cls in classes:
        for f, typ, _ in described_fields(cls):
            if f.name in skip:
                continue
            skip.add(f.name)
            rng = f.metadata["range"]
            allowed = f" Allowed: {rng.describe()}." if rng.choices is None and rng.describe() else ""
            help_text = f.metadata["help"] + allowed
            decl = (f"{option_name(f.name)}/--no-{f.name.replace('_', '-')}" if typ is bool else option_name(f.name))
            params.append(inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY,
                                            default=typer.Option(None, decl, help=help_text), annotation=typ))
    return params


def with_options(func: Callable[..., Any], params: list[inspect.Parameter]) -> Callable[..., Any]:
    """``func`` (whose last parameter is ``**settings``) with ``params`` as its declared options, so
    that typer shows and parses them; returns ``func`` itself."""
    sig = inspect.signature(func, eval_str=True)
    fixed = [p for p in sig.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
    kw = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in fixed if p.kind is inspect.Parameter.KEYWORD_ONLY]
    positional = [p for p in fixed if p.kind is not inspect.Parameter.KEYWORD_ONLY]
    func.__signature__ = sig.replace(parameters=positional + kw + params)  # type: ignore[attr-defined]
    func.__annotations__ = {**{p.name: p.annotation for p in fixed}, **{p.name: p.annotation for p in params}}
    return func
