"""The documentation agrees with the code.

* ``docs/cli.md`` is exactly what ``python -m pola_nb.cli.docgen`` generates from the typer app.
* Every ``pola ...`` invocation quoted in README.md and docs/*.md (code blocks and inline code) names a
  command that exists and only options that this command has.
* No tracked text file uses a word reserved for the tooling around the project (see ``RESERVED_WORD``)
  or cites sections of an external specification by number.
"""

from __future__ import annotations

import difflib
import re
import subprocess
from pathlib import Path

import pytest

from pola_nb.cli.docgen import GENERATOR, PAGE, cli_markdown, iter_commands, option_names, subcommands

ROOT = Path(__file__).resolve().parents[1]
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
TEXT_SUFFIXES = {".md", ".py", ".toml", ".txt", ".cfg", ".yml", ".yaml", ".sh"}
TEXT_NAMES = {"Makefile"}

# Built from pieces so that this file does not contain the word itself.
RESERVED_WORD = "ses" + "sion"
RESERVED_RE = re.compile(rf"\b{RESERVED_WORD}\b", re.IGNORECASE)
# path (relative to the repository root) -> API names that may contain the reserved word on a line
# of that file (e.g. a third-party class that cannot be renamed). Empty: no exception is needed.
RESERVED_ALLOWLIST: dict[str, set[str]] = {}

# A number right after "spec"/"Spec" and white space: a section citation of an external specification.
# "spec1", "checkpoint spec" or "spec=3" do not match.
SPEC_CITATION_RE = re.compile(r"\b[Ss]pec\s+\d")


# ----------------------------------------------------------------------------------------------------
# (a) docs/cli.md is generated


def test_cli_page_is_up_to_date() -> None:
    expected = cli_markdown()
    path = ROOT / PAGE
    actual = path.read_text(encoding="utf-8") if path.exists() else ""
    if actual != expected:
        diff = difflib.unified_diff(actual.splitlines(), expected.splitlines(), f"{PAGE} (file)",
                                    f"{PAGE} (generated)", lineterm="", n=1)
        shown = "\n".join(list(diff)[:60])
        pytest.fail(f"{PAGE} does not match the command line; regenerate it with\n    {GENERATOR}\n{shown}")


def test_cli_page_lists_every_command_and_option() -> None:
    page = cli_markdown()
    for command, ctx in iter_commands():
        assert f"\n## {ctx.command_path}\n" in page
        for p in command.get_params(ctx):
            if getattr(p, "param_type_name", "") == "option" and not getattr(p, "hidden", False):
                for name in option_names(p):
                    assert f"`{name}`" in page, f"{ctx.command_path} {name}"
    assert "\x1b" not in page  # no terminal colours


# ----------------------------------------------------------------------------------------------------
# (b) pola invocations quoted in the documentation


def code_texts(markdown: str) -> list[str]:
    """The contents of fenced code blocks (``` or ~~~) and of inline code spans of a Markdown text."""
    blocks: list[str] = []
    prose: list[str] = []
    fence: str | None = None
    current: list[str] = []
    for line in markdown.splitlines():
        stripped = line.lstrip()
        if fence is None and stripped[:3] in ("```", "~~~"):
            fence = stripped[:3]
            current = []
        elif fence is not None and stripped.startswith(fence):
            blocks.append("\n".join(current))
            fence = None
        elif fence is not None:
            current.append(line)
        else:
            prose.append(line)
    if fence is not None:  # an unclosed fence runs to the end
        blocks.append("\n".join(current))
    spans = [m.group(2) for m in re.finditer(r"(`+)(.+?)(?<!`)\1(?!`)", "\n".join(prose), re.S)]
    return blocks + [" ".join(s.split()) for s in spans]


def _logical_lines(code: str) -> list[str]:
    """Lines of a code text with ``\\`` continuations joined, and indented synopsis lines that start
    with an option (``           [--preset paper|quick] ...``) joined to the line above."""
    lines: list[str] = []
    for raw in re.sub(r"\\\n", " ", code).splitlines():
        first = raw.split(None, 1)[0] if raw.strip() else ""
        if lines and raw[:1].isspace() and (first.startswith("-") or first.startswith("[-")):
            lines[-1] += " " + raw
        else:
            lines.append(raw)
    return lines


def _is_pola(token: str) -> bool:
    token = token.strip("\"'")
    return token == "pola" or token.endswith("/pola")  # pola, .venv/bin/pola, $(BIN)/pola


