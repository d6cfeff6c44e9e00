"""Exactly once among other processes, files and hostile input (issue: readers, one lock per
file, signals, foreign facts, damaged journals, OS errors, terminal text)."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import petri_exec as pe
from petri_exec.engine import journalscan
from petri_exec.run.jsonio import is_temp_file_of
from petri_exec.testing import FakePorts

EXE = str(Path(sys.executable).parent / "petri-exec")


def _chain(path: Path, n: int, *, run_id: str = "r", cmd: str | None = None,
           template: str = "minimal") -> Path:
    slices = []
    for i in range(n):
        meta = {"run": cmd.replace("{i}", str(i))} if cmd else None
        slices.append(pe.Slice(f"s{i}", depends_on=(f"s{i - 1}",) if i else (), meta=meta))
    pe.save_run(pe.Run(run_id=run_id, template=template, slices=tuple(slices)), path)
    return path


def _cli(*args: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([EXE, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


def _done(run: pe.Run) -> int:
    return sum(s.status == "done" for s in run.slices)


# -- 1. readers during a drive -------------------------------------------------------------

DRIVER = """
import sys, petri_exec as pe
pe.drive(sys.argv[1], {"runner": lambda ctx: {"n": ctx.transition}}, checkpoint_every=20,
         durability="flush")
"""


def test_readers_beside_a_drive_never_fail_and_never_go_back(tmp_path: Path) -> None:
    path = _chain(tmp_path / "run.json", 1500)
    proc = subprocess.Popen([sys.executable, "-c", DRIVER, str(path)])
    loads = errors = 0
    last = -1
    seen_between = 0
    try:
        while proc.poll() is None or loads < 200:
            try:
                run = pe.load_run(path)
            except pe.PetriExecError as e:  # pragma: no cover - the failure this test hunts
                errors += 1
                print(e)
                continue
            loads += 1
            done = _done(run)
            assert done >= last, f"a reader went back from {last} to {done} done slices"
            last = done
            seen_between += 0 < done < 1500
            if proc.poll() is not None and loads >= 200:
                break
    finally:
        proc.wait(timeout=120)
    assert proc.returncode == 0
    assert errors == 0 and loads >= 200 and seen_between > 0
    assert _done(pe.load_run(path)) == 1500


def test_cli_readers_beside_a_drive(tmp_path: Path) -> None:
    path = _chain(tmp_path / "run.json", 1500)
    proc = subprocess.Popen([sys.executable, "-c", DRIVER, str(path)])
    results = []
    try:
        while proc.poll() is None and len(results) < 40:
            results.append(_cli("ready", "run.json", cwd=tmp_path))
    finally:
        proc.wait(timeout=120)
    assert results and all(r.returncode == 0 for r in results), [
        r.stderr for r in results if r.returncode]


def test_loading_reads_only_the_events_after_the_checkpoint(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parsed: list[int] = []
    real = journalscan.parse_line

    def counting(line: bytes, where: str) -> Any:
        parsed.append(1)
        return real(line, where)

    monkeypatch.setattr(journalscan, "parse_line", counting)
    for n in (10, 400):
        path = _chain(tmp_path / f"run{n}.json", n)
        pe.drive(path, FakePorts(), durability="flush")
        lines = pe.journal_path(path).read_bytes().count(b"\n")
        parsed.clear()
        assert _done(pe.load_run(path)) == n
        assert len(parsed) <= 3 < lines  # net_completed, checkpoint (+ the header)
        pe.drive(path, FakePorts(), max_firings=0, durability="flush")
        parsed.clear()
        pe.load_run(path)
        assert len(parsed) <= 4  # + net_paused: the same for 10 and 400 slices


def test_a_reader_that_read_an_old_run_json_replays_exactly_its_tail(tmp_path: Path) -> None:
    """The race itself: run.json read before a checkpoint, the journal after it."""
    path = _chain(tmp_path / "run.json", 30)
    pe.drive(path, FakePorts(), max_firings=5, durability="flush")
    old = path.read_bytes()
    pe.drive(path, FakePorts(), max_firings=10, checkpoint_every=3, durability="flush")
    new = path.read_bytes()
    path.write_bytes(old)  # what a reader holding the old run.json sees with the new journal
    assert _done(pe.load_run(path)) == 14  # 5 + 10 firings, one of them 'start'
    path.write_bytes(new)
    assert _done(pe.load_run(path)) == 14


# -- 2. one run, one lock, whatever the path -------------------------------------------------

SLOW = """
import os, time
def runner(ctx):
    with open(os.path.join(str(ctx.run_dir), "calls.log"), "a") as f:
        f.write(ctx.transition + "\\n")
    time.sleep(0.05)
