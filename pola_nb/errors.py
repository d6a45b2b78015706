"""The one exception type that the CLI turns into a one-line message and exit code 2."""


class PolaUsageError(ValueError):
    """Bad input from the user: unknown name, value out of range, unusable path or file.

    The CLI prints ``pola: error: <message>`` on stderr and exits with status 2 (no traceback).
    Library code raises it for invalid arguments, so the same checks serve the API and the CLI.
    """


def require(condition: bool, message: str) -> None:
    """Raise :class:`PolaUsageError` with ``message`` unless ``condition`` holds."""
    if not condition:
        raise PolaUsageError(message)
