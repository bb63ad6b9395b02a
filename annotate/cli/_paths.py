"""The path arguments of every command, checked in one place before the command starts.

A command declares what each path parameter is by adding a :class:`PathRole` to its
``Annotated`` type, e.g. ``Annotated[Path, typer.Option("--out"), OUTPUT_FILE]``. The app's
command class (see ``annotate.cli._app``) calls :func:`check_paths` on the parsed values before
the command's function runs, so a wrong path costs nothing: no model loaded, no connection
made, nothing written.

Every problem is a :class:`~annotate.errors.PathError` (exit 2: the command was called with a
wrong path, whatever the file holds): one line naming the option, the path and the fix.

- ``E201`` an input does not exist;
- ``E202`` a folder where a file is meant, or a file where a folder is meant;
- ``E203`` an input cannot be read, or an output folder cannot be written;
- ``E204`` an output is one of the inputs (symlinks and hard links resolved), or would
  replace a folder that holds one, or already exists inside an input folder (where it
  would be read as one of its documents);
- ``E205`` an output's missing parent folders cannot be created (a file is in the way);
- ``E206`` two outputs of one command name the same path (the second would replace the first);
- ``E220`` an output exists and ``--force`` was not given.

Missing parent folders of an output are not an error: the atomic writes of
:mod:`annotate.fileio` create them.
"""

from __future__ import annotations

import os
import stat
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from annotate.errors import PathError
from annotate.fileio import STDIO

Direction = Literal["input", "output"]
Kind = Literal["file", "folder", "file_or_folder"]


@dataclass(frozen=True)
class PathRole:
    """What a path parameter is.

    ``stdio``: ``-`` means stdin/stdout. ``force``: the name of the parameter that allows
    replacing an existing output (None: an existing output folder is written into, not
    replaced, as the folder of ``annotate run``). ``read_when``: the name of a parameter
    that, when given, makes this output an input file instead (``adjudicate --conflicts``
    is written, or read back with ``--resolved``).
    """

    direction: Direction
    kind: Kind
    stdio: bool = False
    force: str | None = None
    read_when: str | None = None

    def given(self, values: Mapping[str, Any]) -> PathRole:
        """The role with the other parameters' values known."""
        return INPUT_FILE if self.read_when is not None and values.get(self.read_when) else self


INPUT_FILE = PathRole("input", "file")
INPUT_FILE_OR_STDIN = PathRole("input", "file", stdio=True)
INPUT_FILES_OR_FOLDERS = PathRole("input", "file_or_folder", stdio=True)
INPUT_FOLDER = PathRole("input", "folder")
OUTPUT_FILE = PathRole("output", "file", force="force")
OUTPUT_FILE_OR_STDOUT = PathRole("output", "file", stdio=True, force="force")
# A folder replaced whole (export, train) and one that outputs are written into (run).
OUTPUT_FOLDER = PathRole("output", "folder", force="force")
WORK_FOLDER = PathRole("output", "folder")
# adjudicate's conflicts: written, or read back when --resolved is given.
CONFLICTS_FILE = PathRole("output", "file", force="force", read_when="resolved")
# A server's data folder: read and written, created when missing.
DATA_FOLDER = PathRole("output", "folder")


@dataclass(frozen=True)
class _Given:
    """One path as given, with the option that named it."""

    option: str
    path: str
    role: PathRole


def path_roles(callback: Callable[..., Any]) -> dict[str, PathRole]:
    """Return ``{parameter name: PathRole}`` of a command function (Typer's wrapper or not)."""
    fn = getattr(callback, "__wrapped__", callback)
    hints = typing.get_type_hints(fn, include_extras=True)
    roles: dict[str, PathRole] = {}
    for name, hint in hints.items():
        for meta in getattr(hint, "__metadata__", ()):
            if isinstance(meta, PathRole):
                roles[name] = meta
    return roles


def check_paths(roles: Mapping[str, PathRole], values: Mapping[str, Any], options: Mapping[str, str]) -> None:
    """Raise PathError for the first wrong path among ``values`` (parameter name to value).

    ``options`` names each parameter as the user typed it (``--out``, ``GOLD``).
    """
    given = [
        _Given(options.get(name, name), str(path), role.given(values))
        for name, role in roles.items()
        for path in _as_list(values.get(name))
        if not (role.stdio and str(path) == STDIO)
    ]
    inputs = [g for g in given if g.role.direction == "input"]
    outputs = [g for g in given if g.role.direction == "output"]
    for g in inputs:
        _check_input(g)
    # Before "exists, pass --force": --force must not be the advice when the output is an input.
    for g in outputs:
        _check_not_an_input(g, inputs)
    _check_distinct(outputs)
    for g in outputs:
        _check_output(g, force=bool(g.role.force and values.get(g.role.force)))


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def _fail(g: _Given, code: str, problem: str, fix: str) -> PathError:
    return PathError(f"{g.option} {g.path}: {problem}; {fix}", code=code)


