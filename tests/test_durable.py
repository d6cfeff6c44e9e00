"""Durability: journal replay, checkpoints, torn lines, contradictions, the lock, abandon."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import petri_exec as pe
from petri_exec.engine.lock import run_lock
from petri_exec.testing import FakePorts

drive_module = importlib.import_module("petri_exec.engine.writer")


def _minimal(path: Path, n: int = 5) -> Path:
    run = pe.Run(run_id="d", template="minimal", slices=tuple(
        pe.Slice(f"s{i}", depends_on=(f"s{i - 1}",) if i else ()) for i in range(n)))
    pe.save_run(run, path)
    return path


class Crash(BaseException):
    """Stands in for the process dying inside a port (not caught as a step failure)."""


def _crashing_ports(at: str, calls: list[tuple[str, int, str]]) -> dict[str, Any]:
    def runner(ctx: pe.StepContext) -> dict[str, str]:
        calls.append((ctx.transition, ctx.attempt, ctx.idempotency_key))
        if ctx.transition == at and ctx.attempt == 1:
            raise Crash
        return {"ran": ctx.transition}

    return {"runner": runner}


def _state(path: Path) -> dict[str, Any]:
    """run.json's content without the identity the first drive mints."""
    doc: dict[str, Any] = json.loads(path.read_bytes())
    doc.pop("identity", None)
    return doc


def test_crash_mid_drive_then_load_replays_and_resume_retries_in_flight(tmp_path: Path) -> None:
    path = _minimal(tmp_path / "run.json")
    checkpoint = _state(path)
    calls: list[tuple[str, int, str]] = []
    with pytest.raises(Crash):
        pe.drive(path, _crashing_ports("execute:s3", calls))
    assert _state(path) == checkpoint  # no checkpoint yet: run.json is stale ...
    assert len(json.loads(path.read_bytes())["identity"]) == 32  # minted on the first drive
    run = pe.load_run(path)  # ... but the journal is the durable truth
    assert run.status == "running"
    assert [s.status for s in run.slices] == ["done", "done", "done", "pending", "pending"]
    assert run.slice("s2").facts == {"ran": "execute:s2"}
    out = pe.drive(path, _crashing_ports("execute:s3", calls))
    assert out.status == "completed"
    assert [c for c in calls if c[0] == "execute:s3"] == [
        ("execute:s3", 1, "d/execute:s3"), ("execute:s3", 2, "d/execute:s3")]
    assert [c[0] for c in calls].count("execute:s0") == 1  # completed steps never re-run
    events, torn = pe.read_journal(pe.journal_path(path))
    fired = [e.transition for e in events if e.kind == "transition_fired"]
    assert len(fired) == len(set(fired)) == 7
    assert not torn and pe.load_run(path) == out.run
    assert json.loads(path.read_text())["status"] == "done"  # run.json fully up to date