def invocations(code: str) -> list[list[str]]:
    """Token lists ``["pola", "train", "ipd", "--out", ...]`` of the pola commands in a code text.

    A command ends at ``&&``, ``||``, ``;``, a ``#`` comment, a redirection, or a pipe ``|`` to another
    program (a ``|`` between alternatives such as ``--csv X | --parquet Y`` does not end it). Lines that
    run ``make`` are skipped.
    """
    found: list[list[str]] = []
    for line in _logical_lines(code):
        tokens = line.split()
        segments: list[list[str]] = [[]]
        depth = 0
        for i, tok in enumerate(tokens):
            nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
            if tok.startswith("#"):
                break
            if tok in ("&&", "||", ";", "&") or tok.startswith((">", "2>", "<")) or (
                    tok == "|" and depth <= 0 and re.match(r"[A-Za-z_./$]", nxt)):
                segments.append([])
                continue
            depth += tok.count("[") - tok.count("]")
            segments[-1].append(tok)
        for seg in segments:
            if not seg or seg[0] == "make":
                continue
            starts = [i for i, tok in enumerate(seg) if _is_pola(tok)]
            if starts:
                found.append(["pola", *seg[starts[0] + 1:]])
    return found


def _option_tokens(token: str) -> list[str]:
    """Option names in one token: ``--out=x`` -> ``--out``; ``[--scale`` -> ``--scale``;
    ``[--baseline/--no-baseline]`` -> both; values, negative numbers and placeholders give nothing."""
    token = token.lstrip("[(").split("=", 1)[0].rstrip("]),;.")
    parts = token.split("/")
    if len(parts) < 2 or not all(part.startswith("-") for part in parts):
        parts = [token]
    return [part for part in parts if re.fullmatch(r"--?[A-Za-z][A-Za-z0-9-]*", part)]


def _known_options(command, ctx) -> set[str]:
    return {name for p in command.get_params(ctx) if getattr(p, "param_type_name", "") == "option"
            and not getattr(p, "hidden", False) for name in option_names(p)}


def check_invocation(tokens: list[str], root: tuple | None = None) -> list[str]:
    """Problems of one invocation (``tokens[0] == "pola"``): an unknown command or an unknown option.

    The command path is followed through groups (``pola reproduce fig4``); ``fig4|fig5`` checks both.
    A placeholder where a command name is due (``pola COMMAND``, ``pola reproduce …``) ends the check;
    after the command, words are its arguments or option values and only options are checked.
    """
    commands = [root or next(iter_commands())]
    shown = " ".join(tokens)
    problems = []
    for tok in tokens[1:]:
        if tok == "--":
            break
        if tok.lstrip("[(").startswith("-"):
            for name in _option_tokens(tok):
                problems += [f"`{shown}`: {ctx.command_path} has no option {name}"
                             for command, ctx in commands if name not in _known_options(command, ctx)]
            continue
        if not all(subcommands(command, ctx) for command, ctx in commands):
            continue  # past the command path: an argument or an option's value
        parts = tok.rstrip(",;.)").split("|")
        if not all(re.fullmatch(r"[a-z][a-z0-9-]*", part) for part in parts):
            break  # a placeholder: FIG, <cmd>, ..., …
        resolved = []
        for command, ctx in commands:
            subs = dict(subcommands(command, ctx))
            for part in parts:
                if part in subs:
                    resolved.append((subs[part], subs[part].context_class(subs[part], info_name=part, parent=ctx)))
                else:
                    problems.append(f"`{shown}`: {ctx.command_path} has no command {part!r}")
        if len(resolved) < len(parts) * len(commands):
            break
        commands = resolved
    return problems


def check_markdown(markdown: str) -> list[str]:
    """Problems of every pola invocation in the code blocks and inline code of a Markdown text."""
    root = next(iter_commands())
    return [p for code in code_texts(markdown) for inv in invocations(code) for p in check_invocation(inv, root)]


