"""The user's commands in a git run (agent, test, setup): ``/bin/sh -c`` in a worktree.

Each runs in its own process group (:func:`.procgroup.run_command`, registered under the
drive's run file, so a timeout, an interrupt or the drive's end ends everything it
started), its output (stdout and stderr) in a log file. While it runs, a pid file records
its group and the group leader's start time: if a drive is killed outright (SIGKILL, a
crash) its commands live on as orphans, and the next attempt of the same step ends such a
group before it starts again, so two agents never edit one worktree. A reused pid is
never signalled (its start time differs). The command itself starts only once its pid
file is written: its shell first waits for the drive's go-ahead on a pipe, and exits
(125) without running it when the drive died before recording it.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Mapping
from pathlib import Path

from .procgroup import run_command as run_in_group

__all__ = ["run_command", "stop_orphan", "tail"]


def _start_time(pid: int) -> str | None:
    """A process's start time in clock ticks since boot (Linux ``/proc``), or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2:].split()
    return fields[19] if len(fields) > 19 else None


#: The group leader's script: wait for the go-ahead (end of file: the drive died before
#: recording the group, so the command must not run untracked), then become the command's
#: shell with ``/dev/null`` as its input.
_GATED = 'read -r _ || exit 125; exec /bin/sh -c "$1" </dev/null'


def stop_orphan(pidfile: Path) -> bool:
    """End the process group recorded in ``pidfile`` if its leader still runs with the
    recorded start time (a command orphaned by a killed drive); remove the file.

    Returns:
        Whether a group was ended.
    """
    try:
        pgid_text, _, started = pidfile.read_text().partition(" ")
        pgid = int(pgid_text)
    except (OSError, ValueError):
        return False
    stopped = bool(started.strip()) and _start_time(pgid) == started.strip()
    if stopped:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
    with contextlib.suppress(FileNotFoundError):
        pidfile.unlink()
    return stopped


def run_command(command: str, *, owner: str | None, cwd: Path, env: Mapping[str, str],
                log: Path, pidfile: Path, timeout_s: float | None = None) -> tuple[int, bool]:
    """Run ``command`` through ``/bin/sh -c`` in ``cwd``, its output in ``log``.

    Args:
        command: The shell command line.
        owner: The drive it belongs to (the run file's path).
        cwd: Its working directory.
        env: Its environment.
        log: Where stdout and stderr go (overwritten).
        pidfile: Where the running group is recorded (removed when it ends).
        timeout_s: End its process group after this many seconds.

    Returns:
        Its exit code (negative: killed by that signal) and whether it timed out.
    """
    stop_orphan(pidfile)
    pidfile.parent.mkdir(parents=True, exist_ok=True)

    gate, go = os.pipe()

    def record(pgid: int) -> None:
        pidfile.write_text(f"{pgid} {_start_time(pgid) or ''}")
        os.write(go, b"\n")  # recorded: the command may start

    try:
        with open(log, "wb") as out:
            rc = run_in_group(["/bin/sh", "-c", _GATED, "petri-exec", command], owner=owner,
                              cwd=cwd, env=env, stdout=out, timeout_s=timeout_s,
                              on_start=record, stdin=gate)
            if rc is None:
                out.write(f"\n[petri-exec] ended after {timeout_s}s\n".encode())
    finally:
        os.close(gate)
        os.close(go)
        with contextlib.suppress(FileNotFoundError):
            pidfile.unlink()
    return (-signal.SIGKILL, True) if rc is None else (rc, False)


def tail(log: Path, lines: int = 20, chars: int = 2000) -> str:
    """The last ``lines`` lines of a log (at most ``chars`` characters)."""
    try:
        with open(log, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 8 * chars))
            data = f.read().decode(errors="replace")
    except OSError:
        return ""
    text = "\n".join(data.rstrip("\n").splitlines()[-lines:])
    return text[-chars:]
