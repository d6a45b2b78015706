"""``pola reproduce``: the paper's experiments."""

from __future__ import annotations

import typer

from pola_nb.cli import app

reproduce_app = typer.Typer(help="Reproduce a figure of the paper (writes HDF5 + PNG, prints a table).",
                            no_args_is_help=True)
app.add_typer(reproduce_app, name="reproduce")
