"""File input and output: atomic writes, JSONL reading with true line numbers, ``-`` for stdio."""

from __future__ import annotations

import contextlib
import glob
import io
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from annotate.errors import DataError, OutputExistsError

STDIO = "-"


def _umask() -> int:
    # os.umask can only be read by setting it; set it straight back.
    mask = os.umask(0)
    os.umask(mask)
    return mask


def is_stdio(path: str | os.PathLike[str]) -> bool:
    return str(path) == STDIO


def check_writable(path: str | os.PathLike[str], *, force: bool) -> None:
    """Raise OutputExistsError if ``path`` exists and ``force`` is false."""
    if is_stdio(path):
        return
    if Path(path).exists() and not force:
        raise OutputExistsError(
            f"{path} exists; refusing to overwrite it",
            hint="pass --force to replace it",
        )


@contextlib.contextmanager
def atomic_write(
    path: str | os.PathLike[str],
    *,
    force: bool = False,
    mode: str = "w",
    encoding: str | None = "utf-8",
    private: bool = False,
) -> Iterator[IO[Any]]:
    """Yield a file that replaces ``path`` only when the block ends without an exception.

    The data goes to a temp file beside the target, is fsynced, then ``os.replace``d, so a
    reader never sees a partial file and a failure leaves the old file (or none) in place.
    ``-`` writes to stdout. A ``private`` file (it holds secrets) is 0600 from its first byte.
    """
    if is_stdio(path):
        if "b" in mode:
            yield sys.stdout.buffer
        else:
            yield sys.stdout
        sys.stdout.flush()
        return
    target = Path(path)
    check_writable(target, force=force)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        # mkstemp makes the file 0600; the output is the user's file, so give it the usual mode.
        os.fchmod(fd, 0o600 if private else 0o666 & ~_umask())
        os.close(fd)
        kwargs: dict[str, Any] = {} if "b" in mode else {"encoding": encoding, "newline": ""}
        # Opened by path, so that ``f.name`` is the temp file's path (a caller may check it).
        with open(tmp, mode, **kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def leftover_temp_files(path: str | os.PathLike[str]) -> list[Path]:
    """Return the temp files :func:`atomic_write` left beside ``path``: a process killed with
    SIGKILL (or a machine that went down) runs no cleanup. Only a caller that knows no other
    process writes ``path`` may remove them (``preannotate --resume`` does)."""
    target = Path(path)
    if not target.parent.is_dir():
        return []
    pattern = f".{glob.escape(target.name)}.*.tmp"
    return sorted(p for p in target.parent.glob(pattern) if p.is_file() and not p.is_symlink())


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike[str], *, force: bool = False) -> Iterator[Path]:
    """Yield a temp directory that becomes ``path`` only when the block succeeds.

    An existing ``path`` is refused unless ``force``; with ``force`` it is replaced whole.
    """
    target = Path(path)
    check_writable(target, force=force)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes it 0700
        yield tmp
        if target.exists():
            old = target.with_name(f".{target.name}.old")
            if old.exists():
                shutil.rmtree(old)
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def dumps_line(obj: Any, *, ensure_ascii: bool = False) -> str:
    """One canonical JSONL line (no trailing newline): stable key order is the caller's."""
    return json.dumps(obj, ensure_ascii=ensure_ascii, separators=(", ", ": "))


def write_jsonl(
    path: str | os.PathLike[str], records: Iterable[Any], *, force: bool = False, ensure_ascii: bool = False
) -> int:
    """Write ``records`` (JSON-able objects) atomically, one per line. Returns the count."""
    n = 0
    with atomic_write(path, force=force) as f:
        for rec in records:
            f.write(dumps_line(rec, ensure_ascii=ensure_ascii))
            f.write("\n")
            n += 1
    return n


@contextlib.contextmanager
def open_text(path: str | os.PathLike[str]) -> Iterator[IO[str]]:
    """Open a UTF-8 text file (``-`` is stdin), keeping newlines exactly as they are."""
    if is_stdio(path):
        yield sys.stdin
        return
    with _open_file(path, "r", encoding="utf-8", newline="") as f:
        yield f


def open_binary(path: str | os.PathLike[str]) -> IO[bytes]:
    """Open a file for reading bytes (``-`` is stdin's buffer); the caller closes a real file."""
    if is_stdio(path):
        buf = getattr(sys.stdin, "buffer", None)
        if buf is not None:
            return buf  # type: ignore[no-any-return]
        # A text-only stdin (e.g. a test runner's): its text, as UTF-8 bytes.
        return io.BytesIO(sys.stdin.read().encode("utf-8"))
    return _open_file(path, "rb")


def _open_file(path: str | os.PathLike[str], mode: str, **kwargs: Any) -> IO[Any]:
    """``open``, with a missing file or a directory as a DataError naming the path (E101)."""
    try:
        return open(path, mode, **kwargs)
    except FileNotFoundError:
        raise DataError("no such file", path=str(path), code="E101") from None
    except IsADirectoryError:
        raise DataError("is a directory, not a file", path=str(path), code="E101") from None


def iter_jsonl(path: str | os.PathLike[str]) -> Iterator[tuple[int, Any]]:
    """Yield ``(line_number, value)`` for each non-blank line of a JSONL file.

    Line numbers are physical (blank lines count). Invalid JSON or undecodable bytes raise a
    DataError naming ``file:line``.
    """
    name = "<stdin>" if is_stdio(path) else str(path)
    with open_text(path) as f:
        lineno = 0
        try:
            for lineno, line in enumerate(f, start=1):
                if lineno == 1 and line.startswith("\ufeff"):
                    raise DataError(
                        "file starts with a UTF-8 byte order mark",
                        path=name,
                        line=1,
                        code="E103",
                        hint="save the file as UTF-8 without BOM",
                    )
                if not line.strip():
                    continue
                try:
                    yield lineno, json.loads(line)
                except json.JSONDecodeError as e:
                    raise DataError(
                        f"invalid JSON: {e.msg} (column {e.colno})", path=name, line=lineno, code="E102"
                    ) from None
        except UnicodeDecodeError as e:
            raise DataError(
                f"not UTF-8: {e.reason} at byte {e.start}", path=name, line=lineno + 1, code="E104"
            ) from None
