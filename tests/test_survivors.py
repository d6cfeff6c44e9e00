"""Deterministic tests for the mutants a mutation sample left alive (issue 19;
docs/testing.md, "Score and reviewed survivors"): each test here fails on the survivor it
names and passes on the real code. None depends on timing to detect anything: where a
test needs a step in flight, ports wait on ``threading.Event``s the test controls."""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import json
import os
import resource
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

import petri_exec as pe
from petri_exec.engine.journal import Event, Journal
from petri_exec.engine.live import LiveRun
from petri_exec.ports.shell import ShellPorts
from petri_exec.testing import FakePorts


def _chain(path: Path, n: int, run_id: str = "d") -> Path:
    pe.save_run(pe.Run(run_id=run_id, template="minimal", slices=tuple(
        pe.Slice(f"s{i}", depends_on=(f"s{i - 1}",) if i else ()) for i in range(n))), path)
    return path


def _lines(path: Path) -> list[bytes]:
    return pe.journal_path(path).read_bytes().splitlines(keepends=True)


def _fired(seq: int, transition: str, run_id: str = "d") -> bytes:
    return json.dumps({"kind": "transition_fired", "seq": seq, "time": 0.0, "run_id": run_id,
                       "transition": transition, "attempt": 1}).encode() + b"\n"


# -- engine.durable ----------------------------------------------------------------------


def test_one_firing_after_the_last_checkpoint_and_an_edited_run_json_is_refused(
        tmp_path: Path) -> None:
    """load_durable: the firings after the last digest event are counted from the event
    right after it (a journal with exactly one, and nothing else, after its checkpoint)."""
    path = _chain(tmp_path / "run.json", 4)
    pe.drive(path, FakePorts(), max_firings=2)
    lines = _lines(path)
    assert [json.loads(x)["kind"] for x in lines[-2:]] == ["checkpoint", "net_paused"]
    checkpoint_seq = json.loads(lines[-2])["seq"]
    # the journal ends with its checkpoint, then exactly one firing that run.json lacks
    pe.journal_path(path).write_bytes(b"".join(lines[:-1]) + _fired(checkpoint_seq + 1,
                                                                     "execute:s1"))
    doc = json.loads(path.read_text())
    doc["facts"] = {"edited": True}  # run.json now matches no checkpoint
    path.write_text(json.dumps(doc))
    with pytest.raises(pe.JournalError) as info:
        pe.load_run(path)
    jpath, real = pe.journal_path(path), path.resolve()
    assert str(info.value) == (
        f"{jpath}: run.json (run.json) is not the state this journal leads to: 1 firing(s) "
        f"after its last checkpoint (seq {checkpoint_seq}) are not in it, and it matches no "
        "checkpoint. If run.json was restored from a backup, restore the journal from the "
        f"same backup; to keep this run.json, 'petri-exec drive {real} --fresh' starts a "
        "new journal (the old one is kept beside it)")


@pytest.mark.parametrize("case", ["other_run", "unknown", "not_enabled"])
def test_replay_refusals_are_worded_in_full(tmp_path: Path, case: str) -> None:
    """_replay: each refusal is one line naming the file and line, the broken rule and
    the way out."""
    path = _chain(tmp_path / "run.json", 5)
    pe.drive(path, FakePorts(), max_firings=2)
    n = len(_lines(path)) + 1  # the line the bad event lands on
    event = {"other_run": _fired(50, "execute:s2", run_id="zz"),
             "unknown": _fired(50, "execute:zz"),
             "not_enabled": _fired(50, "execute:s4")}[case]
    with open(pe.journal_path(path), "ab") as f:
        f.write(event)
    with pytest.raises(pe.JournalError) as info:
        pe.load_run(path)
    where, real = f"{pe.journal_path(path)}: line {n}", path.resolve()
    assert str(info.value) == {
        "other_run": f"{where}: a transition_fired event of run 'zz', not 'd': this journal "
                     f"holds another run's events; 'petri-exec drive {real} --fresh' moves "
                     "it aside and starts a new one",
        "unknown": f"{where}: unknown transition 'execute:zz': the journal does not match "
                   f"{real}; restore the matching run.json, or 'petri-exec drive {real} "
                   "--fresh' to start a new journal",
        "not_enabled": f"{where}: 'execute:s4' fired but was not enabled (missing "
                       f"slice:s3:done): the journal contradicts {real}; restore the run.json "
                       f"that matches it (a backup), or 'petri-exec drive {real} --fresh' to "
                       "start a new journal",
    }[case]


