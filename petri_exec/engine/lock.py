"""One driver per run: an exclusive ``flock`` on the run file itself.

The lock follows the run file's identity (its inode), not a path name: a symbolic link to
the run, or a second name for its directory, reaches the same lock, and there is no lock
file a user could delete to let a second driver in. Because checkpoints replace run.json by
renaming a new file over it, the driver locks each new file *before* renaming it into place
(:func:`petri_exec.run.jsonio.write_atomic` with ``keep_locked``) and only then lets go of
the old one, so the file at the run's path is locked at every instant. A driver that
locked a file and then finds another file at the path (replaced meanwhile) lets go and
tries again. The OS releases the lock when the holder exits or dies.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from ..errors import RunFileError, RunLockedError, UsageError
from ..run.jsonio import open_regular

__all__ = ["RunLock", "holder_pid", "run_lock"]


def holder_pid(fd: int, path: Path | None = None) -> int | None:
    """The pid holding a ``flock`` on the file open as ``fd`` (Linux ``/proc/locks``), or on
    the file now at ``path`` (a checkpoint may have moved the lock to a new file meanwhile).

    Args:
        fd: An open descriptor of the locked file.
        path: The run file's path.

    Returns:
        The pid, or None when it cannot be told.
    """
    pid = _holder(os.fstat(fd))
    if pid is None and path is not None:
        with contextlib.suppress(OSError):
            pid = _holder(os.stat(path))
    return pid


def _holder(st: os.stat_result) -> int | None:
    want = (os.major(st.st_dev), os.minor(st.st_dev), st.st_ino)
    try:
        with open("/proc/locks", encoding="ascii", errors="replace") as f:
            for line in f:
                parts = line.split()
                if len(parts) < 6 or parts[1] == "->" or parts[1] != "FLOCK":
                    continue
                try:
                    major, minor, ino = parts[5].split(":")
                    if (int(major, 16), int(minor, 16), int(ino)) == want:
                        return int(parts[4])
                except ValueError:
                    continue
    except OSError:
        return None
    return None


class RunLock:
    """An exclusive lock on a run file, held until :meth:`close`."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        """Lock the run file at ``path`` (symbolic links resolved).

        Raises:
            RunLockedError: Another driver holds it; the message names its pid.
            RunFileError: The run file cannot be opened.
            UsageError: The run file has other hard links (a second name that is not
                replaced by checkpoints would escape the lock).
        """
        self.path = Path(os.path.realpath(path))
        self.fd = -1
        for _ in range(1000):
            try:
                fd = open_regular(self.path, os.O_RDONLY)
            except OSError as e:
                raise RunFileError(f"cannot open run file ({e.strerror})",
                                   file=os.fspath(path)) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                pid = (holder_pid(fd, self.path)
                       if e.errno in (errno.EWOULDBLOCK, errno.EACCES) else None)
                os.close(fd)
                if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise
                raise RunLockedError(
                    f"{os.fspath(path)}: the run is locked by "
                    f"{'pid ' + str(pid) if pid else 'another process'} (another drive, fire "
                    "or operation holds it); wait for it to finish or stop that process"
                ) from None
            st = os.fstat(fd)
            try:
                now = os.stat(self.path)
            except FileNotFoundError:
                os.close(fd)
                continue
            if (st.st_dev, st.st_ino) != (now.st_dev, now.st_ino):
                os.close(fd)  # replaced between open and flock: lock the new file
                continue
            if st.st_nlink > 1:
                os.close(fd)
                raise UsageError(
                    f"{os.fspath(path)}: the run file has {st.st_nlink} hard links; a "
                    "checkpoint replaces only one name, so the others would escape the "
                    "lock: keep one name (use a copy or a symbolic link instead)")
            self.fd = fd
            return
        raise RunLockedError(f"{os.fspath(path)}: the run file keeps being replaced by "
                             "another process; stop it and try again")

    def swap(self, fd: int) -> None:
        """Hold ``fd`` (the new run file, locked before it was renamed into place) and let
        go of the old one."""
        old, self.fd = self.fd, fd
        if old >= 0:
            os.close(old)

    def close(self) -> None:
        """Release the lock (idempotent)."""
        if self.fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = -1


@contextlib.contextmanager
def run_lock(path: str | os.PathLike[str]) -> Iterator[RunLock]:
    """Hold the run's exclusive lock for the duration of the block.

    Args:
        path: The run file.

    Yields:
        The lock (its :meth:`RunLock.swap` keeps it across a checkpoint).

    Raises:
        RunLockedError: Another process (or another drive in this one) holds the lock.
    """
    lock = RunLock(path)
    try:
        yield lock
    finally:
        lock.close()
