"""``pola summary`` and ``pola plot``: read any results file."""

from __future__ import annotations

from pola_nb.cli import app  # noqa: F401
