"""The one exception hierarchy of annotate.

Every error carries a stable code (``E1xx`` data, ``E2xx`` usage/config, ``E3xx`` server,
``E900`` an internal error: a bug) and an exit status. The library raises these; only the
CLI turns them into messages and exit codes (see ``annotate.cli._app.user_errors``).
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2
EXIT_SERVER = 3
EXIT_INTERNAL = 4  # a bug of annotate: an exception no code path expected (E900)


class AnnotateError(Exception):
    """Base class: a message for the user, a stable code, an optional hint."""

    code = "E000"
    exit_code = EXIT_USAGE

    def __init__(self, message: str, *, hint: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}"


class DataError(AnnotateError):
    """The data is invalid (exit 1). Carries the location where known."""

    code = "E100"
    exit_code = EXIT_INVALID

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        pointer: str | None = None,
        hint: str | None = None,
        code: str | None = None,
    ) -> None:
        self.path = path
        self.line = line
        self.pointer = pointer
        where = location(path, line, pointer)
        super().__init__(f"{where}: {message}" if where else message, hint=hint, code=code)


class UsageError(AnnotateError):
    """Wrong arguments or options (exit 2)."""

    code = "E200"
    exit_code = EXIT_USAGE


class PathError(UsageError):
    """A path argument is wrong: missing, the wrong kind, unreadable, or an input as output (exit 2).

    Codes: E201 missing, E202 a file for a folder or the reverse, E203 permission, E204 an
    output that is an input, E205 an output's folder that cannot be created, E220 an output
    that exists without ``--force``.
    """

    code = "E201"


class ConfigError(AnnotateError):
    """A recipe, config or settings problem (exit 2)."""

    code = "E210"
    exit_code = EXIT_USAGE


class OutputExistsError(UsageError):
    """The output exists and --force was not given (exit 2)."""

    code = "E220"


class ModelNotFoundError(ConfigError):
    """No spaCy pipeline named by the recipe is installed (exit 2)."""

    code = "E230"


class ServerError(AnnotateError):
    """Doccano or the network failed (exit 3)."""

    code = "E300"
    exit_code = EXIT_SERVER


class ConnectionFailed(ServerError):
    code = "E301"


class AuthenticationFailed(ServerError):
    code = "E302"


class NotFound(ServerError):
    code = "E304"


class TaskFailed(ServerError):
    """A Doccano import/export task failed or timed out."""

    code = "E305"


def location(path: str | None, line: int | None, pointer: str | None) -> str:
    """Return ``file:line: /pointer`` with the parts that are known."""
    where = ""
    if path is not None:
        where = str(path)
        if line is not None:
            where += f":{line}"
    if pointer is not None:
        where = f"{where}: {pointer}" if where else pointer
    return where


class PermissionDenied(ServerError):
    """Logged in, but the user's role does not allow this (HTTP 403)."""

    code = "E303"


class RequestRejected(ServerError):
    """Doccano rejected the request as invalid (HTTP 4xx other than 401/403/404)."""

    code = "E306"

    def __init__(self, message: str, *, status: int, body: str = "", hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.body = body


class ServerNotInstalled(ServerError):
    """Installing or finding the local Doccano server failed (exit 1: nothing runs, nothing to retry)."""

    code = "E310"
    exit_code = EXIT_INVALID


class ServerStartFailed(ServerError):
    """The local Doccano server did not start or did not become healthy."""

    code = "E311"


# -- push and pull (E16x data, E25x project) --------------------------------------------------------


class ProjectConflict(ConfigError):
    """A Doccano project's settings or label types disagree with the recipe (exit 2)."""

    code = "E250"


class HashMismatch(DataError):
    """A pulled text no longer matches the ``doc_hash`` it was pushed with (exit 1)."""

    code = "E161"


# -- teams (E18x) -------------------------------------------------------------------------------------


class TeamError(AnnotateError):
    """A team's annotators, roles, routing or adjudication inputs are wrong (exit 1)."""

    code = "E180"
    exit_code = EXIT_INVALID


# -- preannotate on a Dask cluster (E232 pipeline, E32x cluster) -----------------------------------


class PipelineMismatch(ConfigError):
    """A Dask worker has another spaCy pipeline (or version) than the client (exit 2)."""

    code = "E232"


class ClusterError(ServerError):
    """The Dask scheduler cannot be reached or went away, or the cluster lost the work (exit 3)."""

    code = "E320"
