"""One exception hierarchy for the library; the CLI turns these into one-line messages."""

from __future__ import annotations

__all__ = [
    "CannotWriteError",
    "GymkitError",
    "InvalidDataError",
    "InvalidServerConfigError",
    "ServerLoadError",
    "ServerNotFoundError",
    "UserError",
]


class GymkitError(Exception):
    """Base class: anything gymkit raises on purpose.

    ``hint`` is an optional next step shown under the message.
    """

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UserError(GymkitError):
    """Bad input from the person at the keyboard: a flag, a name, a path."""


class ServerNotFoundError(UserError, LookupError):
    """No resource server by that name or path."""


class InvalidServerConfigError(UserError, ValueError):
    """A configs/*.yaml that does not follow the NeMo Gym config shape.

    ``path`` and ``line`` say where, when known, and ``problem`` is the message without them,
    so a report can show the place as fields instead of parsing it back out of the message.
    """

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        path: object = None,
        line: int | None = None,
        problem: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.path, self.line, self.problem = path, line, problem or message


class InvalidDataError(UserError, ValueError):
    """A JSONL file with a row that does not parse or validate; names file and line."""

    def __init__(self, path: object, line: int | None, problem: str, *, hint: str | None = None) -> None:
        where = f"{path}:{line}" if line is not None else f"{path}"
        super().__init__(f"{where}: {problem}", hint=hint)
        self.path = path
        self.line = line
        self.problem = problem


class ServerLoadError(UserError):
    """app.py could not be imported or defines no server instance."""


class CannotWriteError(UserError, OSError):
    """A file gymkit was asked to write could not be written; still an OSError for callers."""

    def __init__(self, path: object, cause: OSError) -> None:
        super().__init__(f"{path}: cannot write: {cause.strerror or cause}")
        self.errno, self.strerror, self.filename = cause.errno, cause.strerror, str(path)