@pytest.mark.parametrize("path", DOC_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_documented_invocations_exist(path: Path) -> None:
    problems = check_markdown(path.read_text(encoding="utf-8"))
    assert not problems, f"{path.relative_to(ROOT)}:\n" + "\n".join(problems)


def test_documentation_quotes_pola_commands() -> None:
    """The checker finds invocations at all (it would pass vacuously otherwise)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found = [inv for code in code_texts(text) for inv in invocations(code)]
    assert len(found) >= 5
    assert any(inv[1:3] == ["train", "ipd"] for inv in found)


def test_checker_reports_unknown_options_and_commands() -> None:
    text = """Run `pola train ipd --algo pola-dice --no-such-flag --out x.h5` and:

```
pola reproduce fig4 --preset quick \\
    --seeds 3 --bogus-option=1
pola nosuchcommand --json
pola reproduce fig9
cp a b && .venv/bin/pola eval ipd --agent1 alld --agent2 allc --agent3 tft
pola eval GAME --agent1 A --agent2 B
           [--batch-size 10000] [--unknown-synopsis-flag]
```
"""
    problems = check_markdown(text)
    joined = "\n".join(problems)
    assert "pola train has no option --no-such-flag" in joined
    assert "pola reproduce fig4 has no option --bogus-option" in joined
    assert "pola has no command 'nosuchcommand'" in joined
    assert "pola reproduce has no command 'fig9'" in joined
    assert "pola eval has no option --agent3" in joined
    assert "pola eval has no option --unknown-synopsis-flag" in joined
    assert len(problems) == 6, joined


def test_checker_accepts_valid_forms() -> None:
    text = """`pola --help`, `pola reproduce …`, `pola COMMAND --help`, `pola train ... --out RUN.h5`

```
make demo
make test
$(BIN)/pola reproduce fig1 --out results/fig1.h5 --force
pola reproduce fig4|fig5 [--preset quick|paper] [--seeds 1-3] [-o FIG.h5]
pola train GAME --algo lola-dice|pola-dice|pola-om --out RUN.h5
           [--seeds 1,2,3 | 1-10] [--resume [--updates N]] [--baseline/--no-baseline]
pola export RUN.h5 --csv OUT.csv | --parquet OUT.parquet [--force]
pola summary results/fig1.h5 --json | head -n 3   # a comment --not-an-option
pola eval ipd --agent1 alld --agent2 allc --cf=1.33 --seed 0 > out.txt
pola league a.h5 b.h5 --strategies alld,allc \\
    --out league.h5
```
"""
    assert check_markdown(text) == []


def test_checker_catches_an_option_inserted_into_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    bogus = readme.replace("pola train ipd --algo", "pola train ipd --no-such-flag --algo", 1)
    assert bogus != readme
    new = set(check_markdown(bogus)) - set(check_markdown(readme))
    assert new and all("pola train has no option --no-such-flag" in p for p in new), new


# ----------------------------------------------------------------------------------------------------
# (c), (d) words and citations in tracked text files


def tracked_text_files() -> list[Path]:
    """Text files tracked by git (by suffix, or named Makefile) that exist in the working tree."""
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    paths = [ROOT / p for p in out.split("\0") if p]
    return [p for p in paths if (p.suffix in TEXT_SUFFIXES or p.name in TEXT_NAMES) and p.is_file()]


def find_lines(pattern: re.Pattern[str], files: list[Path],
               allow: dict[str, set[str]] | None = None) -> list[str]:
    """``path:line: text`` of every line matching ``pattern``, except lines that contain one of the
    allowed names listed for their file."""
    hits = []
    for path in files:
        rel = str(path.relative_to(ROOT))
        allowed = (allow or {}).get(rel, set())
        for i, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if pattern.search(line) and not any(name in line for name in allowed):
                hits.append(f"{rel}:{i}: {line.strip()}")
    return hits


def test_reserved_word_pattern() -> None:
    w = RESERVED_WORD
    for text in (f"a {w} here", f"{w.capitalize()}.", f"({w.upper()})", f"requests.{w.capitalize()}()"):
        assert RESERVED_RE.search(text), text
    for text in (f"{w}s", f"{w}_id", f"my{w}", f"{w}2"):
        assert not RESERVED_RE.search(text), text


def test_no_reserved_word_in_tracked_files() -> None:
    hits = find_lines(RESERVED_RE, tracked_text_files(), RESERVED_ALLOWLIST)
    assert not hits, f"tracked files use the word {RESERVED_WORD!r}:\n" + "\n".join(hits)


def test_spec_citation_pattern() -> None:
    s = "spec"
    for text in (f"{s} 3.6", f"({s} 1(b))", f"{s} 5.4/5.5", f"{s.capitalize()} 4.2", f"the {s}  2.3 equations"):
        assert SPEC_CITATION_RE.search(text), text
    for text in (f"{s}1 = 2", f"checkpoint {s}", f"{s}=3", f"re{s} 3", f"{s}s 3", f"for k, {s} in x",
                 f"checkpoint {s} (RUN.h5)"):
        assert not SPEC_CITATION_RE.search(text), text


def test_no_spec_citations_in_tracked_files() -> None:
    hits = find_lines(SPEC_CITATION_RE, tracked_text_files())
    assert not hits, "cite the paper or the official code instead of section numbers:\n" + "\n".join(hits)


def test_readme_is_short_and_links_every_docs_page() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 250
    for page in sorted((ROOT / "docs").glob("*.md")):
        assert f"docs/{page.name}" in text, f"README.md does not link docs/{page.name}"
    for target in re.findall(r"\]\(([^)#]+)", text):  # every relative link resolves
        if "://" not in target:
            assert (ROOT / target).exists(), target