ports = {"runner": runner}
"""


@pytest.mark.parametrize("second", ["link.json", "sub/../run.json"])
def test_a_symlink_or_another_spelling_reaches_the_same_lock(tmp_path: Path,
                                                            second: str) -> None:
    _chain(tmp_path / "run.json", 12)
    (tmp_path / "sub").mkdir()
    (tmp_path / "link.json").symlink_to("run.json")
    (tmp_path / "slowports.py").write_text(SLOW)
    procs = [subprocess.Popen([EXE, "drive", name, "--ports", "slowports:ports",
                               "--progress", "quiet"], cwd=tmp_path, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
             for name in ("run.json", second)]
    codes = [p.wait(timeout=60) for p in procs]
    calls = (tmp_path / "calls.log").read_text().split()
    assert sorted(calls) == sorted(set(calls)) and len(calls) == 12, calls  # once each
    assert 0 in codes and set(codes) <= {0, 2}
    assert not (tmp_path / "link.events.jsonl").exists()  # one journal, the real file's


HELD = """
import os, time
def runner(ctx):
    with open(os.path.join(str(ctx.run_dir), "calls.log"), "a") as f:
        f.write(ctx.transition + "\\n")
    if ctx.transition == "execute:s19":  # after 19 checkpoints: hold until released
        release = os.path.join(str(ctx.run_dir), "release")
        deadline = time.monotonic() + 60
        while not os.path.exists(release) and time.monotonic() < deadline:
            time.sleep(0.01)
