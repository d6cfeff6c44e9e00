"""Group commit: with ``durability="fsync"`` the firings (and starts) of steps that finish
(or start) together share one fsync, and none is observed, or acted upon, before it is
durable."""

from __future__ import annotations

import concurrent.futures as cf
import json
import os
import threading
from pathlib import Path
from typing import Any

import pytest

import petri_exec as pe
from petri_exec.engine.journal import journal_path


def _wide(n: int) -> pe.Run:
    return pe.Run(run_id="wide", template="minimal",
                  slices=tuple(pe.Slice(f"s{i}") for i in range(n)))


class _Fsyncs:
    """Counts real fsyncs of one file (the real os.fsync still runs)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, path: Path) -> None:
        self.n = 0
        self.synced_size = 0
        real = os.fsync
        target = path

        def counting(fd: int) -> None:
            real(fd)
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(target))
            except OSError:
                same = False
            if same:
                self.n += 1
                self.synced_size = os.fstat(fd).st_size

        monkeypatch.setattr(os, "fsync", counting)


class _Inline(cf.ThreadPoolExecutor):
    """A thread-pool executor that runs each port call at once, in the drive's thread.

    Every step a batch starts has therefore finished, and queued its completion, before
    the drive waits: the steps of a batch finish together, whatever the machine's speed."""

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> cf.Future[Any]:
        future: cf.Future[Any] = cf.Future()
        future.set_result(fn(*args, **kwargs))
        return future


def _counted_run(tmp_path: Path, n: int, monkeypatch: pytest.MonkeyPatch
                 ) -> tuple[Path, Path, _Fsyncs]:
    """A wide run of ``n`` slices, its journal, and a counter of the journal's fsyncs."""
    path = tmp_path / "run.json"
    pe.save_run(_wide(n), path)
    journal = journal_path(path)
    journal.touch()
    return path, journal, _Fsyncs(monkeypatch, journal)


@pytest.mark.parametrize("max_parallel", [4, 16])
def test_steps_finishing_together_share_an_fsync(tmp_path: Path, max_parallel: int,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    n = 64
    path, journal, fsyncs = _counted_run(tmp_path, n, monkeypatch)
    with _Inline(1) as pool:
        out = pe.drive(path, {"runner": lambda ctx: None}, max_parallel=max_parallel,
                       executor=pool)
    assert out.status == "completed", out
    events = [json.loads(line) for line in journal.read_bytes().splitlines()]
    fired = [e for e in events if e["kind"] == "transition_fired"]
    lifecycle = len(fired) - n  # the run's own steps, around the slices, one at a time
    assert lifecycle >= 0
    # one fsync per started firing plus one per fired firing would be 2n; each batch of
    # max_parallel slices shares one for its starts and one for its firings
    assert fsyncs.n <= 2 * n // max_parallel + 2 * lifecycle + 1, (fsyncs.n, n, lifecycle)


@pytest.mark.parametrize("max_parallel", [4, 16])
def test_no_event_is_observed_before_it_is_durable(tmp_path: Path, max_parallel: int,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    n = 64
    path, journal, fsyncs = _counted_run(tmp_path, n, monkeypatch)
    barrier = threading.Barrier(max_parallel, timeout=30)
    observed: list[str] = []

    def runner(ctx: pe.StepContext) -> None:
        barrier.wait()  # every batch of max_parallel ports returns at about the same time

    def on_event(e: pe.Event) -> None:
        # an event is observed only once durable: its line is in the synced journal
        if e.kind in ("transition_fired", "transition_started"):
            lines = journal.read_bytes()[:fsyncs.synced_size].splitlines()
            assert any(json.loads(line)["seq"] == e.seq for line in lines), e
            observed.append(e.kind)

    out = pe.drive(path, {"runner": runner}, max_parallel=max_parallel, on_event=on_event)
    assert out.status == "completed", out
    events = [json.loads(line) for line in journal.read_bytes().splitlines()]
    fired = [e for e in events if e["kind"] == "transition_fired"]
    assert len(fired) >= n and observed.count("transition_fired") == len(fired)
    # how the threads' completions interleave decides the groups; never more than one
    # fsync per event
    assert fsyncs.n <= len(events), (fsyncs.n, len(events))


def test_flush_and_sequential_keep_their_behaviour(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "run.json"
    pe.save_run(_wide(5), path)
    journal = journal_path(path)
    journal.touch()
    fsyncs = _Fsyncs(monkeypatch, journal)
    out = pe.drive(path, {"runner": lambda ctx: None}, max_parallel=1)
    assert out.status == "completed"
    # sequential: every start and every firing synced on its own (today's guarantee)
    assert fsyncs.n >= 10
    path2 = tmp_path / "b.json"
    pe.save_run(_wide(5), path2)
    journal_path(path2).touch()
    fsyncs2 = _Fsyncs(monkeypatch, journal_path(path2))
    assert pe.drive(path2, {"runner": lambda ctx: None}, max_parallel=4,
                    durability="flush").status == "completed"
    assert fsyncs2.n == 0


def test_a_failure_in_a_group_keeps_the_firings_before_it(tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    pe.save_run(_wide(8), path)
    barrier = threading.Barrier(4, timeout=30)

    def runner(ctx: pe.StepContext) -> Any:
        barrier.wait()
        if ctx.slice_id == "s2":
            return pe.StepResult.fail("boom")
        return None

    out = pe.drive(path, {"runner": runner}, max_parallel=4)
    assert out.status == "halted" and out.reason == "boom"
    again = pe.load_run(path)
    done = {s.id for s in again.slices if s.status != "pending"}
    assert done == {"s0", "s1", "s3"}
