"""Markdown reference of the ``pola`` command line, generated from the typer app itself.

``python -m pola_nb.cli.docgen`` prints the page; ``python -m pola_nb.cli.docgen --write docs/cli.md``
writes it. ``tests/test_docs.py`` checks that ``docs/cli.md`` equals :func:`cli_markdown`, so the page
cannot drift from the commands. The output depends only on the app: no terminal width, no colours.
"""

from __future__ import annotations

import argparse
import inspect
import sys
from collections.abc import Iterator, Sequence
from enum import Enum
from pathlib import Path
from typing import Any

PAGE = "docs/cli.md"
GENERATOR = f"python -m pola_nb.cli.docgen --write {PAGE}"

INTRO = (
    "# Command-line reference\n"
    "\n"
    "Every command of `pola`, with its usage and all of its options. This page is generated from the\n"
    f"command definitions by `{GENERATOR}`; do not edit it by hand.\n"
    "`tests/test_docs.py` checks that it matches the command line, and that every `pola` invocation\n"
    "quoted in the README and in `docs/` uses commands and options that exist.\n"
)


def root_command() -> Any:
    """The click command tree of the ``pola`` app (a group; its sub-groups hold further commands)."""
    import typer

    from pola_nb.cli import app

    return typer.main.get_command(app)


def iter_commands(command: Any | None = None, ctx: Any | None = None) -> Iterator[tuple[Any, Any]]:
    """Yield ``(command, context)`` for the root and every visible command below it, depth first,
    in the order the CLI lists them. ``context.command_path`` is the full name (``pola reproduce fig1``)."""
    if command is None:
        command = root_command()
    if ctx is None:
        ctx = command.context_class(command, info_name="pola")
    yield command, ctx
    for name, sub in subcommands(command, ctx):
        yield from iter_commands(sub, sub.context_class(sub, info_name=name, parent=ctx))


def subcommands(command: Any, ctx: Any) -> list[tuple[str, Any]]:
    """The visible ``(name, command)`` pairs of a group in the CLI's order; ``[]`` for a plain command."""
    if not hasattr(command, "list_commands"):
        return []
    pairs = [(name, command.get_command(ctx, name)) for name in command.list_commands(ctx)]
    return [(name, sub) for name, sub in pairs if sub is not None and not getattr(sub, "hidden", False)]


def visible_params(command: Any, ctx: Any) -> list[Any]:
    """Arguments and options of a command (``--help`` included), hidden ones left out."""
    return [p for p in command.get_params(ctx) if not getattr(p, "hidden", False)]


def option_names(param: Any) -> list[str]:
    """Every spelling of an option (``--out``, ``-o``; ``--baseline``, ``--no-baseline``) in declaration order."""
    return list(param.opts) + list(getattr(param, "secondary_opts", []))


def _is_argument(param: Any) -> bool:
    return getattr(param, "param_type_name", "") == "argument"


def _argument_name(param: Any) -> str:
    return param.metavar or (param.name or "").upper()


def _help_text(command: Any) -> str:
    """The command's help (its docstring), dedented, cut at click's ``\\f`` marker, ``\\b`` lines removed."""
    text = inspect.cleandoc(command.help or "").split("\f")[0]
    return "\n".join(line for line in text.splitlines() if line.strip() != "\b").strip()


def usage(command: Any, ctx: Any) -> str:
    """``pola train [OPTIONS] GAME``-style usage line (arguments: NAME required, [NAME] optional, ... many)."""
    pieces = [ctx.command_path]
    params = visible_params(command, ctx)
    if any(not _is_argument(p) for p in params):
        pieces.append(getattr(command, "options_metavar", None) or "[OPTIONS]")
    for p in params:
        if _is_argument(p):
            name = _argument_name(p)
            name = name if p.required else f"[{name}]"
            pieces.append(name + ("..." if p.nargs != 1 else ""))
    if subcommands(command, ctx):
        pieces.append(getattr(command, "subcommand_metavar", None) or "COMMAND [ARGS]...")
    return " ".join(pieces)


