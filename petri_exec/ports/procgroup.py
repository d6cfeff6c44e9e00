"""Commands in their own process group, so that ending a step ends everything it started.

A port that runs a command (the shell and git ports) starts it in a new session (its own
process group) through :func:`run_command` and registers the group under its drive's
*owner* (the run file's path). A timeout ends the whole group (``SIGTERM``, then ``SIGKILL``
after ``kill_after_s``); the engine ends every group of a drive on an interrupt after the
grace period, and on the drive's end (halt, abandon, completion) whatever is left, so no
process of a step outlives its attempt.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

__all__ = ["KILL_AFTER_S", "groups_of", "run_command", "signal_groups", "terminate_groups"]

#: Seconds between ``SIGTERM`` and ``SIGKILL`` when a group is ended.
KILL_AFTER_S = 5.0

_lock = threading.Lock()
_groups: dict[str, set[int]] = {}


def _register(owner: str, pgid: int) -> None:
    with _lock:
        _groups.setdefault(owner, set()).add(pgid)


def _unregister(owner: str, pgid: int) -> None:
    with _lock:
        pgids = _groups.get(owner)
        if pgids is not None:
            pgids.discard(pgid)
            if not pgids:
                del _groups[owner]


def groups_of(owner: str | None) -> list[int]:
    """The process groups of ``owner``'s running commands (all owners for None)."""
    with _lock:
        if owner is None:
            return [g for gs in _groups.values() for g in gs]
        return list(_groups.get(owner, ()))


def signal_groups(owner: str | None, sig: int) -> int:
    """Send ``sig`` to every running group of ``owner`` (async-signal tolerant: no waiting).

    Returns:
        How many groups were signalled.
    """
    n = 0
    for pgid in groups_of(owner):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)
            n += 1
    return n


def terminate_groups(owner: str | None, kill_after_s: float = KILL_AFTER_S) -> None:
    """End every running group of ``owner``: ``SIGTERM``, then ``SIGKILL`` to what is left
    after ``kill_after_s`` (returns once the groups' commands were reaped or killed)."""
    if not signal_groups(owner, signal.SIGTERM):
        return
    deadline = time.monotonic() + kill_after_s
    while groups_of(owner) and time.monotonic() < deadline:
        time.sleep(0.01)
    signal_groups(owner, signal.SIGKILL)


def run_command(argv: list[str], *, owner: str | None, cwd: str | Path,
                env: Mapping[str, str] | Mapping[bytes, bytes], stdout: IO[Any] | int,
                timeout_s: float | None = None, kill_after_s: float = KILL_AFTER_S,
                on_start: Callable[[int], Any] | None = None,
                stdin: IO[Any] | int = subprocess.DEVNULL,
                executable: str | None = None) -> int | None:
    """Run ``argv`` in a new process group registered under ``owner``; wait for it.

    Args:
        argv: The program and its arguments.
        owner: The drive it belongs to (the run file's path), or None.
        cwd: Working directory.
        env: Environment.
        stdout: Where stdout and stderr go.
        timeout_s: End the group after this many seconds.
        kill_after_s: Seconds between ``SIGTERM`` and ``SIGKILL``.
        on_start: Called with the new group's id once it runs (the git ports record it, to
            end a group that a killed drive left behind).
        stdin: Its standard input (default ``/dev/null``).
        executable: The program's file, when the caller has looked it up (``argv[0]`` is
            then only the name the program is told); None: ``argv[0]`` is searched on the
            ``PATH`` of ``env``.

    Returns:
        The exit code (negative: killed by that signal), or None when it timed out.

    Raises:
        OSError: The program could not be started.
    """
    proc = subprocess.Popen(argv, executable=executable, cwd=cwd, env=env, stdout=stdout,
                            stderr=subprocess.STDOUT, stdin=stdin,
                            start_new_session=True)
    key = owner or ""
    _register(key, proc.pid)
    try:
        if on_start is not None:
            on_start(proc.pid)
        try:
            return proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=kill_after_s)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            return None
    finally:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)  # what the command left in its group
        _unregister(key, proc.pid)
