"""The exception tree: one root, each leaf also inheriting the nearest builtin.

Every message names the offending object, the rule it broke and what to do
instead, on one line, so the command line can print it as is.
"""

from __future__ import annotations

__all__ = [
    "GitCommandError",
    "GitRepoError",
    "JournalError",
    "NetFormatError",
    "NotEnabledError",
    "PetriExecError",
    "PortError",
    "RunFileError",
    "RunLockedError",
    "RunPathError",
    "TemplateError",
    "UnknownTransitionError",
    "UsageError",
]


class PetriExecError(Exception):
    """Root of every error petri-exec raises on purpose."""


class RunFileError(PetriExecError, ValueError):
    """A run file (run.json) or run value is invalid.

    Attributes:
        file: The file that was read, or None for an in-memory run.
        json_path: The JSON path of the offending value (``slices[3].depends_on[0]``),
            or ``""`` for the whole document.
    """

    def __init__(self, message: str, *, file: str | None = None, json_path: str = "") -> None:
        self.file = file
        self.json_path = json_path
        where = file if file is not None else "<run>"
        if json_path:
            where = f"{where}: {json_path}"
        super().__init__(f"{where}: {message}")


class TemplateError(PetriExecError, ValueError):
    """A net template is missing or invalid."""


class JournalError(PetriExecError, ValueError):
    """A run's journal (``<stem>.events.jsonl``) is unreadable or contradicts the net."""


class NetFormatError(PetriExecError, ValueError):
    """A net file or foreign net (PNML, SNAKES) is malformed or not a place/transition net.

    Attributes:
        file: The file that was read (``<bytes>`` or ``<snakes>`` when there is none).
        element: The offending element (``<arc id="a3">``), or ``""`` for the whole file.
        line: The line of the offending element (1-based), or None when unknown.
    """

    def __init__(self, message: str, *, file: str = "<bytes>", element: str = "",
                 line: int | None = None) -> None:
        self.file = file
        self.element = element
        self.line = line
        where = file if line is None else f"{file}:{line}"
        if element:
            where = f"{where}: {element}"
        super().__init__(f"{where}: {message}")


class NotEnabledError(PetriExecError, RuntimeError):
    """A transition was fired while it is not enabled; the message names the missing tokens."""


class UnknownTransitionError(PetriExecError, LookupError):
    """A transition name that the net does not have."""


class RunLockedError(PetriExecError, BlockingIOError):
    """Another driver holds the run's lock."""


class RunPathError(PetriExecError, OSError):
    """A path the user gave (run file, journal, output, directory) cannot be used: it cannot
    be read or written, or it is not the kind of file it must be. The message names the path
    and the cause."""


class PortError(PetriExecError, TypeError):
    """A ports object or a port's return value has the wrong shape."""


class UsageError(PetriExecError, ValueError):
    """An API or command-line argument is invalid (e.g. an unknown scheduler name)."""


class GitRepoError(PetriExecError, ValueError):
    """The git ports were given an unusable repository, base branch, agent command or run
    worktree path (not a repository, no commits, an unknown base, a path that is not ours)."""


class GitCommandError(PetriExecError, RuntimeError):
    """A git command the git ports ran failed; the message names the command, its exit code
    and git's last line of error output."""
