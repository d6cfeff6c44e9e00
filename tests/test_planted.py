"""Deterministic tests for the bugs a mutation audit planted with every test still green
(issue 19; docs/testing.md#mutation-testing): each test here fails on its planted bug, and
none depends on timing to do so."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import petri_exec as pe
from petri_exec.engine import driver as driver_module
from petri_exec.errors import RunLockedError
from petri_exec.run.jsonio import is_temp_file_of
from petri_exec.run.model import dependencies

from .strategies import dag_runs

ROOT = Path(__file__).resolve().parents[1]


def _minimal(run_id: str, n: int, *, chain: bool = False) -> pe.Run:
    return pe.Run(run_id=run_id, template="minimal", slices=tuple(
        pe.Slice(f"s{i}", depends_on=(f"s{i - 1}",) if chain and i else ())
        for i in range(n)))


# -- the parallel loop's "stopping" flag ----------------------------------------------


def test_parallel_loop_starts_nothing_after_a_failure() -> None:
    """s0 fails at once while s1 is in flight: with max_parallel=2 a slot is free, but the
    loop must not start s2..s5. s1 returns only after the failure was journaled, so the
    loop is certain to have had its chance to start another step first."""
    failed = threading.Event()
    calls: list[str] = []
    lock = threading.Lock()

    def runner(ctx: pe.StepContext) -> Any:
        with lock:
            calls.append(ctx.slice_id or "")
        if ctx.slice_id == "s0":
            return pe.StepResult.fail("s0 breaks")
        failed.wait(timeout=30)  # not a timing assumption: set before s1 could matter
        return {"done": ctx.slice_id}

    def on_event(e: pe.Event) -> None:
        if e.kind == "transition_failed":
            failed.set()

    out = pe.drive(_minimal("stop", 6), {"runner": runner}, max_parallel=2,
                   on_event=on_event)
    assert (out.status, out.step) == ("halted", "execute:s0")
    assert sorted(calls) == ["s0", "s1"]
    assert out.run.slice("s1").status == "done"  # in flight: committed
    assert [s.id for s in out.run.slices if s.status == "done"] == ["s1"]


# -- the run is loaded under its lock -------------------------------------------------


def test_the_run_is_loaded_only_under_its_lock(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A second drive that finished the run between our load and our lock would make us
    re-run its steps. Right after our load, another drive tries the run: it must find it
    locked (we load under the lock), so every port runs exactly once."""
    path = tmp_path / "run.json"
    pe.save_run(_minimal("locked", 3), path)
    calls: list[str] = []
    ports = {"runner": lambda ctx: calls.append(ctx.transition)}
    refused: list[str] = []
    real = driver_module.load_durable

    def load_then_compete(*args: Any, **kwargs: Any) -> Any:
        loaded = real(*args, **kwargs)
        if not refused:
            refused.append("tried")
            try:
                pe.drive(path, ports)
            except RunLockedError as e:
                refused.append(str(e))
        return loaded

    monkeypatch.setattr(driver_module, "load_durable", load_then_compete)
    out = pe.drive(path, ports)
    assert len(refused) == 2 and "the run is locked by pid" in refused[1]
    assert out.status == "completed"
    assert sorted(calls) == ["execute:s0", "execute:s1", "execute:s2"]


# -- PNML export escapes names ----------------------------------------------------------


@pytest.mark.parametrize("run_id", ['a<b', 'x&y', 'q"u\'o>te', "<![CDATA[x]]>&amp;"])
def test_pnml_export_escapes_markup_in_names(run_id: str) -> None:
    run = pe.Run(run_id=run_id, template="minimal", slices=(pe.Slice("s<&>0"),))
    net = pe.compile_run(run)
    data = pe.to_pnml(net, pe.marking_of(run))
    root = ET.fromstring(data)  # unescaped markup raises ParseError
    ns = {"p": root.tag[1:].split("}")[0]}
    assert root.find("p:net/p:name/p:text", ns).text == net.name  # type: ignore[union-attr]
    names = [e.text for e in root.iterfind("p:net/p:page/p:transition/p:name/p:text", ns)]
    assert "execute:s<&>0" in names
    back, marking = pe.from_pnml(data)
    assert back.name == net.name
    assert sorted(t.name for t in back.transitions) == sorted(t.name for t in net.transitions)
    assert dict(marking) == {k: v for k, v in pe.marking_of(run).items() if v}


# -- incremental enabling counters --------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(dag_runs(max_slices=8), st.sampled_from(["run", "net"]), st.data())
def test_incremental_enabling_matches_enabling_from_scratch(run: pe.Run, kind: str,
                                                             data: st.DataObject) -> None:
    """Fire a random enabled transition until none is; at every step the incremental state
    (RunState, or the general NetState on the same net) agrees with the net's own
    from-scratch enabling, and get_ready() hands out exactly the newly enabled ones."""
    net = pe.compile_run(run)
    start = pe.marking_of(run)
    state = net.state(start) if kind == "run" else pe.NetState(net, start)
    assert type(state).__name__ == ("RunState" if kind == "run" else "NetState")
    before: set[str] = set()
    steps = 0
    restart = data.draw(st.integers(0, len(net.transitions)), label="restart at")
    while True:
        if steps == restart and steps:  # a state built at a marking reached mid-run
            state = net.state(state.marking()) if kind == "run" else pe.NetState(
                net, state.marking())
            before = set()
        marking = state.marking()
        enabled = {t.name for t in net.enabled(marking)}
        assert {t.name for t in net.transitions if state.is_enabled(t)} == enabled
        new = {name for name in enabled - before if not net.transition(name).manual}
        assert {t.name for t in state.get_ready()} == new
        if not enabled:
            break
        t = net.transition(data.draw(st.sampled_from(sorted(enabled)), label="fire"))
        before = enabled - {t.name}
        state.fire(t)
        assert dict(state.marking()) == dict(net.fire(marking, t))
        steps += 1
    assert steps == len(net.transitions)  # a run's net fires every transition once
    assert state.fired == steps - (restart if 0 < restart <= steps else 0)