def _check_input(g: _Given) -> None:
    """An input exists, is the kind meant, and can be read."""
    try:
        st = os.stat(g.path)
    except FileNotFoundError:
        raise _fail(g, "E201", "no such file or folder", "check the path") from None
    except NotADirectoryError:
        raise _fail(g, "E201", "no such file or folder (a part of it is a file)", "check the path") from None
    except PermissionError:
        raise _fail(
            g, "E203", "cannot be reached (permission denied)", "check its folders' permissions"
        ) from None
    is_dir = stat.S_ISDIR(st.st_mode)
    if is_dir and g.role.kind == "file":
        raise _fail(g, "E202", "is a folder, not a file", "name a file in it")
    if not is_dir and g.role.kind == "folder":
        raise _fail(g, "E202", "is a file, not a folder", "name the folder that holds it")
    _check_readable(g, is_dir)


def _check_readable(g: _Given, is_dir: bool) -> None:
    """Open the file (or list the folder): permissions are what ``open`` says, not the mode bits."""
    try:
        if is_dir:
            with os.scandir(g.path):
                pass
        elif os.path.isfile(g.path):
            with open(g.path, "rb"):
                pass
        elif not os.access(g.path, os.R_OK):  # a pipe or device: opening it could block
            raise PermissionError
    except PermissionError:
        raise _fail(g, "E203", "cannot be read (permission denied)", "check its permissions") from None


def _check_output(g: _Given, *, force: bool) -> None:
    """An output is the kind meant where it exists, may be replaced, and its folder can be made."""
    path = Path(g.path)
    if path.is_dir() and g.role.kind == "file":
        raise _fail(
            g, "E202", "is a folder, but a file is meant", f"name the file to write, e.g. in {g.path}"
        )
    if path.exists() and not path.is_dir() and g.role.kind == "folder":
        raise _fail(g, "E202", "is a file, but a folder is meant", "name a folder, or move the file")
    if g.role.force is not None and path.exists() and not force:
        option = "--" + g.role.force.replace("_", "-")
        raise _fail(g, "E220", "exists; refusing to replace it", f"pass {option} to replace it")
    if path.is_dir() and g.role.force is None:
        _check_writable_folder(g, path)  # written into
    else:
        _check_parent(g)  # created, or replaced by a rename in its folder


def _check_writable_folder(g: _Given, folder: Path) -> None:
    if not (os.access(folder, os.W_OK | os.X_OK) and os.access(folder, os.R_OK)):
        raise _fail(g, "E203", "cannot be written (permission denied)", "check its permissions")


def _check_parent(g: _Given) -> None:
    """The nearest existing folder above the path is a folder we may write in."""
    parent = Path(os.path.abspath(g.path)).parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise _fail(g, "E205", f"its folder cannot be created: {parent} is a file", "choose another path")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise _fail(g, "E203", f"cannot write in {parent} (permission denied)", "choose another path")


def _check_not_an_input(out: _Given, inputs: Iterable[_Given]) -> None:
    """An output never is one of the inputs, nor (a folder replaced whole) holds one, nor
    (existing already) lies inside an input folder."""
    target = os.path.realpath(out.path)
    for i in inputs:
        source = os.path.realpath(i.path)
        if target == source or _same_file(out.path, i.path):
            raise _fail(
                out, "E204", f"is also the input {i.option} {i.path}", "write the output to another path"
            )
        if out.role.kind == "folder" and out.role.force is not None and _inside(source, target):
            raise _fail(out, "E204", f"holds the input {i.option} {i.path}", "write the output elsewhere")
        if os.path.isdir(source) and _inside(target, source) and os.path.exists(target):
            # Read again with the folder, it would be one of the inputs.
            raise _fail(
                out,
                "E204",
                f"exists inside the input folder {i.option} {i.path}, so it would be read as an input",
                "write the output outside that folder",
            )


def _check_distinct(outputs: Iterable[_Given]) -> None:
    """No two outputs of one command are the same path: the later write would replace the other."""
    seen: dict[str, _Given] = {}
    for g in outputs:
        target = os.path.realpath(g.path)
        first = seen.setdefault(target, g)
        if first is not g:
            raise _fail(
                g, "E206", f"is also the output {first.option} {first.path}", "give each output its own path"
            )


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _inside(path: str, folder: str) -> bool:
    return os.path.commonpath([path, folder]) == folder and path != folder