ports = {"runner": runner}
"""


def test_the_lock_holds_across_checkpoints_and_has_no_file_to_delete(tmp_path: Path) -> None:
    _chain(tmp_path / "run.json", 40)
    (tmp_path / "heldports.py").write_text(HELD)
    code = ("import sys, petri_exec as pe, heldports\n"
            "pe.drive('run.json', heldports.ports, checkpoint_every=1)\n")
    first = subprocess.Popen([sys.executable, "-c", code], cwd=tmp_path)
    calls_log = tmp_path / "calls.log"
    refused = 0
    try:
        deadline = time.monotonic() + 60
        while "execute:s19" not in (calls_log.read_text() if calls_log.exists() else ""):
            assert first.poll() is None and time.monotonic() < deadline
            time.sleep(0.01)  # the first driver holds the lock, 19 checkpoints later
        while True:
            for stray in tmp_path.glob("*.lock"):  # nothing to delete: the lock is run.json's
                stray.unlink()
            r = _cli("drive", "run.json", "--ports", "heldports:ports", "--progress", "quiet",
                     cwd=tmp_path)
            if r.returncode == 0:  # the first drive had ended (its process may linger)
                assert ", 0 fired" in r.stdout, r.stdout
                break
            assert r.returncode == 2 and "is locked by" in r.stderr, r.stderr
            refused += 1
            (tmp_path / "release").touch()  # refused while held: let the first one finish
            assert time.monotonic() < deadline
    finally:
        (tmp_path / "release").touch()
        first.wait(timeout=60)
    calls = calls_log.read_text().split()
    assert len(calls) == len(set(calls)) == 40 and refused >= 1
    assert list(tmp_path.glob("*.lock")) == []


def test_temp_files_are_matched_exactly(tmp_path: Path) -> None:
    q = _chain(tmp_path / "?.json", 2, run_id="q")
    a = _chain(tmp_path / "a.json", 2, run_id="a")
    others = tmp_path / ".a.json.petri-tmp.0123456789abcdef"
    stale = tmp_path / ".?.json.petri-tmp.fedcba9876543210"
    lookalike = tmp_path / ".?.json.petri-tmp.notmine"
    for p in (others, stale, lookalike):
        p.write_text("x")
    assert pe.drive(q, FakePorts()).status == "completed"
    assert others.exists() and lookalike.exists() and not stale.exists()
    assert pe.drive(a, FakePorts()).status == "completed"
    assert not others.exists()
    assert is_temp_file_of(others.name, "a.json") and not is_temp_file_of(lookalike.name, "?.json")


@pytest.mark.parametrize(("name", "template", "role"), [
    ("plan.pnml", "executor", "PNML export"),
    ("x.work", "minimal", "work directory"),
])
def test_a_run_file_named_like_its_own_sibling_is_refused(tmp_path: Path, name: str,
                                                          template: str, role: str) -> None:
    path = _chain(tmp_path / name, 1, template=template)
    before = path.read_bytes()
    r = _cli("drive", name, "--ports", "shell", cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert f"that is the name of its own {role}" in r.stderr
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_hard_links_are_refused(tmp_path: Path) -> None:
    path = _chain(tmp_path / "run.json", 1)
    os.link(path, tmp_path / "other.json")
    with pytest.raises(pe.UsageError, match="2 hard links"):
        pe.drive(path, FakePorts())


# -- 3, 4. signals and process groups -----------------------------------------------------

def _wait_dead(pids: list[int], timeout_s: float = 10.0) -> list[int]:
    """The pids still alive after waiting up to ``timeout_s`` for all of them to end
    (a killed process is reaped asynchronously)."""
    deadline = time.monotonic() + timeout_s
    while (alive := _pids_alive(pids)) and time.monotonic() < deadline:
        time.sleep(0.02)
    return alive


def _pids_alive(pids: list[int]) -> list[int]:
    alive = []
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        try:  # a zombie is dead
            with open(f"/proc/{pid}/stat") as f:
                if f.read().split(")")[-1].split()[0] == "Z":
                    continue
        except OSError:
            continue
        alive.append(pid)
    return alive


STEP = "echo {i} >> ../steps.log; sleep 0.4; echo {i} >> ../done.log"


@pytest.mark.parametrize("parallel", ["1", "3"])
def test_sigint_lets_the_step_in_flight_finish_and_commit(tmp_path: Path,
                                                          parallel: str) -> None:
    slices = [{"id": f"s{i}", "depends_on": [], "meta": {"run": STEP.format(i=i)}}
              for i in range(6)]
    (tmp_path / "run.json").write_text(json.dumps(
        {"version": 1, "run_id": "sig", "template": "minimal", "slices": slices}))
    p = subprocess.Popen([EXE, "drive", "run.json", "--ports", "shell", "--max-parallel",
                          parallel, "--progress", "quiet"], cwd=tmp_path,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    steps = tmp_path / "steps.log"
    deadline = time.monotonic() + 20
    while not steps.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 5 and "reason: interrupted" in out, out + err
    assert "Traceback" not in err
    started = steps.read_text().split()
    finished = (tmp_path / "done.log").read_text().split()
    assert sorted(started) == sorted(finished)  # the grace period let them finish
    run = pe.load_run(tmp_path / "run.json")
    assert {s.id for s in run.slices if s.status == "done"} == {f"s{i}" for i in finished}
    r = _cli("drive", "run.json", "--ports", "shell", "--progress", "quiet", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert sorted(steps.read_text().split()) == [str(i) for i in range(6)]  # each ran once


GRACE = """
import sys, petri_exec as pe
out = pe.drive("run.json", pe.ports.ShellPorts(), grace_s=float(sys.argv[1]))
print(out.status, out.reason)
"""


@pytest.mark.parametrize("second_signal", [False, True])
def test_after_the_grace_period_the_commands_process_group_ends(tmp_path: Path,
                                                                second_signal: bool) -> None:
    cmd = "sleep 60 & echo $! > child.pid; echo $$ > sh.pid; wait"
    _chain(tmp_path / "run.json", 1, cmd=cmd)
    grace = "60" if second_signal else "0.3"
    p = subprocess.Popen([sys.executable, "-c", GRACE, grace], cwd=tmp_path,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    child = tmp_path / "run.work" / "child.pid"
    sh = tmp_path / "run.work" / "sh.pid"
    deadline = time.monotonic() + 20
    while not (sh.exists() and sh.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.02)  # sh.pid is written after child.pid: both are there
    p.send_signal(signal.SIGTERM)
    if second_signal:
        time.sleep(0.3)
        p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=20)
    assert out.split()[:2] == ["paused", "interrupted"], out + err
    pids = [int(child.read_text()), int(sh.read_text())]
    assert _wait_dead(pids) == []


def test_a_timeout_ends_everything_the_command_started(tmp_path: Path) -> None:
    cmd = "sleep 60 & echo $! > child.pid; sleep 60"
    path = _chain(tmp_path / "run.json", 1, cmd=cmd)
    # 2 s: time enough to start the shell and write child.pid on a slow machine
    out = pe.drive(path, pe.ports.ShellPorts(timeout_s=2, kill_after_s=0.5))
    assert out.status == "halted" and "timed out after 2s" in (out.reason or "")
    assert _wait_dead([int((tmp_path / "run.work" / "child.pid").read_text())]) == []


def test_a_background_process_does_not_outlive_its_step(tmp_path: Path) -> None:
    path = _chain(tmp_path / "run.json", 1, cmd="(sleep 60 & echo $! > child.pid)")
    assert pe.drive(path, pe.ports.ShellPorts()).status == "completed"
    assert _wait_dead([int((tmp_path / "run.work" / "child.pid").read_text())]) == []


STORM = """
import os, signal, sys, time, petri_exec as pe
# signals are for the drive: outside it (start-up, exit) this script ignores them; drive()
# installs its own handlers for its duration and puts these back
signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGTERM, signal.SIG_IGN)
def runner(ctx):
    time.sleep(0.01 * (hash(ctx.transition) % 5))
    with open("effects.log", "a") as f:
        f.write(ctx.transition + "\\n")
    return {"t": ctx.transition}