# -- engine.journal ----------------------------------------------------------------------


def test_a_damaged_journal_line_is_worded_in_full(tmp_path: Path) -> None:
    """parse_line: the message names the file and line, the parse error and the way out."""
    path = _chain(tmp_path / "run.json", 2)
    pe.drive(path, FakePorts(), max_firings=1)
    journal = pe.journal_path(path)
    lines = _lines(path)
    lines[1] = b"not json\n"
    journal.write_bytes(b"".join(lines))
    with pytest.raises(pe.JournalError) as info:
        pe.read_journal(journal)
    assert str(info.value) == (
        f"{journal}: line 2: not a valid event (Expecting value: line 1 column 1 (char 0)); "
        "the journal is damaged: restore it from a backup, or start a new one with "
        "drive --fresh (the old one is kept)")


@contextlib.contextmanager
def _file_size_limit(limit: int) -> Iterator[None]:
    """Writes to regular files beyond ``limit`` bytes fail with EFBIG (a full disk, for
    this process only; SIGXFSZ ignored meanwhile)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    old = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, old)


def test_a_journal_whose_write_failed_refuses_further_appends_naming_the_failure(
        tmp_path: Path) -> None:
    """Journal.append and sync: after a failed write, each refusal names the journal and
    the first failure."""
    path = tmp_path / "run.events.jsonl"
    journal = Journal(path, fsync=False)
    event = Event(kind="checkpoint", seq=0, time=0.0, run_id="r", digest="0" * 64)
    try:
        journal.append(event)
        size = path.stat().st_size
        with _file_size_limit(size), pytest.raises(OSError) as first:
            journal.append(event)
        assert "File too large" in str(first.value)
        expected = (f"journal {path} failed earlier ({first.value}); nothing more is "
                    "appended")
        with pytest.raises(OSError) as again:
            journal.append(event)
        assert str(again.value) == expected
        with pytest.raises(OSError) as sync:
            journal.sync()
        assert str(sync.value) == expected
    finally:
        journal.close()
    assert path.stat().st_size == size  # nothing written after the failure


def test_journal_lines_have_their_keys_sorted(tmp_path: Path) -> None:
    """encode: the byte format of a journal line is pinned (keys sorted, UTF-8, one line)."""
    path = tmp_path / "raw.events.jsonl"
    journal = Journal(path, fsync=False)
    try:
        journal.append(Event(kind="transition_fired", seq=3, time=1.5, run_id="r",
                             transition="execute:a", attempt=1, facts={"z": 1, "é": "ü"}))
    finally:
        journal.close()
    assert path.read_bytes() == (
        '{"attempt": 1, "facts": {"z": 1, "é": "ü"}, "kind": "transition_fired", '
        '"run_id": "r", "seq": 3, "time": 1.5, "transition": "execute:a"}\n').encode()
    # and so is every line a drive writes
    run = _chain(tmp_path / "run.json", 2)
    pe.drive(run, FakePorts())
    for line in _lines(run):
        doc = json.loads(line)
        assert list(doc) == sorted(doc), line


# -- engine.writer: --fresh --------------------------------------------------------------


def test_fresh_moves_the_journal_aside_and_the_new_header_carries_the_new_identity(
        tmp_path: Path) -> None:
    """move_journal_aside and start_fresh: the old journal keeps its bytes under a
    timestamped name (a free one); the new journal's header names the run's new identity."""
    path = _chain(tmp_path / "run.json", 3)
    pe.drive(path, FakePorts(), max_firings=2)
    old = pe.journal_path(path).read_bytes()
    old_identity = json.loads(path.read_text())["identity"]
    # every name the next minute could give is taken: the journal goes to the first free one
    now = time.time()
    taken = {tmp_path / f"run.events.{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime(now + k))}"
             ".jsonl" for k in range(-1, 60)}
    for p in taken:
        p.write_text("taken\n")
    out = pe.drive(path, FakePorts(), fresh=True, max_firings=0)
    assert out.status == "paused"
    moved = set(tmp_path.glob("run.events.*.jsonl")) - taken
    assert len(moved) == 1
    aside = moved.pop()
    assert aside.with_name(aside.name.replace(".1.jsonl", ".jsonl")) in taken
    assert aside.name.endswith(".1.jsonl") and aside.read_bytes() == old
    assert all(p.read_text() == "taken\n" for p in taken)
    doc = json.loads(path.read_text())
    assert doc["identity"] != old_identity and len(doc["identity"]) == 32
    header = json.loads(_lines(path)[0])
    assert header["kind"] == "journal_started" and header["seq"] == 0
    assert (header["run_id"], header["identity"], header["run_file"]) == (
        "d", doc["identity"], "run.json")
    assert header["reason"] == f"--fresh: the previous journal is {aside.name}"
    # the firings of the old journal are kept in run.json, and the run goes on from there
    assert [s["status"] for s in doc["slices"]] == ["done", "pending", "pending"]
    assert pe.drive(path, FakePorts()).status == "completed"


# -- engine.live -------------------------------------------------------------------------


def test_live_slice_is_rebuilt_only_when_it_moved_on() -> None:
    """LiveRun.slice: a slice whose status and facts did not change is the same value (no
    rebuilding while other slices have new facts); new facts at an unchanged status are
    merged, not dropped."""
    run = pe.Run(run_id="l", template="minimal", slices=(pe.Slice("a"), pe.Slice("b")),
                 status="running")
    net = pe.compile_run(run)
    live = LiveRun(run, pe.load_template("minimal"), net.slice_of)
    execute_b = net.transition("execute:b")
    live.apply(execute_b, {"x": 1})
    assert live.slice(0) is run.slices[0]  # untouched while b has new facts
    assert live.slice(1).facts == {"x": 1} and live.slice(1).status == "done"
    live.apply(execute_b, {"y": 2})  # facts arrive for a slice already at the target
    assert live.slice(1).facts == {"x": 1, "y": 2}
    assert live.slice(0) is run.slices[0]
    assert live.snapshot().slices[0] is run.slices[0]


# -- engine.api: the sequential loop's timeout --------------------------------------------


def test_a_timed_out_port_is_not_waited_for(tmp_path: Path) -> None:
    """_run_job: the drive returns the timeout while the port still blocks (its worker
    thread is abandoned, not joined)."""
    release, finished = threading.Event(), threading.Event()

    def runner(ctx: pe.StepContext) -> None:
        release.wait(10)  # the test releases it only after drive() returned
        finished.set()

    run = pe.Run(run_id="t", template="minimal", slices=(pe.Slice("a"),))
    try:
        out = pe.drive(run, {"runner": runner}, timeout_s=0.05)
        still_blocked = not finished.is_set()
    finally:
        release.set()
    assert (out.status, out.step, out.reason) == (
        "halted", "execute:a", "timeout: port 'runner' took longer than 0.05s")
    assert still_blocked
    assert finished.wait(20)


# -- engine.parallel and engine.driver: the concurrent loop ---------------------------------


def _independent(n: int, run_id: str = "p") -> pe.Run:
    return pe.Run(run_id=run_id, template="minimal",
                  slices=tuple(pe.Slice(f"s{i}") for i in range(n)))


class _OneOf:
    """A session that lets only one of ``group`` fire (a choice the net does not show)."""

    def __init__(self, state: Any, group: set[str]) -> None:
        self.state, self.group, self.taken = state, group, False
        self.fired: list[str] = []

    def get_ready(self) -> list[pe.Transition]:
        return [t for t in self.state.get_ready() if self.is_enabled(t)]

    def is_enabled(self, t: pe.Transition) -> bool:
        return bool(self.state.is_enabled(t)) and not (self.taken and t.name in self.group)

    def fire(self, t: pe.Transition) -> None:
        self.state.fire(t)
        self.fired.append(t.name)
        self.taken = self.taken or t.name in self.group

    def marking(self) -> pe.Marking:
        return self.state.marking()  # type: ignore[no-any-return]

    def missing(self, t: pe.Transition) -> list[tuple[str, int, int]]:
        return self.state.missing(t)  # type: ignore[no-any-return]


class _OneOfScheduler(pe.Scheduler):
    def __init__(self, run: pe.Run, group: set[str]) -> None:
        self.net, self.group = pe.compile_run(run), group
        self.sessions: list[_OneOf] = []

    def ready(self, marking: Mapping[str, int]) -> frozenset[pe.Transition]:
        return frozenset(t for t in self.net.enabled(marking) if not t.manual)

    def session(self, marking: Mapping[str, int]) -> _OneOf:
        s = _OneOf(self.net.state(marking), self.group)
        self.sessions.append(s)
        return s


def test_a_step_no_longer_enabled_when_its_port_returns_is_a_conflict() -> None:
    """_Loop._done: a success whose transition was disabled meanwhile (here by the
    scheduler's own session) is discarded with a "conflict" failure, worded in full."""
    run = _independent(2)
    a_fired = threading.Event()

    def runner(ctx: pe.StepContext) -> dict[str, str]:
        if ctx.slice_id == "s1":
            assert a_fired.wait(20)  # returns only once s0's firing is committed
        return {"ran": ctx.transition}

    def on_event(e: pe.Event) -> None:
        if e.kind == "transition_fired" and e.transition == "execute:s0":
            a_fired.set()

    scheduler = _OneOfScheduler(run, {"execute:s0", "execute:s1"})
    out = pe.drive(run, {"runner": runner}, scheduler=scheduler, max_parallel=2,
                   on_event=on_event)
    assert (out.status, out.step, out.reason) == (
        "halted", "execute:s1", "conflict: 'execute:s1' was no longer enabled when its port "
        "returned; its result was discarded")
    assert [s.status for s in out.run.slices] == ["done", "pending"]
    assert out.run.slice("s1").facts == {}


class _LostWorkers(cf.ThreadPoolExecutor):
    """An executor whose futures fail by themselves (a worker process that died)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future[Any]:
        future: cf.Future[Any] = cf.Future()
        future.set_exception(RuntimeError("worker 3 was lost"))
        return future


def test_an_executor_failure_is_named_with_the_step() -> None:
    """_Loop._wait: a future that raises (the executor failed, not the port) halts the
    step with the executor's error."""
    calls: list[str] = []
    with _LostWorkers(2) as pool:
        out = pe.drive(_independent(1), {"runner": lambda ctx: calls.append(ctx.transition)},
                       max_parallel=2, executor=pool)
    assert (out.status, out.step, out.reason) == (
        "halted", "execute:s0", "executor failed for 'execute:s0': RuntimeError: worker 3 "
        "was lost")
    assert calls == []


def test_a_timed_out_step_of_a_concurrent_drive_is_worded_and_not_waited_for() -> None:
    """_Loop._wait: the timeout's reason names the port and the step's timeout; the drive
    returns while the port still blocks."""
    release, finished = threading.Event(), threading.Event()

    def runner(ctx: pe.StepContext) -> None:
        release.wait(10)  # released only after drive() returned
        finished.set()

    try:
        out = pe.drive(_independent(1), {"runner": runner}, max_parallel=2, timeout_s=0.05)
        still_blocked = not finished.is_set()
    finally:
        release.set()
    assert (out.status, out.step, out.reason) == (
        "halted", "execute:s0", "timeout: port 'runner' took longer than 0.05s")
    assert still_blocked


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(),
                    reason="signal handlers are installed only in the main thread")
