"""The git ports' user commands (petri_exec/ports/command.py): logs, timeouts, and commands
orphaned by a killed drive, stopped before their step runs again. Real processes, real
signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import petri_exec as pe
from petri_exec.ports.command import run_command, stop_orphan, tail

from .gitutil import (
    git,
    isolated_git,  # noqa: F401  (autouse fixture)
    make_repo,
    write_git_run,
)

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait_for(predicate: object, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def test_run_command_logs_and_times_out_killing_children(tmp_path: Path) -> None:
    log, pidfile = tmp_path / "x.log", tmp_path / "pids" / "x.pid"
    rc, timed_out = run_command("echo one; echo two >&2; exit 3", owner=None, cwd=tmp_path,
                                env=dict(os.environ), log=log, pidfile=pidfile)
    assert (rc, timed_out) == (3, False)
    assert log.read_text() == "one\ntwo\n" and tail(log, 1) == "two"
    assert not pidfile.exists()
    rc, timed_out = run_command("sleep 30 & echo $! > child.pid; sleep 30", owner=None,
                                cwd=tmp_path, env=dict(os.environ), log=log, pidfile=pidfile,
                                timeout_s=2)  # time enough to write child.pid when slow
    assert timed_out and rc == -signal.SIGKILL
    child = int((tmp_path / "child.pid").read_text())
    _wait_for(lambda: not _alive(child))
    assert "[petri-exec] ended after 2s" in log.read_text()


def test_stop_orphan_checks_the_start_time(tmp_path: Path) -> None:
    proc = subprocess.Popen(["sh", "-c", "sleep 30 & echo $! > child.pid; wait"], cwd=tmp_path,
                            start_new_session=True)  # a group of its own, as run_command's
    try:
        _wait_for(lambda: (tmp_path / "child.pid").exists()
                  and (tmp_path / "child.pid").read_text().strip())
        stat = Path(f"/proc/{proc.pid}/stat").read_text()
        started = stat.rsplit(")", 1)[1].split()[19]
        pidfile = tmp_path / "x.pid"
        pidfile.write_text(f"{proc.pid} 1{started}")  # a reused pid: another start time
        assert stop_orphan(pidfile) is False and proc.poll() is None
        pidfile.write_text(f"{proc.pid} {started}")
        assert stop_orphan(pidfile) is True
        assert proc.wait(10) == -signal.SIGKILL
        _wait_for(lambda: not _alive(int((tmp_path / "child.pid").read_text())))
        assert not pidfile.exists()
    finally:
        proc.kill()
        proc.wait()


def test_agent_timeout_fails_the_step(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    run = write_git_run(repo / "run.json", [{"id": "slow"}])
    out = pe.drive(run, pe.GitPorts(agent="sleep 30", timeout_s=0.5))
    assert out.step == "agent_result:slow"
    assert out.reason == ("agent command 'sleep 30' timed out after 0.5s and was killed; "
                          "nothing committed (log: run.work/logs/slow.agent.1.log)")


_DRIVER = """
import sys, petri_exec as pe
pe.drive(sys.argv[1], pe.GitPorts(agent=sys.argv[2]))
"""


def test_an_agent_orphaned_by_a_killed_drive_is_stopped_before_the_retry(
        tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    run = write_git_run(repo / "run.json", [{"id": "s"}])
    slow = "echo $$ > ../../../agent.pid; sleep 30; echo late > late.txt"
    driver = subprocess.Popen([sys.executable, "-c", _DRIVER, str(run), slow])
    agent_pid = repo / "run.work" / "agent.pid"
    try:
        _wait_for(lambda: agent_pid.exists() and agent_pid.read_text().strip(), 60)
        driver.send_signal(signal.SIGKILL)  # the driver only: its agent lives on
        driver.wait()
        orphan = int(agent_pid.read_text())
        assert _alive(orphan)
        out = pe.drive(run, pe.GitPorts(agent="echo fast > fast.txt"))
        assert out.status == "completed", out
        _wait_for(lambda: not _alive(orphan))
        assert git(repo, "ls-tree", "--name-only", "petri/feature").split() == [
            "README.md", "fast.txt"]
        assert out.run.slice("s").facts["agent_log"] == "run.work/logs/s.agent.2.log"
    finally:
        driver.kill()
        driver.wait()


_DIES_BEFORE_RECORDING = """
import os, sys
from pathlib import Path
import petri_exec.ports.command as command

def dying(pgid):  # the drive is killed after the spawn, before the pid file is written
    Path(sys.argv[1], "leader").write_text(str(pgid))
    os._exit(9)

command._start_time = dying
command.run_command("touch ran", owner=None, cwd=Path(sys.argv[1]), env=dict(os.environ),
                    log=Path(sys.argv[1], "x.log"), pidfile=Path(sys.argv[1], "x.pid"))
"""


def test_a_command_whose_drive_dies_before_recording_it_never_runs(tmp_path: Path) -> None:
    # before the go-ahead the leader only waits; with its drive gone it exits untouched,
    # so no command ever runs without a pid file that the next attempt can find
    proc = subprocess.run([sys.executable, "-c", _DIES_BEFORE_RECORDING, str(tmp_path)],
                          timeout=60)
    assert proc.returncode == 9
    leader = int((tmp_path / "leader").read_text())
    _wait_for(lambda: not _alive(leader), 30)
    assert not (tmp_path / "ran").exists() and not (tmp_path / "x.pid").exists()


def test_a_gated_command_sees_its_arguments_and_no_input(tmp_path: Path) -> None:
    log, pidfile = tmp_path / "x.log", tmp_path / "x.pid"
    rc, _ = run_command('echo "$0" "$#"; cat; echo "[$(cat)]"; read -r x || echo eof',
                        owner=None, cwd=tmp_path, env=dict(os.environ), log=log,
                        pidfile=pidfile)
    assert rc == 0 and log.read_text() == "/bin/sh 0\n[]\neof\n"
