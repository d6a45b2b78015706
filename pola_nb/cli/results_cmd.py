"""``pola summary`` and ``pola plot``: read any pola_nb results file."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from pola_nb.cli import app


@app.command()
def summary(file: Path = typer.Argument(..., help="A pola_nb results file (.h5)."),
            as_json: bool = typer.Option(False, "--json", help="Print one JSON object on stdout.")) -> None:
    """Print the key results of a results file."""
    from pola_nb.report import reporter_for
    from pola_nb.results import open_results

    with open_results(file) as f:
        rep = reporter_for(f)
        s = rep.summary(f)
    print(json.dumps(s) if as_json else rep.table(s))


@app.command()
def plot(file: Path = typer.Argument(..., help="A pola_nb results file (.h5)."),
         out: Path = typer.Option(None, "--out", "-o", help="PNG to write (default: next to FILE)."),
         force: bool = typer.Option(False, "--force", help="Overwrite an existing PNG.")) -> None:
    """Draw the paper-style figure of a results file."""
    from pola_nb.report import reporter_for
    from pola_nb.results import check_output_path, open_results

    png = check_output_path(out if out is not None else file.with_suffix(".png"), force)
    with open_results(file) as f:
        reporter_for(f).plot(f, str(png))
    print(f"wrote {png}")
