"""The user's commands in a git run (agent, test, setup): ``/bin/sh -c`` in a worktree.

Output (stdout and stderr) goes to a log file. While a command runs, a pid file records
its process (pid and start time); if a killed drive left the command running as an orphan,
the next attempt of the same step stops it (and its children) before starting again, so two
agents never edit one worktree. A command that outlives ``timeout_s`` is killed the same way.
Commands share the driver's process group, so Ctrl-C in a terminal reaches them too.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Mapping
from pathlib import Path

__all__ = ["run_command", "stop_orphan", "tail"]

_PROC = Path("/proc")


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), or None."""
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2:].split()
    return fields[19] if len(fields) > 19 else None


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (from /proc; just ``pid`` elsewhere)."""
    children: dict[int, list[int]] = {}
    try:
        entries = [e for e in os.listdir(_PROC) if e.isdigit()]
    except OSError:
        return [pid]
    for entry in entries:
        try:
            stat = (_PROC / entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) > 1 and fields[1].isdigit():
            children.setdefault(int(fields[1]), []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, ()))
    return out


def _kill_tree(pid: int) -> None:
    for p in _tree(pid):
        with contextlib.suppress(OSError):
            os.kill(p, signal.SIGKILL)


def stop_orphan(pidfile: Path) -> bool:
    """Stop the command recorded in ``pidfile`` if it still runs (an orphan of a killed
    drive); the start time must match, so a reused pid is never killed.

    Returns:
        Whether a process was stopped.
    """
    try:
        pid_text, _, started = pidfile.read_text().partition(" ")
        pid = int(pid_text)
    except (OSError, ValueError):
        return False
    stopped = bool(started) and _start_time(pid) == started.strip()
    if stopped:
        _kill_tree(pid)
    with contextlib.suppress(FileNotFoundError):
        pidfile.unlink()
    return stopped


def run_command(command: str, *, cwd: Path, env: Mapping[str, str], log: Path, pidfile: Path,
                timeout_s: float | None = None) -> tuple[int, bool]:
    """Run ``command`` through ``/bin/sh -c`` in ``cwd``, its output in ``log``.

    Args:
        command: The shell command line.
        cwd: Its working directory.
        env: Its environment.
        log: Where stdout and stderr go (overwritten).
        pidfile: Where the running process is recorded (removed when it ends).
        timeout_s: Kill it (and its children) after this many seconds.

    Returns:
        Its exit code (negative: killed by that signal) and whether it timed out.
    """
    stop_orphan(pidfile)
    pidfile.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        proc = subprocess.Popen(["/bin/sh", "-c", command], cwd=cwd, stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=dict(env))
        try:
            pidfile.write_text(f"{proc.pid} {_start_time(proc.pid) or ''}")
            try:
                return proc.wait(timeout=timeout_s), False
            except subprocess.TimeoutExpired:
                _kill_tree(proc.pid)
                out.write(f"\n[petri-exec] killed after {timeout_s}s\n".encode())
                return proc.wait(), True
        except BaseException:  # interrupted: do not leave the command running
            _kill_tree(proc.pid)
            proc.wait()
            raise
        finally:
            with contextlib.suppress(FileNotFoundError):
                pidfile.unlink()


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
