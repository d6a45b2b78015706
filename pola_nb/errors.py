"""The one exception type that the CLI turns into a one-line message and exit code 2, and the checks
that raise it."""

from __future__ import annotations

import math
import numbers


class PolaUsageError(ValueError):
    """Bad input from the user: unknown name, value out of range, unusable path or file.

    The CLI prints ``pola: error: <message>`` on stderr and exits with status 2 (no traceback).
    Library code raises it for invalid arguments, so the same checks serve the API and the CLI.
    """


def require(condition: bool, message: str) -> None:
    """Raise :class:`PolaUsageError` with ``message`` unless ``condition`` holds."""
    if not condition:
        raise PolaUsageError(message)


def is_integer(value: object) -> bool:
    """Whether ``value`` is an integer (Python or numpy), not a bool (numpy's bool is no ``Integral``)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def require_int(name: str, value: object, low: int = 1, high: int | None = None) -> None:
    """Raise :class:`PolaUsageError` unless ``value`` is an integer (not a bool) in ``[low, high]``."""
    bounds = f">= {low}" if high is None else f"in [{low}, {high}]"
    require(is_integer(value) and low <= value and (high is None or value <= high),  # type: ignore[operator]
            f"{name} must be an integer {bounds}, got {value!r}")


def require_real(name: str, value: object, low: float = 0.0, high: float = math.inf, *,
                 low_open: bool = False, high_open: bool = True) -> None:
    """Raise :class:`PolaUsageError` unless ``value`` is a finite number (not a bool) between ``low``
    and ``high``; each end is closed unless ``low_open``/``high_open`` (an infinite end is never reached)."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if ok:
        ok = (value > low if low_open else value >= low) and (value < high if high_open else value <= high)
    interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    require(ok, f"{name} must be a finite number in {interval}, got {value!r}")
