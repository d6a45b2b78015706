"""HDF5 results files: crash-safe writing, validation on reading.

Every file has the root attributes ``schema_version``, ``pola_nb_version``, ``kind`` (what wrote it,
e.g. ``"fig3"``), ``config`` (JSON), ``command`` (the command line) and ``status``
(``running``/``stopped``/``complete``/``failed``).

Short jobs write through :func:`atomic_results`: the file is built under a temporary name in the
target folder and renamed into place only when complete, so an interrupted command leaves either no
file or the previous one untouched. Long resumable runs write in place with ``status=running``
(``stopped`` when the process ends before the last update) and flush after every update (see
the training loop).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import h5py

from pola_nb._version import __version__
from pola_nb.errors import PolaUsageError, require
from pola_nb.generics import dispatch

SCHEMA_VERSION = 1


_COMMAND: list[str] = []


def record_command(argv: list[str]) -> None:
    """Remember the CLI arguments of this invocation for the ``command`` attribute (set by ``pola``)."""
    _COMMAND[:] = ["pola", *argv]


def command_line() -> str:
    """The ``pola`` command that is running, or this process's command line when called as a library."""
    return " ".join(_COMMAND) if _COMMAND else " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])


def check_output_path(path: str | os.PathLike, force: bool) -> Path:
    """Validate an output path before any work starts.

    Raises :class:`PolaUsageError` if the folder is missing or not writable, the path is a folder, or
    the file exists and ``force`` is off (or it cannot be written).
    """
    p = Path(path)
    require(p.parent.is_dir(), f"output folder does not exist: {p.parent}")
    require(not p.is_dir(), f"output path is a folder: {p}")
    require(force or not p.exists(), f"{p} exists; pass --force to overwrite it")
    require(os.access(p.parent, os.W_OK | os.X_OK), f"output folder is not writable: {p.parent}")
    require(not p.exists() or os.access(p, os.W_OK), f"{p} is not writable")
    return p


def check_figure_paths(path: str | os.PathLike, force: bool) -> tuple[Path, Path]:
    """Validate the results file of a figure and the PNG written next to it (same name, ``.png``):
    ``(results file, PNG)``; as :func:`check_output_path` for each, and the two must differ."""
    p = check_output_path(path, force)
    png = p.with_suffix(".png")
    require(png != p, f"the results file must not end in .png (the figure goes there): {p}")
    return p, check_output_path(png, force)


def default_output(name: str) -> Path:
    """``results/<name>`` in the working directory, creating the folder ``results`` if needed.

    Call it only once the settings are validated: an invalid command leaves no folder behind.
    """
    folder = Path("results")
    require(folder.is_dir() or not folder.exists(), f"output folder is not a folder: {folder}")
    folder.mkdir(exist_ok=True)
    return folder / name


class ResultsKind:
    """A kind of results file, the type that the generics ``summary``, ``table``, ``plot`` and
    ``require_complete`` (:mod:`pola_nb.generics`) dispatch on.

    A module that writes a kind of file defines a subclass with ``name`` = the file's ``kind``
    attribute and adds the methods next to it; :func:`pola_nb.report.kind_of` finds the subclass of
    an open file. Subclasses without a ``name`` group kinds that share methods.
    """

    name: ClassVar[str | None] = None

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other)

    def __hash__(self) -> int:
        return hash(type(self))

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


@dispatch
def require_complete(kind: ResultsKind, f: h5py.File) -> None:
    """Most kinds are complete once written (:func:`atomic_results`)."""
    return None


def write_root_attrs(f: h5py.File, kind: str, config: dict[str, Any], command: str | None = None) -> None:
    f.attrs["schema_version"] = SCHEMA_VERSION
    f.attrs["pola_nb_version"] = __version__
    f.attrs["kind"] = kind
    f.attrs["config"] = json.dumps(config, sort_keys=True, default=_json_default)
    f.attrs["command"] = command if command is not None else command_line()
    f.attrs["status"] = "running"


@contextmanager
def atomic_results(
    path: str | os.PathLike, kind: str, config: dict[str, Any], force: bool = False
) -> Iterator[h5py.File]:
    """Open a new results file for writing; it appears at ``path`` only if the block completes."""
    p = check_output_path(path, force)
    fd, tmp = tempfile.mkstemp(prefix=p.name + ".", suffix=".tmp", dir=p.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; the result should look like any new file
    try:
        with h5py.File(tmp, "w") as f:
            write_root_attrs(f, kind, config)
            yield f
            f.attrs["status"] = "complete"
        os.replace(tmp, p)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def open_h5(path: str | os.PathLike, mode: str = "r", wait_s: float = 300.0) -> h5py.File:
    """``h5py.File(path, mode)``, waiting up to ``wait_s`` seconds while another process holds the
    file (HDF5's lock: a training run writing a row, or a reader such as ``pola summary``).

    A training run opens its file only to write a row, so a reader's open and the writer's can meet;
    without waiting, whichever comes second fails with ``BlockingIOError``.
    """
    deadline = time.monotonic() + wait_s
    while True:
        try:
            return h5py.File(path, mode)
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.1)


def open_results(path: str | os.PathLike) -> h5py.File:
    """Open a results file read-only, or raise :class:`PolaUsageError` if it is missing or not ours."""
    p = Path(path)
    require(p.is_file(), f"no such file: {p}")
    require(os.access(p, os.R_OK), f"{p} is not readable")
    try:
        f = open_h5(p, "r")
    except BlockingIOError:
        raise PolaUsageError(f"{p} stayed locked by another process") from None
    except OSError:
        raise PolaUsageError(f"{p} is not an HDF5 file") from None
    if "schema_version" not in f.attrs or "kind" not in f.attrs:
        f.close()
        raise PolaUsageError(f"{p} is not a pola_nb results file")
    return f


def _json_default(x: Any) -> Any:
    if hasattr(x, "tolist"):
        return x.tolist()
    raise TypeError(f"not JSON serialisable: {type(x)}")