def test_persisting_a_firing_does_not_rewrite_run_json(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    path = _minimal(tmp_path / "run.json", n=40)
    saves: list[int] = []
    real = drive_module.write_atomic

    def counting(p: Any, data: bytes, **kw: Any) -> Any:
        saves.append(1)
        return real(p, data, **kw)

    monkeypatch.setattr(drive_module, "write_atomic", counting)
    out = pe.drive(path, FakePorts())
    assert out.status == "completed" and out.fired == 42
    assert len(saves) == 2  # the identity minted on the first drive, one checkpoint at the end
    saves.clear()
    path2 = _minimal(tmp_path / "run2.json", n=40)
    pe.drive(path2, FakePorts(), checkpoint_every=10)
    assert len(saves) == 6  # the identity, after 10, 20, 30, 40 firings and the final 2


def test_torn_last_line_is_ignored_reported_and_cut(tmp_path: Path) -> None:
    path = _minimal(tmp_path / "run.json")
    assert pe.drive(path, FakePorts(), max_firings=3).status == "paused"
    journal = pe.journal_path(path)
    good = journal.read_bytes()
    journal.write_bytes(good + b'{"kind": "transition_fired", "seq": 99, "tra')
    events, torn = pe.read_journal(journal)
    assert torn and len(events) == good.count(b"\n")
    assert pe.load_run(path).slice("s1").status == "done"
    assert pe.drive(path, FakePorts()).status == "completed"
    events, torn = pe.read_journal(journal)
    assert not torn and [e.seq for e in events] == list(range(len(events)))


def _append(path: Path, event: dict[str, Any]) -> None:
    with open(pe.journal_path(path), "a") as f:
        f.write(json.dumps(event) + "\n")


@pytest.mark.parametrize(("transition", "message"), [
    ("execute:zz", "unknown transition 'execute:zz'"),
    ("execute:s4", "'execute:s4' fired but was not enabled (missing slice:s3:done)"),
])
def test_journal_contradicting_the_net_is_refused(tmp_path: Path, transition: str,
                                                  message: str) -> None:
    path = _minimal(tmp_path / "run.json")
    pe.drive(path, FakePorts(), max_firings=2)
    _append(path, {"kind": "transition_fired", "seq": 50, "time": 0.0, "run_id": "d",
                   "transition": transition, "attempt": 1})
    before = (path.read_bytes(), pe.journal_path(path).read_bytes())
    with pytest.raises(pe.JournalError) as info:
        pe.load_run(path)
    assert message in str(info.value)
    assert str(pe.journal_path(path)) in str(info.value) and ": line " in str(info.value)
    with pytest.raises(pe.JournalError):
        pe.drive(path, FakePorts())
    assert (path.read_bytes(), pe.journal_path(path).read_bytes()) == before


def test_damaged_middle_line_names_the_line(tmp_path: Path) -> None:
    path = _minimal(tmp_path / "run.json")
    pe.drive(path, FakePorts(), max_firings=1)
    journal = pe.journal_path(path)
    lines = journal.read_bytes().split(b"\n")
    lines[1] = b"not json"
    journal.write_bytes(b"\n".join(lines))
    with pytest.raises(pe.JournalError, match=r"line 2: not a valid event"):
        pe.read_journal(journal)  # history reads every line
    pe.load_run(path)  # loading reads only the events after the checkpoint run.json matches
    lines[-2] = b'{"kind": "transition_fired", "seq": "7"}'  # damage the tail
    journal.write_bytes(b"\n".join(lines))
    with pytest.raises(pe.JournalError, match=rf"line {len(lines) - 1}: not a valid event"):
        pe.load_run(path)


def test_second_driver_is_refused_with_the_holders_pid(tmp_path: Path) -> None:
    path = _minimal(tmp_path / "run.json")
    before = path.read_bytes()
    with run_lock(path):
        with pytest.raises(pe.RunLockedError, match=f"locked by pid {os.getpid()}"):
            pe.drive(path, FakePorts())
        with pytest.raises(pe.RunLockedError):
            pe.fire(path, "start", FakePorts())
        with pytest.raises(pe.RunLockedError):
            pe.abandon(path, "no")
    assert path.read_bytes() == before
    assert not pe.journal_path(path).exists()
    assert pe.drive(path, FakePorts()).status == "completed"  # released


SLOW_PORTS = '''
import time
def runner(ctx):
    time.sleep(0.05)
ports = {"runner": runner}
'''


def test_two_drivers_started_at_once(tmp_path: Path) -> None:
    path = _minimal(tmp_path / "run.json", n=8)
    (tmp_path / "slowports.py").write_text(SLOW_PORTS)
    exe = str(Path(sys.executable).parent / "petri-exec")
    cmd = [exe, "drive", "run.json", "--ports", "slowports:ports"]
    procs = [subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [(p.wait(timeout=60), p.stdout.read(), p.stderr.read())  # type: ignore[union-attr]
               for p in procs]
    codes = sorted(r[0] for r in results)
    assert codes in ([0, 2], [0, 0]), results  # [0, 0]: one finished before the other began
    for loser in (r for r in results if r[0] == 2):
        assert "is locked by pid" in loser[2] and loser[2].count("\n") == 1
    events, _ = pe.read_journal(pe.journal_path(path))
    fired = [e.transition for e in events if e.kind == "transition_fired"]
    assert len(fired) == len(set(fired)) == 10


def test_abandon(tmp_path: Path) -> None:
    path = _minimal(tmp_path / "run.json")
    pe.drive(path, FakePorts(), max_firings=2)
    run = pe.abandon(path, "requirements changed")
    assert run.abandoned == "requirements changed"
    loaded = pe.load_run(path)
    assert loaded.abandoned == "requirements changed"
    assert json.loads(path.read_text())["abandoned"] == "requirements changed"
    assert pe.PetriScheduler.for_run(loaded).ready(pe.marking_of(loaded)) == frozenset()
    assert pe.LinearScheduler.for_run(loaded).ready(pe.marking_of(loaded)) == frozenset()
    out = pe.drive(path, FakePorts())
    assert (out.status, out.reason, out.fired) == ("halted", "abandoned", 0)
    assert out.detail == "requirements changed"
    assert pe.fire(path, "execute:s1", FakePorts()).reason == "abandoned"
    assert pe.journal_path(path).exists()  # artifacts stay
    with pytest.raises(pe.UsageError):
        pe.abandon(path, " ")
    doc = json.loads(path.read_text())  # reversible only by editing
    del doc["abandoned"]
    path.write_text(json.dumps(doc))
    assert pe.drive(path, FakePorts()).status == "completed"


def test_bad_durability_and_checkpoint_arguments(tmp_path: Path) -> None:
    path = _minimal(tmp_path / "run.json")
    with pytest.raises(pe.UsageError, match="durability='sometimes'"):
        pe.drive(path, FakePorts(), durability="sometimes")
    with pytest.raises(pe.UsageError, match="checkpoint_every=0"):
        pe.drive(path, FakePorts(), checkpoint_every=0)


def test_flush_durability_still_replays(tmp_path: Path) -> None:
    path = _minimal(tmp_path / "run.json")
    calls: list[tuple[str, int, str]] = []
    with pytest.raises(Crash):
        pe.drive(path, _crashing_ports("execute:s2", calls), durability="flush")
    assert pe.load_run(path).slice("s1").status == "done"


def test_lock_is_released_when_the_holder_dies(tmp_path: Path) -> None:
    path = _minimal(tmp_path / "run.json")
    code = ("import os, sys, petri_exec.engine.lock as d\n"
            f"ctx = d.run_lock({str(path)!r}); ctx.__enter__()\n"
            "print('locked', flush=True); os._exit(0) if len(sys.argv) > 5 else None\n"
            "import time; time.sleep(30)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    with pytest.raises(pe.RunLockedError, match=f"pid {proc.pid}"):
        pe.drive(path, FakePorts())
    proc.kill()
    proc.wait()
    time.sleep(0.05)
    assert pe.drive(path, FakePorts()).status == "completed"