# -- linear tie order -------------------------------------------------------------------


def _smallest_topological_order(deps: list[tuple[int, ...]]) -> list[int]:
    placed: list[int] = []
    while len(placed) < len(deps):
        placed.append(min(i for i in range(len(deps))
                          if i not in placed and all(d in placed for d in deps[i])))
    return placed


@settings(max_examples=80, deadline=None)
@given(dag_runs(max_slices=10))
def test_linear_order_breaks_ties_by_file_order(run: pe.Run) -> None:
    """Dependencies first; among the slices ready together, the earliest in the file."""
    assert pe.linear_order(run) == _smallest_topological_order(dependencies(run))


def test_linear_order_of_independent_slices_is_file_order() -> None:
    run = pe.Run(run_id="ties", template="minimal", slices=(
        pe.Slice("c"), pe.Slice("a", depends_on=("b",)), pe.Slice("b"), pe.Slice("d")))
    assert pe.linear_order(run) == [0, 2, 1, 3]
    out = pe.drive(run, {"runner": lambda ctx: None}, scheduler="linear",
                   on_event=(events := []).append)
    fired = [e.transition for e in events if e.kind == "transition_fired"]
    assert fired == ["start", "execute:c", "execute:b", "execute:a", "execute:d", "finish"]
    assert out.status == "completed"


# -- injected crash points around a checkpoint (item 3: no timing) --------------------

_CRASH = """
import os, sys
from pathlib import Path
import petri_exec as pe
from petri_exec.engine.writer import RunWriter

path, where, nth = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
real = RunWriter._replace
count = [0]

real_os_replace = os.replace

def os_replace(src, dst):
    if count[0] == nth and where == "mid_write":
        os._exit(72)          # the new run.json is written to its temp file, not renamed
    real_os_replace(src, dst)

os.replace = os_replace

def replace(self, data):
    count[0] += 1
    if count[0] == nth and where == "before_rename":
        os._exit(70)          # the checkpoint event is journaled; run.json is the old one
    real(self, data)
    if count[0] == nth and where == "after_rename":
        os._exit(71)          # run.json is new; nothing after it is journaled

RunWriter._replace = replace

def runner(ctx):
    with open(path.parent / "calls.txt", "a") as f:
        f.write(ctx.transition + "\\n")

pe.drive(path, {"runner": runner}, checkpoint_every=2)
"""


@pytest.mark.parametrize(("where", "nth"), [("before_rename", 2), ("before_rename", 3),
                                            ("mid_write", 3), ("after_rename", 2),
                                            ("after_rename", 3)])
def test_a_crash_at_a_checkpoint_loses_and_repeats_nothing(tmp_path: Path, where: str,
                                                           nth: int) -> None:
    """A driver killed (os._exit) at a fixed point of its nth checkpoint: before the new
    run.json is renamed in (its checkpoint event already journaled), or right after. The
    reader replays exactly the firings run.json lacks, and the resumed drive calls only
    the ports that never ran: each port exactly once in all."""
    path = tmp_path / "run.json"
    pe.save_run(_minimal("crash", 6, chain=True), path)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *sys.path])}
    p = subprocess.run([sys.executable, "-c", _CRASH, str(path), where, str(nth)], env=env,
                       capture_output=True, text=True, timeout=120)
    code = {"before_rename": 70, "after_rename": 71, "mid_write": 72}[where]
    assert p.returncode == code, p.stderr
    temps = [f.name for f in tmp_path.iterdir() if is_temp_file_of(f.name, "run.json")]
    assert len(temps) == (1 if where == "mid_write" else 0), temps
    journal = [json.loads(line) for line in
               (tmp_path / "run.events.jsonl").read_text().splitlines()]
    fired = [e["transition"] for e in journal if e["kind"] == "transition_fired"]
    ran = (tmp_path / "calls.txt").read_text().split()
    assert fired[1:] == ran  # "start" has no port
    loaded = pe.load_run(path)  # the journal's view: run.json plus the replayed tail
    assert [s.id for s in loaded.slices if s.status == "done"] == \
        [t.split(":")[1] for t in ran]
    on_disk = json.loads(path.read_bytes())
    done_on_disk = [s["id"] for s in on_disk["slices"] if s["status"] == "done"]
    if where != "after_rename":  # the journal is ahead of run.json
        assert len(done_on_disk) < len(ran)

    def runner(ctx: pe.StepContext) -> None:
        with (tmp_path / "calls.txt").open("a") as f:
            f.write(ctx.transition + "\n")

    out = pe.drive(path, {"runner": runner})
    assert out.status == "completed"
    assert not [f for f in tmp_path.iterdir() if is_temp_file_of(f.name, "run.json")]
    calls = (tmp_path / "calls.txt").read_text().split()
    assert calls == [f"execute:s{i}" for i in range(6)]
