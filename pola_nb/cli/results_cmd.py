"""``pola summary`` and ``pola plot``: read any pola_nb results file."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from pola_nb.cli.app import app


def _check_image_path(png: Path, results: Path) -> None:
    """An image file that matplotlib can write (no suffix: PNG) and that is not the results file."""
    from matplotlib.backend_bases import FigureCanvasBase

    from pola_nb.errors import require

    formats = FigureCanvasBase.get_supported_filetypes()
    require(png.suffix == "" or png.suffix.lower().lstrip(".") in formats,
            f"unknown image format {png.suffix!r}; use one of .{', .'.join(sorted(formats))}")
    require(not (png.exists() and results.exists() and png.samefile(results)),
            f"the figure would overwrite the results file {results}")


@app.command()
def summary(file: Path = typer.Argument(..., help="A pola_nb results file (.h5)."),
            as_json: bool = typer.Option(False, "--json", help="Print one JSON object on stdout.")) -> None:
    """Print the key results of a results file."""
    from pola_nb import generics
    from pola_nb.report import kind_of
    from pola_nb.results import open_results

    with open_results(file) as f:
        kind = kind_of(f)
        generics.require_complete(kind, f)
        s = generics.summary(kind, f)
    print(json.dumps(s) if as_json else generics.table(kind, s))


@app.command()
def plot(file: Path = typer.Argument(..., help="A pola_nb results file (.h5)."),
         out: Path = typer.Option(None, "--out", "-o", help="PNG to write (default: next to FILE)."),
         force: bool = typer.Option(False, "--force", help="Overwrite an existing PNG.")) -> None:
    """Draw the paper-style figure of a results file."""
    from pola_nb import generics
    from pola_nb.report import kind_of
    from pola_nb.results import check_output_path, open_results

    png = check_output_path(out if out is not None else file.with_suffix(".png"), force)
    _check_image_path(png, file)
    with open_results(file) as f:
        kind = kind_of(f)
        generics.require_complete(kind, f)
        generics.plot(kind, f, png)
    print(f"wrote {png}")
