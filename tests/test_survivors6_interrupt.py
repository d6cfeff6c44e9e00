"""Deterministic tests for the interrupt mutants the sixth mutation sample (issue 19, seed
25) left alive, fire's mutmut_49 and Interrupt._escalate's mutmut_12: each
test here fails on the survivor it names and passes on the real code. None depends on
timing to detect anything: where a test waits, the real code never makes it wait, and the
mutant makes it wait in vain (or the wait only bounds a command that would otherwise hang).

Both tests send signals to the test process or arm its ``ITIMER_REAL``: they run only in
the main thread (where :func:`~petri_exec.engine.interrupt.interrupts` installs its
handlers) and every handler and the timer are restored when they end."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import petri_exec as pe
from petri_exec.engine.interrupt import interrupts
from petri_exec.ports.procgroup import groups_of, run_command, signal_groups
from petri_exec.ports.shell import ShellPorts

Make = Callable[..., Path]
WAIT_S = 20.0  # how long a test waits for what the real code does at once

main_thread_only = pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(),
    reason="signal handlers are installed only in the main thread")


def _wait_for(what: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + WAIT_S
    while not what():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def _waiting(started: Path, release: Path) -> str:
    """A command that says it started, then waits (at most 20 s) for ``release``."""
    return (f'touch "{started}"; i=0; while [ ! -e "{release}" ] && [ $i -lt 400 ]; '
            f'do sleep 0.05; i=$((i+1)); done; test -e "{release}"')


# -- engine.api.fire: a fire's interrupt ends its own commands, not another drive's --------

@main_thread_only
def test_an_interrupted_fire_ends_its_own_command_and_not_another_drives(
        make_run: Make, tmp_path: Path) -> None:
    # api.fire mutmut_49: `owner = os.fspath(d.path) if ... else None` -> `owner = None`:
    # the second SIGINT during a fire sends SIGTERM to *every* process group of the process,
    # another drive's command too
    b_started, b_release = tmp_path / "b-started", tmp_path / "b-release"
    a_started, a_release = tmp_path / "a-started", tmp_path / "a-release"  # a: never released
    other = make_run([{"id": "s", "depends_on": [], "meta": {"run": _waiting(b_started,
                                                                             b_release)}}],
                     name="other.json", run_id="other", template="minimal")
    fired = make_run([{"id": "x", "depends_on": [], "meta": {"run": _waiting(a_started,
                                                                             a_release)}}],
                     name="fired.json", run_id="fired", template="minimal")
    assert pe.drive(fired, ShellPorts(), max_firings=1).status == "paused"  # fires start
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM,
                                                       signal.SIGALRM)}
    outcome: list[pe.DriveOutcome] = []
    sent: list[str] = []
    background = threading.Thread(target=lambda: outcome.append(pe.drive(other, ShellPorts())))

    def interrupter() -> None:
        if not _wait_for(lambda: a_started.exists() and b_started.exists()):
            return  # a command never started: fire's command ends on its own, unsignalled
        os.kill(os.getpid(), signal.SIGINT)
        sent.append("first")
        # the first request was handled once it armed the grace timer (30 s): only then is
        # a second signal a second request (two pending signals would be handled as one)
        if not _wait_for(lambda: signal.getitimer(signal.ITIMER_REAL)[0] > 0):
            return
        os.kill(os.getpid(), signal.SIGINT)
        sent.append("second")

    background.start()
    helper = threading.Thread(target=interrupter)
    try:
        assert _wait_for(b_started.exists), "the other drive's command never started"
        helper.start()
        out = pe.fire(fired, "execute:x", ShellPorts())
        helper.join(WAIT_S)
        assert sent == ["first", "second"]
        # fire's own command was ended by the second SIGINT (SIGTERM to its group) ...
        assert not a_release.exists()
        assert (out.status, out.step) == ("halted", "execute:x"), out
        assert [(f.transition, f.reason) for f in out.failures] == [(
            "execute:x", f"meta.run was killed by signal {int(signal.SIGTERM)} "
            "(log: fired.work/logs/x.run.1.log)")]
        assert [s.status for s in pe.load_run(fired).slices] != ["done"]
        # ... while the other drive's command still runs: released now, it succeeds
        assert background.is_alive() and not outcome
        b_release.touch()
        background.join(WAIT_S)
        assert outcome and outcome[0].status == "completed", outcome
    finally:
        b_release.touch()
        background.join(WAIT_S)
        helper.join(WAIT_S)
    assert {sig: signal.getsignal(sig) for sig in handlers} == handlers
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


# -- engine.interrupt.Interrupt._escalate: a request after the KILL stage ------------------

@main_thread_only
@pytest.mark.parametrize("with_group", [False, True])
def test_requests_after_the_kill_stage_do_nothing_and_raise_nothing(
        tmp_path: Path, with_group: bool) -> None:
    # interrupt.Interrupt._escalate mutmut_12: `elif self._stage == 2: self._stage = 3` ->
    # `self._stage = None`: the next request compares None <= 1 (TypeError, raised in the
    # drive's signal handler)
    owner = os.fspath(tmp_path / "owner.json")
    codes: list[int | None] = []
    command = threading.Thread(target=lambda: codes.append(run_command(
        ["sleep", "30"], owner=owner, cwd=tmp_path, env=dict(os.environ),
        stdout=subprocess.DEVNULL)))
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM,
                                                       signal.SIGALRM)}
    try:
        if with_group:
            command.start()
            assert _wait_for(lambda: bool(groups_of(owner))), "the command never started"
        with interrupts(owner, grace_s=60.0) as stop:
            stop.request()     # the grace period starts (its timer: 60 s)
            assert stop.requested and not codes
            stop.request()     # TERM to the owner's groups (the KILL timer: 5 s)
            stop.request()     # KILL
            stop.request()     # nothing left to do
            stop.on_alarm()    # nor for the timer
            stop.request()
            assert stop.requested
    finally:
        if with_group:
            signal_groups(owner, signal.SIGKILL)  # only if a failure left it running
            command.join(WAIT_S)
    if with_group:
        assert codes == [-signal.SIGTERM]  # the TERM stage ended it
        assert groups_of(owner) == []
    assert {sig: signal.getsignal(sig) for sig in handlers} == handlers
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
