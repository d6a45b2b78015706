"""The ``pola`` command line. Each command group lives in its own module and registers on ``app``
(:mod:`pola_nb.cli.app`).

:func:`main` is the console entry point: it turns :class:`~pola_nb.errors.PolaUsageError` and click's
usage errors into one line on stderr with exit status 2, never a traceback.
"""

from __future__ import annotations

import sys

# Command modules register themselves on `app` when imported (one line per module).
from pola_nb.cli import (  # noqa: E402,F401
    analysis_cmd,
    check_cmd,
    eval_cmd,
    info_cmd,
    league_cmd,
    reproduce_cmd,
    results_cmd,
    sweep_cmd,
    train_cmd,
)
from pola_nb.cli.app import app, tune_for_training  # noqa: F401  (re-exported: pola_nb.cli.app)
from pola_nb.errors import PolaUsageError


def fail(message: str) -> None:
    """Print one error line on stderr and exit with status 2."""
    print(f"pola: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def main(argv: list[str] | None = None) -> None:
    """Console entry point (``pola``)."""
    from pola_nb.results import record_command

    record_command(sys.argv[1:] if argv is None else list(argv))
    try:
        code = app(args=argv, prog_name="pola", standalone_mode=False)
    except PolaUsageError as e:
        fail(str(e))
    except KeyboardInterrupt:
        print("pola: interrupted", file=sys.stderr)
        raise SystemExit(130) from None
    except Exception as e:
        # typer vendors click, so match click's exceptions by interface, not by class.
        if hasattr(e, "format_message") and hasattr(e, "exit_code"):
            fail(" ".join(e.format_message().split()))
        if type(e).__name__ == "Abort":
            print("pola: interrupted", file=sys.stderr)
            raise SystemExit(130) from None
        raise
    raise SystemExit(code if isinstance(code, int) else 0)