def test_an_interrupted_concurrent_drive_pauses_and_resumes_without_repeats(
        tmp_path: Path) -> None:
    """_Loop._drain: SIGINT while two steps are in flight: nothing new starts, both are
    committed, the drive returns paused/interrupted, and the resume runs only the rest."""
    path = tmp_path / "run.json"
    pe.save_run(_independent(4, run_id="i"), path)
    signalled = threading.Event()
    calls: list[str] = []
    lock = threading.Lock()

    def runner(ctx: pe.StepContext) -> dict[str, str]:
        with lock:
            calls.append(ctx.transition)
        if ctx.slice_id == "s1":
            os.kill(os.getpid(), signal.SIGINT)  # the drive's handler only sets a flag
            signalled.set()
        elif ctx.slice_id == "s0":
            assert signalled.wait(20)  # still in flight when the signal arrives
        return {"ran": ctx.transition}

    out = pe.drive(path, {"runner": runner}, max_parallel=2)
    assert (out.status, out.reason, out.fired) == ("paused", "interrupted", 3)
    assert sorted(calls) == ["execute:s0", "execute:s1"]  # nothing started after it
    run = pe.load_run(path)
    assert [s.status for s in run.slices] == ["done", "done", "pending", "pending"]
    events, _ = pe.read_journal(pe.journal_path(path))
    assert (events[-1].kind, events[-1].reason) == ("net_paused", "interrupted")
    calls.clear()
    resumed = pe.drive(path, {"runner": runner}, max_parallel=2)
    assert (resumed.status, resumed.fired) == ("completed", 3)
    assert sorted(calls) == ["execute:s2", "execute:s3"]


