"""The ``pola`` typer application, on which every command module registers its commands, and the
process settings that the commands which run updates make."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="pola",
    help="Opponent shaping: POLA, LOLA and friends. Reproduce the paper, train, evaluate, plot.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # help texts show [brackets] literally
)


def tune_for_training() -> None:
    """Process-wide settings of a command that runs updates (one BLAS and one numba thread, freed
    memory kept): set here, at the command line's entry, never by the library on its own."""
    from pola_nb.sampled.process import training_process

    training_process()
