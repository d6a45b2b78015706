"""``pola export`` and ``pola compare``: tables and side-by-side figures of training runs
(:mod:`pola_nb.analysis`)."""

from __future__ import annotations

from pathlib import Path

import typer

from pola_nb.cli.app import app


@app.command()
def export(runs: list[Path] = typer.Argument(..., help="Run files, fig4/fig5 files or sweep indexes (sweep.h5)."),
           csv: Path = typer.Option(None, "--csv", help="Write the tidy table as CSV here."),
           parquet: Path = typer.Option(None, "--parquet",
                                 help="Write the tidy table as Parquet here (needs pyarrow)."),
           force: bool = typer.Option(False, "--force", help="Overwrite an existing output file.")) -> None:
    """Write the tidy table (run, config, seed, update, metric, value) of training runs."""
    from pola_nb.analysis import export as export_table

    path, rows = export_table(runs, csv=csv, parquet=parquet, force=force)
    print(f"wrote {path} ({rows} rows)")


@app.command()
def compare(runs: list[Path] = typer.Argument(..., help="Run files, fig4/fig5 files or sweep indexes (sweep.h5) "
                                                    "of one game."),
            out: Path = typer.Option(..., "--out", "-o", help="Figure to write (.png, .pdf, ...)."),
            metric: str = typer.Option("score_each_other,score_vs_alld", "--metric",
                                       help="Comma-separated metrics, one panel each."),
            x: str = typer.Option("outer_steps", "--x", help="x axis: outer_steps, update or wall_time."),
            label: str = typer.Option(None, "--label",
                                      help="Config field naming the lines (e.g. hp.algo, hp.lr_in); "
                                           "default: algorithm and the fields that differ."),
            csv: bool = typer.Option(False, "--csv", help="Also write the plotted table next to the figure (.csv)."),
            each_file: bool = typer.Option(False, "--each-file",
                                           help="One line per file, even for files that differ only in seeds."),
            force: bool = typer.Option(False, "--force", help="Overwrite existing output files.")) -> None:
    """Draw several runs side by side: mean over seeds with a 95 % band, one panel per metric.

    Files that differ only in their seeds (one file per seed) are one line."""
    from pola_nb.analysis import compare as compare_runs

    metrics = [m.strip() for m in metric.split(",") if m.strip()]
    result = compare_runs(runs, out, metrics=metrics, x=x, label=label, csv=csv, force=force, pool=not each_file)
    print("wrote " + ", ".join(str(p) for p in result.written))
