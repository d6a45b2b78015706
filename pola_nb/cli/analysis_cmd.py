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
    from pola_nb.cli.options import comma_list

    metrics = comma_list(metric)
    result = compare_runs(runs, out, metrics=metrics, x=x, label=label, csv=csv, force=force, pool=not each_file)
    print("wrote " + ", ".join(str(p) for p in result.written))


@app.command()
def table(runs: list[Path] = typer.Argument(..., help="Run files, fig4/fig5 files or sweep indexes (sweep.h5) "
                                                  "of one game."),
          metric: str = typer.Option("score_each_other,score_vs_alld", "--metric",
                                     help="Comma-separated metrics, one column each (wall_time: seconds)."),
          at: str = typer.Option(None, "--at", help="Comma-separated updates; default: each line's last "
                                                    "update that all its seeds reached."),
          label: str = typer.Option(None, "--label", help="Config field naming the lines, as in pola compare."),
          each_file: bool = typer.Option(False, "--each-file",
                                         help="One line per file, even for files that differ only in seeds."),
          ddof: int = typer.Option(1, "--ddof", help="Delta degrees of freedom of the std: 1 (sample std) or "
                                                     "0 (as the figures' bands)."),
          csv: Path = typer.Option(None, "--csv", help="Also write the table as CSV here."),
          force: bool = typer.Option(False, "--force", help="Overwrite an existing CSV file.")) -> None:
    """Print a Markdown table: mean over seeds ± 1.96 standard errors of each metric at some updates.

    Files that differ only in their seeds (one file per seed) are one line, as in pola compare."""
    from pola_nb.analysis import markdown_table, seeds_table
    from pola_nb.cli.options import comma_list
    from pola_nb.errors import require
    from pola_nb.results import check_output_path

    metrics = comma_list(metric)
    updates = None
    if at is not None:
        parts = comma_list(at)
        require(all(p.isdigit() for p in parts), f"--at needs comma-separated updates >= 0, got {at!r}")
        updates = [int(p) for p in parts]
    csv_path = check_output_path(csv, force) if csv is not None else None
    result = seeds_table(runs, metrics, updates, label=label, pool=not each_file, ddof=ddof)
    print(markdown_table(result, metrics))
    if csv_path is not None:
        result.to_csv(csv_path, index=False)
        print(f"wrote {csv_path}")