def type_label(param: Any, ctx: Any) -> str:
    """Value type of a parameter: ``flag``, ``int``, ``path``, ``a|b`` for choices, ``list[Path]``, or its metavar."""
    if getattr(param, "is_flag", False) or getattr(param, "count", False):
        return "flag"
    if param.metavar is not None and not _is_argument(param):
        return param.metavar
    if hasattr(param, "display_type"):  # typer >= 0.20: its own parameter types
        label = param.display_type(ctx) or ""
    else:  # click parameter types
        choices = getattr(param.type, "choices", None)
        label = "|".join(str(c) for c in choices) if choices else param.type.name
    label = label.strip()
    if label.startswith("<") and label.endswith(">"):
        label = label[1:-1]
    return label


def default_label(param: Any) -> str:
    """``required``, the default value, or an empty string when there is none (or the flag is off)."""
    if param.required:
        return "required"
    if isinstance(getattr(param, "show_default", None), str):
        return param.show_default
    default = param.default
    if callable(default):
        return "(dynamic)"
    if default is None or default == () or default == []:
        return ""
    if isinstance(default, Enum):
        default = default.value
    if isinstance(default, (list, tuple)):
        return ", ".join(str(d) for d in default)
    return str(default)


def _cell(text: str) -> str:
    """Text safe inside one Markdown table cell: one line, pipes escaped."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _code(text: str) -> str:
    return f"`{_cell(text)}`" if text else ""


def params_table(command: Any, ctx: Any) -> list[str]:
    """Markdown table rows: parameter names, type, default, help."""
    rows = ["| parameter | type | default | help |", "|---|---|---|---|"]
    for p in visible_params(command, ctx):
        if _is_argument(p):
            names = _code(_argument_name(p)) + " (argument)"
        else:
            names = ", ".join(_code(n) for n in option_names(p))
        default = "required" if p.required else _code(default_label(p))
        rows.append(f"| {names} | {_code(type_label(p, ctx))} | {default} | {_cell(p.help or '')} |")
    return rows


def command_section(command: Any, ctx: Any) -> str:
    """One ``## pola ...`` section: help text, usage, the subcommands of a group, the parameter table."""
    lines = [f"## {ctx.command_path}", ""]
    text = _help_text(command)
    if text:
        lines += [text, ""]
    lines += ["```", usage(command, ctx), "```", ""]
    subs = subcommands(command, ctx)
    if subs:
        lines += ["| command | description |", "|---|---|"]
        for name, sub in subs:
            full = f"{ctx.command_path} {name}"
            first = _help_text(sub).split("\n\n")[0]
            lines.append(f"| [`{full}`](#{_anchor(full)}) | {_cell(first)} |")
        lines.append("")
    lines += params_table(command, ctx)
    return "\n".join(lines) + "\n"


def _anchor(heading: str) -> str:
    """GitHub's anchor of a heading made of lowercase words, digits and hyphens."""
    return "-".join(heading.lower().split())


def cli_markdown() -> str:
    """The whole reference page: the intro, then one section per command (root and groups included)."""
    sections = [INTRO] + [command_section(cmd, ctx) for cmd, ctx in iter_commands()]
    return "\n".join(sections)


def main(argv: Sequence[str] | None = None) -> int:
    """Print the page, or write it with ``--write PATH``."""
    parser = argparse.ArgumentParser(prog="python -m pola_nb.cli.docgen", description=__doc__.splitlines()[0])
    parser.add_argument("--write", metavar="PATH", type=Path, help=f"write the page here (e.g. {PAGE})")
    args = parser.parse_args(argv)
    text = cli_markdown()
    if args.write is None:
        sys.stdout.write(text)
    else:
        args.write.write_text(text, encoding="utf-8", newline="\n")
        print(f"wrote {args.write}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