@pytest.mark.parametrize("observed", [False, True])
def test_fired_counts_every_firing_of_a_concurrent_drive(observed: bool) -> None:
    """Driver.commit: DriveOutcome.fired counts every firing (with and without an
    observer, which take different paths)."""
    events: list[pe.Event] = []
    out = pe.drive(_independent(5), FakePorts(), max_parallel=3,
                   on_event=events.append if observed else None)
    assert out.status == "completed"
    assert out.fired == 7  # start, 5 slices, finish
    if observed:
        assert out.fired == sum(e.kind == "transition_fired" for e in events)


# -- core.schedulers ---------------------------------------------------------------------


def test_a_schedulers_own_session_is_the_one_drive_uses() -> None:
    """open_session: a scheduler that implements session() is asked for it; its session
    sees every firing."""
    run = _independent(3)
    scheduler = _OneOfScheduler(run, set())
    events: list[pe.Event] = []
    out = pe.drive(run, FakePorts(), scheduler=scheduler, on_event=events.append)
    assert out.status == "completed"
    assert len(scheduler.sessions) == 1
    fired = [e.transition for e in events if e.kind == "transition_fired"]
    assert len(fired) == 5 and scheduler.sessions[0].fired == fired


# -- ports.shell -------------------------------------------------------------------------


def test_shell_workspace_creates_missing_parent_directories(tmp_path: Path) -> None:
    """ShellPorts.workspace: the run directory is created with its missing parents."""
    run_path = tmp_path / "not" / "yet" / "run.json"
    ctx = pe.StepContext(run_id="w", transition="workspace", step="workspace",
                         slice_id=None, slice=None, run_facts={}, attempt=1,
                         idempotency_key="w/workspace", run_dir=run_path.parent,
                         port="workspace", run_status="created", run_path=run_path)
    assert ShellPorts().workspace(ctx) == {"work_dir": "run.work"}
    assert (tmp_path / "not" / "yet" / "run.work").is_dir()
