"""Detect I/O during a call, with a ``sys.addaudithook`` audit hook.

The hook is installed once per process (audit hooks cannot be removed) and does nothing
unless a :func:`forbid_io` block is active on the calling thread. Inside one, a
filesystem write or open, a subprocess, or a network connection is refused with
:class:`ForbiddenIO` and recorded (so a scheduler that swallows the exception is still
caught). Opens made by the import system (reading ``.py``/``.pyc``/extension files) are
allowed: a lazy import is not I/O a scheduler performs.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Iterator
from typing import Any

__all__ = ["ForbiddenIO", "forbid_io"]

_WATCHED = frozenset({
    "open", "os.remove", "os.rename", "os.mkdir", "os.rmdir", "os.truncate", "os.chmod",
    "os.symlink", "os.link", "os.utime", "shutil.copyfile", "shutil.rmtree", "shutil.move",
    "subprocess.Popen", "os.system", "os.exec", "os.spawn", "os.posix_spawn", "os.fork",
    "os.startfile", "socket.connect", "socket.bind", "socket.getaddrinfo",
    "socket.gethostbyname", "socket.sendto", "socket.sendmsg", "urllib.Request",
    "http.client.connect", "sqlite3.connect",
})
_IMPORT_SUFFIXES = (".py", ".pyc", ".pyi", ".so", ".pyd", ".pth")


class ForbiddenIO(RuntimeError):
    """Raised inside :func:`forbid_io` for an I/O operation."""


_local = threading.local()
_installed = False
_install_lock = threading.Lock()


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if event not in _WATCHED:  # the fast path: most audit events are not I/O
        return
    seen: list[str] | None = getattr(_local, "seen", None)
    if seen is None:
        return
    if event == "open":
        path, mode = (*args, None, None)[:2]
        readonly = mode is None or (isinstance(mode, str) and not set(mode) & set("wax+"))
        if readonly and str(path).endswith(_IMPORT_SUFFIXES):
            return
        what = f"open({path!r}, {mode!r})"
    else:
        what = f"{event}{tuple(repr(a)[:60] for a in args)}"
    seen.append(what)
    raise ForbiddenIO(f"I/O is forbidden here: {what}")


def _install() -> None:
    global _installed
    with _install_lock:
        if not _installed:
            sys.addaudithook(_hook)
            _installed = True


@contextlib.contextmanager
def forbid_io() -> Iterator[list[str]]:
    """Refuse and record I/O on this thread while the block runs.

    Yields:
        The list the I/O operations attempted are appended to (as short descriptions).
    """
    _install()
    outer = getattr(_local, "seen", None)
    seen: list[str] = []
    _local.seen = seen
    try:
        yield seen
    finally:
        _local.seen = outer
        if outer is not None:
            outer.extend(seen)