out = pe.drive("run.json", {"runner": runner}, max_parallel=int(sys.argv[1]), grace_s=5)
print(out.status)
"""


@pytest.mark.slow
@pytest.mark.parametrize("parallel", ["1", "4"])
def test_signal_storm(tmp_path: Path, parallel: str) -> None:
    """Hundreds of signals at running drives, round after round of fresh runs: no finished
    step re-run, no traceback, no hang, journal and run.json agree after every stop."""
    signals = rounds = 0
    while signals < 200:
        work = tmp_path / f"round{rounds}"
        work.mkdir()
        rounds += 1
        slices = [pe.Slice(f"s{i}", depends_on=(f"s{i // 2}",) if i else ()) for i in range(30)]
        pe.save_run(pe.Run(run_id="storm", template="minimal", slices=tuple(slices)),
                    work / "run.json")
        effects = work / "effects.log"
        for _ in range(100):
            before = effects.read_text().count("\n") if effects.exists() else 0
            p = subprocess.Popen([sys.executable, "-c", STORM, parallel], cwd=work,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            deadline = time.monotonic() + 10  # signal a running drive, not the start-up
            while (p.poll() is None and time.monotonic() < deadline
                   and (effects.read_text().count("\n") if effects.exists() else 0)
                   == before):
                time.sleep(0.005)
            time.sleep((signals % 7) * 0.007)
            for _ in range(1 + signals % 3):
                p.send_signal(signal.SIGINT if signals % 2 else signal.SIGTERM)
                signals += 1
            out, err = p.communicate(timeout=90)  # a hang fails here
            assert "Traceback" not in err, err
            run = pe.load_run(work / "run.json")
            events, _ = pe.read_journal(pe.journal_path(work / "run.json"))
            fired = {e.transition for e in events if e.kind == "transition_fired"}
            assert {f"execute:{s.id}" for s in run.slices if s.status == "done"} == (
                fired - {"start", "finish"})
            if out.strip() == "completed":
                break
        ran = effects.read_text().split()
        assert len(ran) == len(set(ran)) == 30, "a finished step ran again"
    print(f"{signals} signals over {rounds} runs")


# -- 5. facts the loader refuses are refused when the port returns them ---------------------

json_leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(),
                      st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0xFFFF)))
json_like = st.recursive(
    json_leaf | st.tuples(st.integers()) | st.sets(st.integers(), max_size=2),
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(
        st.one_of(st.text(max_size=3), st.integers()), kids, max_size=3),
    max_leaves=12)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(value=json_like, depth=st.sampled_from([0, 1, 70]))
def test_whatever_a_port_returns_the_run_file_stays_loadable(tmp_path: Path, value: Any,
                                                             depth: int) -> None:
    for _ in range(depth):
        value = {"d": value}
    path = _chain(tmp_path / "fuzz.json", 1)
    pe.journal_path(path).unlink(missing_ok=True)
    out = pe.drive(path, {"runner": lambda ctx: {"v": value}})
    loaded = pe.load_run(path)  # whatever happened, the file loads
    assert out.status in ("completed", "halted")
    if out.status == "halted":
        assert "returned facts that cannot be saved" in (out.reason or "")
        assert loaded.slices[0].status == "pending"
    else:
        assert json.loads(json.dumps(loaded.slices[0].facts["v"])) == loaded.slices[0].facts["v"]


@pytest.mark.parametrize(("facts", "rule"), [
    ({"x": float("inf")}, "facts.x: inf is not a finite number"),
    ({"x": {1: "a", "b": 2}}, "facts.x: key 1 is a int, not a string"),
    ({"x": "\ud800"}, "facts.x: a string holds a lone surrogate"),
    ({"x": {1, 2}}, "facts.x: a set is not a JSON value"),
])
def test_bad_facts_fail_the_step_naming_the_key_path(tmp_path: Path, facts: dict[str, Any],
                                                     rule: str) -> None:
    path = _chain(tmp_path / "run.json", 1)
    out = pe.drive(path, {"runner": lambda ctx: facts})
    assert out.status == "halted" and rule in (out.reason or ""), out.reason
    assert "port 'runner'" in (out.reason or "")
    assert pe.load_run(path).slices[0].facts == {}


# -- 6. journals of the wrong shape or kind ---------------------------------------------------

@pytest.mark.parametrize("line", [
    b"42", b"[1, 2]", b"null",
    b'{"kind": "transition_fired", "seq": 3, "time": 0, "run_id": "r", "transition": 7}',
    b'{"kind": "transition_fired", "seq": 3, "time": 0, "run_id": "r", "facts": [1]}',
    b'{"kind": "transition_fired", "seq": "3", "time": 0, "run_id": "r"}',
    b'{"kind": "checkpoint", "seq": 3, "time": 0, "run_id": "r", "extra": 1}',
])
def test_events_of_the_wrong_shape_are_one_line_errors(tmp_path: Path, line: bytes) -> None:
    path = _chain(tmp_path / "run.json", 3)
    pe.drive(path, FakePorts(), max_firings=1)
    with open(pe.journal_path(path), "ab") as f:
        f.write(line + b"\n")
    before = pe.journal_path(path).read_bytes()
    for cmd in (["ready", "run.json"], ["history", "run.json"],
                ["drive", "run.json", "--ports", "shell"]):
        r = _cli(*cmd, cwd=tmp_path)
        assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
        assert "not a valid event" in r.stderr and "Traceback" not in r.stderr
    assert pe.journal_path(path).read_bytes() == before


@pytest.mark.parametrize("kind", ["directory", "devnull", "dangling", "fifo", "devzero"])
def test_a_journal_that_is_not_a_regular_file_is_refused(tmp_path: Path, kind: str) -> None:
    _chain(tmp_path / "run.json", 1)
    journal = tmp_path / "run.events.jsonl"
    if kind == "directory":
        journal.mkdir()
    elif kind == "devnull":
        journal.symlink_to("/dev/null")
    elif kind == "devzero":
        journal.symlink_to("/dev/zero")
    elif kind == "dangling":
        journal.symlink_to(tmp_path / "nowhere")
    else:
        os.mkfifo(journal)
    for cmd in (["ready", "run.json"], ["history", "run.json"],
                ["drive", "run.json", "--ports", "shell"]):
        r = _cli(*cmd, cwd=tmp_path, timeout=20)
        assert r.returncode == 2 and r.stderr.count("\n") == 1, (cmd, r.stderr)
        assert "run.events.jsonl" in r.stderr and "Traceback" not in r.stderr


def test_another_runs_journal_is_refused_naming_both_and_fresh_is_the_way_out(
        tmp_path: Path) -> None:
    a = _chain(tmp_path / "a" / "run.json", 2, run_id="alpha") if (tmp_path / "a").mkdir() \
        is None else None
    assert a is not None
    pe.drive(a, FakePorts())
    b = _chain(tmp_path / "b" / "run.json", 2, run_id="beta") if (tmp_path / "b").mkdir() \
        is None else None
    assert b is not None
    pe.journal_path(b).write_bytes(pe.journal_path(a).read_bytes())  # ends with a checkpoint
    with pytest.raises(pe.JournalError) as info:
        pe.load_run(b)
    msg = str(info.value)
    assert "belongs to another run" in msg and "'alpha'" in msg and "'beta'" in msg
    assert "--fresh" in msg
    r = _cli("drive", "run.json", "--ports", "shell", cwd=b.parent)
    assert r.returncode == 2 and "--fresh" in r.stderr
    # same run_id and file name, another plan: not the run this journal started from
    c = tmp_path / "c"
    c.mkdir()
    _chain(c / "run.json", 2, run_id="alpha", cmd="echo {i}")
    pe.journal_path(c / "run.json").write_bytes(pe.journal_path(a).read_bytes())
    with pytest.raises(pe.JournalError, match="another identity"):
        pe.load_run(c / "run.json")
    out = pe.drive(c / "run.json", FakePorts(), fresh=True)
    assert out.status == "completed" and out.fired == 4
    kept = sorted(p.name for p in c.glob("run.events.*.jsonl"))
    assert len(kept) == 1 and kept[0] != "run.events.jsonl"


def test_fresh_keeps_the_runs_own_firings(tmp_path: Path) -> None:
    path = _chain(tmp_path / "run.json", 4)
    pe.drive(path, FakePorts(), max_firings=3, checkpoint_every=1000)
    pe.drive(path, FakePorts(), max_firings=0)
    assert _done(pe.load_run(path)) == 2
    r = _cli("drive", "run.json", "--ports", "shell", "--fresh", "--max-firings", "0",
             cwd=tmp_path)
    assert r.returncode == 5 and "the previous one is now" in r.stderr, r.stderr
    assert _done(pe.load_run(path)) == 2


def test_run_json_edited_by_hand_after_a_checkpoint_is_accepted_and_recorded(
        tmp_path: Path) -> None:
    path = _chain(tmp_path / "run.json", 3)
    pe.abandon(path, "pause for review")
    doc = json.loads(path.read_text())
    del doc["abandoned"]  # the documented way back
    path.write_text(json.dumps(doc))
    assert pe.load_run(path).abandoned is None
    assert pe.drive(path, FakePorts()).status == "completed"
    events, _ = pe.read_journal(pe.journal_path(path))
    assert any(e.kind == "checkpoint" and "outside petri-exec" in (e.reason or "")
               for e in events)


def test_a_restored_old_run_json_with_a_newer_journal_is_refused(tmp_path: Path) -> None:
    path = _chain(tmp_path / "run.json", 4)
    pe.drive(path, FakePorts(), max_firings=1)
    old = json.loads(path.read_text())
    pe.drive(path, FakePorts(), max_firings=2, checkpoint_every=1000)
    pe.drive(path, FakePorts(), max_firings=0)
    old["facts"] = {"edited": True}  # matches no checkpoint, and firings follow the last one
    path.write_text(json.dumps(old))
    with open(pe.journal_path(path), "ab") as f:
        f.write(json.dumps({"kind": "transition_fired", "seq": 999, "time": 0.0,
                            "run_id": "r", "transition": "execute:s2"}).encode() + b"\n")
    with pytest.raises(pe.JournalError, match="is not the state this journal leads to"):
        pe.load_run(path)


# -- 7. OS errors are bad input ----------------------------------------------------------------

@pytest.mark.parametrize(("args", "needle"), [
    (["visualize", "run.json", "-o", "/nonexistent/x.dot"], "/nonexistent/x.dot"),
    (["export", "run.json", "--format", "json", "-o", "/proc/x"], "/proc/x"),
    (["drive", "run.json", "--ports", ".:x"], "--ports '.:x'"),
    (["drive", "run.json", "--ports", "broken:ports"], "broken.py:2: syntax error"),
    (["ready", "missing.json"], "missing.json"),
])
def test_os_errors_and_bad_ports_are_one_line_exit_2(tmp_path: Path, args: list[str],
                                                    needle: str) -> None:
    _chain(tmp_path / "run.json", 1)
    (tmp_path / "broken.py").write_text("ports = {\n  'runner': lambda ctx None,\n}\n")
    r = _cli(*args, cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    assert needle in r.stderr and "internal error" not in r.stderr


FULL = """
import resource, signal, sys, petri_exec as pe
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
from petri_exec.cli import main
sys.exit(main(["drive", "run.json", "--ports", "shell", "--progress", "quiet"]))
"""


def test_a_full_disk_is_bad_input_and_the_state_holds(tmp_path: Path) -> None:
    """RLIMIT_FSIZE stands in for a full disk: writes past it fail with EFBIG."""
    _chain(tmp_path / "run.json", 30, cmd="true")
    size = (tmp_path / "run.json").stat().st_size
    r = subprocess.run([sys.executable, "-c", FULL, str(size + 6000)], cwd=tmp_path,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    assert "cannot" in r.stderr and "internal error" not in r.stderr
    run = pe.load_run(tmp_path / "run.json")  # everything journaled is there
    events, _ = pe.read_journal(pe.journal_path(tmp_path / "run.json"))
    fired = {e.transition for e in events if e.kind == "transition_fired"}
    assert {f"execute:{s.id}" for s in run.slices if s.status == "done"} == fired - {"start"}
    resource.getrlimit(resource.RLIMIT_FSIZE)  # (the parent's limit is untouched)
    again = _cli("drive", "run.json", "--ports", "shell", "--progress", "quiet",
                 cwd=tmp_path)
    assert again.returncode == 0, again.stderr


# -- 9. terminal output -------------------------------------------------------------------

def test_control_characters_never_reach_the_terminal(tmp_path: Path) -> None:
    evil = "\x1b[2J\x1b[31mowned\nforged line\r\x07"
    (tmp_path / "evilports.py").write_text(
        "import petri_exec as pe\n"
        f"ports = {{'runner': lambda ctx: pe.StepResult.fail({evil!r})}}\n")
    _chain(tmp_path / "run.json", 1, run_id="r\x1b]0;title\x07")
    outputs = [_cli("drive", "run.json", "--ports", "evilports:ports", "--progress", "lines",
                    cwd=tmp_path),
               _cli("history", "run.json", cwd=tmp_path),
               _cli("abandon", "run.json", "--reason", evil, cwd=tmp_path)]
    for r in outputs:
        text = r.stdout + r.stderr
        assert "\x1b" not in text and "\x07" not in text and "\r" not in text
        assert "forged line" not in text.splitlines()
    assert "\\x1b[2J" in outputs[1].stdout


# -- 8. why is linear in what it reports ---------------------------------------------------------

def test_why_does_not_look_slices_up_one_by_one(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    n = 3000
    slices = [pe.Slice(f"s{i}") for i in range(n)]
    slices.append(pe.Slice("last", depends_on=tuple(f"s{i}" for i in range(n))))
    pe.save_run(pe.Run(run_id="w", template="minimal", slices=tuple(slices)),
                tmp_path / "w.json")

    def no_scan(self: pe.Run, slice_id: str) -> pe.Slice:
        raise AssertionError("Run.slice scans every slice: quadratic in a why")

    monkeypatch.setattr(pe.Run, "slice", no_scan)
    from petri_exec.cli import main

    assert main(["why", str(tmp_path / "w.json"), "execute:last"]) == 0
    assert capsys.readouterr().out.count(": waits for slice ") == n


def test_an_event_of_another_run_in_the_tail_is_refused(tmp_path: Path) -> None:
    path = _chain(tmp_path / "run.json", 2)
    pe.drive(path, FakePorts(), max_firings=1)
    with open(pe.journal_path(path), "ab") as f:
        f.write(json.dumps({"kind": "run_abandoned", "seq": 99, "time": 0.0,
                            "run_id": "other", "reason": "not yours"}).encode() + b"\n")
    with pytest.raises(pe.JournalError, match="a run_abandoned event of run 'other'"):
        pe.load_run(path)


def test_a_renamed_run_file_keeps_its_journal(tmp_path: Path) -> None:
    path = _chain(tmp_path / "run.json", 3)
    pe.drive(path, FakePorts(), max_firings=2, checkpoint_every=1000)
    os.rename(path, tmp_path / "renamed.json")
    os.rename(pe.journal_path(path), tmp_path / "renamed.events.jsonl")
    assert _done(pe.load_run(tmp_path / "renamed.json")) == 1
    assert pe.drive(tmp_path / "renamed.json", FakePorts()).status == "completed"
