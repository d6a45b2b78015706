"""Typed settings: a dataclass field that carries its help text and allowed range, and one check.

A configuration class declares each field once, with :func:`setting`::

    @dataclass(frozen=True)
    class Example:
        steps: int = setting(50, "Episode length T.", low=1)

:func:`check_settings` validates every such field of an instance against its type and range (called
from ``__post_init__``), and :mod:`pola_nb.cli.options` turns the same fields into command-line
options. Adding a hyperparameter therefore means adding one field.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass
from typing import Any

import numpy as np

from pola_nb.errors import PolaUsageError, is_integer, require, require_int, require_real


@dataclass(frozen=True)
class Range:
    """What a field accepts beyond its type: numeric bounds (each end closed unless ``*_open``) or
    a tuple of ``choices``."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple | None = None

    def describe(self) -> str:
        """The range as text for help messages, e.g. ``"[0, inf)"`` or ``"gru|memory-one"``."""
        if self.choices is not None:
            return "|".join(str(c) for c in self.choices if c != "")
        if self.low is None and self.high is None:
            return ""
        lo = "-inf" if self.low is None else f"{self.low:g}"
        hi = "inf" if self.high is None else f"{self.high:g}"
        return f"{'(' if self.low_open else '['}{lo}, {hi}{')' if self.high_open or self.high is None else ']'}"


def setting(default: Any, help: str, *, low: float | None = None, high: float | None = None,
            low_open: bool = False, high_open: bool = False, choices: tuple | None = None) -> Any:
    """A dataclass field with a default, a one-line ``help`` and its allowed range."""
    rng = Range(low, high, low_open, high_open, choices)
    return dataclasses.field(default=default, metadata={"help": help, "range": rng})


def described_fields(cls: type) -> list[tuple[dataclasses.Field, type, bool]]:
    """``(field, base type, optional)`` of every field of ``cls`` declared with :func:`setting`, in order.

    ``base type`` is ``int``, ``float``, ``str`` or ``bool``; ``optional`` is true for ``T | None``.
    """
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        if "range" not in f.metadata:
            continue
        t = hints[f.name]
        args = [a for a in typing.get_args(t) if a is not type(None)]
        optional = len(args) < len(typing.get_args(t))
        out.append((f, args[0] if optional else t, optional))
    return out


def check_settings(obj: Any) -> None:
    """Raise :class:`~pola_nb.errors.PolaUsageError` unless every :func:`setting` field of ``obj`` has
    its type (integers not bools, finite numbers) and lies in its range."""
    for f, typ, optional in described_fields(type(obj)):
        value, rng, name = getattr(obj, f.name), f.metadata["range"], f.name
        if value is None and optional:
            continue
        if typ is bool:
            require(isinstance(value, bool | np.bool_), f"{name} must be true or false, got {value!r}")
        elif typ is str:
            require(isinstance(value, str), f"{name} must be text, got {value!r}")
        elif typ is int and rng.choices is not None:
            require(is_integer(value), f"{name} must be an integer, got {value!r}")
        elif typ is int:
            require_int(name, value, int(rng.low if rng.low is not None else -(2**63)),
                        None if rng.high is None else int(rng.high))
        elif typ is float:
            require_real(name, value, -math.inf if rng.low is None else rng.low,
                         math.inf if rng.high is None else rng.high, low_open=rng.low_open,
                         high_open=rng.high_open if rng.high is not None else True)
        if rng.choices is not None:
            require(value in rng.choices,
                    f"{name} must be one of {', '.join(repr(c) for c in rng.choices if c != '')}, got {value!r}")


def toml_loads(text: str, malformed: str) -> dict[str, Any]:
    """Parse TOML text (stdlib ``tomllib``, or ``tomli`` on Python 3.10); PolaUsageError
    ``"<malformed> (<what is wrong>)"`` if it is not valid TOML."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        try:
            import tomli as tomllib  # type: ignore[no-redef]
        except ModuleNotFoundError:
            raise PolaUsageError("reading TOML files needs Python 3.11 or the tomli package") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise PolaUsageError(f"{malformed} ({' '.join(str(e).split())})") from None
