"""Error messages of the engine and core modules, pinned in full (issue 19): mutmut turns a
message's literal fragments into ``XX...XX``, and a test that matches only part of the
message lets such a mutant live. Every test here compares the whole message with ``==``, so a
changed wording fails a test, and checks that a refusal modified nothing where the docs
promise that. All of it runs in process: a test that runs the CLI in a subprocess imports
the unmutated package and detects no mutant."""

from __future__ import annotations

import contextlib
import json
import os
import resource
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import petri_exec as pe
from petri_exec.engine.journal import Journal
from petri_exec.engine.lock import run_lock

Make = Callable[..., Path]
PORTS = {"runner": lambda ctx: None}


def _files(directory: Path) -> dict[str, bytes]:
    """Every file in ``directory`` and its bytes: a refusal must leave this as it was."""
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}


def _minimal(make: Make, *ids: str, name: str = "run.json", **top: Any) -> Path:
    """A run of the ``minimal`` template with independent slices ``ids``."""
    return make([{"id": s, "depends_on": []} for s in ids], name=name,
                template="minimal", **top)


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))


# -- core.marking.not_enabled ------------------------------------------------------------

def test_firing_a_transition_that_lacks_tokens_names_the_places(make_run: Make,
                                                                tmp_path: Path) -> None:
    path = _minimal(make_run, "a")
    before = _files(tmp_path)
    with pytest.raises(pe.NotEnabledError) as e:
        pe.fire(path, "finish", PORTS)
    assert str(e.value) == (
        "transition 'finish' is not enabled: missing tokens in run:running, slice:a:done; "
        "fire what produces them first (petri-exec why RUN finish explains the chain)")
    assert _files(tmp_path) == before  # nothing recorded


def test_a_transition_that_lacks_weighted_tokens_names_what_it_needs_and_has() -> None:
    net = pe.Net(["p", "q"], [pe.Transition("t", "t")], consume=[[(0, 2), (1, 1)]],
                 produce=[[]], read=[[]])
    with pytest.raises(pe.NotEnabledError) as e:
        net.fire({"p": 1}, "t")
    assert str(e.value) == (
        "transition 't' is not enabled: missing tokens in p (needs 2, has 1), q; fire what "
        "produces them first (petri-exec why RUN t explains the chain)")


# -- engine.api ------------------------------------------------------------------------------

@pytest.mark.parametrize("value", [-1, "3", 2.0])
def test_a_bad_max_firings_is_refused(make_run: Make, tmp_path: Path, value: object) -> None:
    path = _minimal(make_run, "a")
    before = _files(tmp_path)
    with pytest.raises(pe.UsageError) as e:
        pe.drive(path, PORTS, max_firings=value)  # type: ignore[arg-type]
    assert str(e.value) == f"max_firings={value!r} must be a non-negative integer or None"
    assert _files(tmp_path) == before


def test_fresh_needs_a_run_file(make_run: Make) -> None:
    run = pe.load_run(_minimal(make_run, "a"))
    with pytest.raises(pe.UsageError) as e:
        pe.drive(run, PORTS, fresh=True)
    assert str(e.value) == "fresh=True needs a run file (an in-memory run has no journal)"


@pytest.mark.parametrize("reason", ["", "  \n", None])
def test_abandon_needs_a_reason(make_run: Make, tmp_path: Path, reason: object) -> None:
    path = _minimal(make_run, "a")
    before = _files(tmp_path)
    with pytest.raises(pe.UsageError) as e:
        pe.abandon(path, reason)  # type: ignore[arg-type]
    assert str(e.value) == "abandon needs a non-empty reason (--reason TEXT)"
    assert _files(tmp_path) == before


# -- engine.driver._resolve_scheduler and the session ----------------------------------------

class _NoNet:
    def __repr__(self) -> str:
        return "<no net>"


@pytest.mark.parametrize(("scheduler", "message"), [
    ("fifo", "unknown scheduler 'fifo'; use 'petri', 'linear' or a Scheduler"),
    (_NoNet(), "scheduler <no net> has no ready()/net; subclass petri_exec.Scheduler"),
])
def test_a_bad_scheduler_is_refused(make_run: Make, tmp_path: Path, scheduler: object,
                                    message: str) -> None:
    path = _minimal(make_run, "a")
    before = _files(tmp_path)
    with pytest.raises(pe.UsageError) as e:
        pe.drive(path, PORTS, scheduler=scheduler)
    assert str(e.value) == message
    assert _files(tmp_path) == before


def test_a_scheduler_of_another_net_is_refused(make_run: Make, tmp_path: Path) -> None:
    path = _minimal(make_run, "a")
    other = pe.compile_run(pe.Run(run_id="o", template="minimal", slices=(pe.Slice("z"),)))
    scheduler = pe.PetriScheduler(other)
    before = _files(tmp_path)
    with pytest.raises(pe.UsageError) as e:
        pe.drive(path, PORTS, scheduler=scheduler)
    assert str(e.value) == (
        f"scheduler {scheduler!r} does not schedule run 'test-run': marking has tokens in "
        f"'slice:a:pending', not a place of {other!r}")
    assert _files(tmp_path) == before


# -- engine.durable ----------------------------------------------------------------------------

def test_a_journal_of_another_run_id_is_refused(make_run: Make, tmp_path: Path) -> None:
    alpha = _minimal(make_run, "a", name="a.json", run_id="alpha")
    assert pe.drive(alpha, PORTS).status == "completed"
    header = pe.read_journal(pe.journal_path(alpha))[0][0]
    beta = _minimal(make_run, "a", name="b.json", run_id="beta")
    jpath = pe.journal_path(beta)
    shutil.copy(pe.journal_path(alpha), jpath)
    before = _files(tmp_path)
    with pytest.raises(pe.JournalError) as e:
        pe.drive(beta, PORTS)
    assert str(e.value) == (
        f"{jpath}: this journal belongs to another run (another run_id: the journal names run "
        f"'alpha', identity {header.identity}, run file 'a.json'; b.json is run 'beta', "
        f"identity None); 'petri-exec drive {_real(beta)} --fresh' moves it aside and starts "
        "a new journal")
    assert _files(tmp_path) == before


def test_a_journal_of_another_identity_is_refused(make_run: Make, tmp_path: Path) -> None:
    alpha = _minimal(make_run, "a", name="a.json", run_id="alpha")
    assert pe.drive(alpha, PORTS).status == "completed"
    header = pe.read_journal(pe.journal_path(alpha))[0][0]
    twin = _minimal(make_run, "a", name="c.json", run_id="alpha", identity="0" * 32)
    jpath = pe.journal_path(twin)
    shutil.copy(pe.journal_path(alpha), jpath)
    with pytest.raises(pe.JournalError) as e:
        pe.load_run(twin)
    assert str(e.value) == (
        f"{jpath}: this journal belongs to another run (another identity: the journal names "
        f"run 'alpha', identity {header.identity}, run file 'a.json'; c.json is run 'alpha', "
        f"identity {'0' * 32}); 'petri-exec drive {_real(twin)} --fresh' moves it aside and "
        "starts a new journal")


def test_a_journal_holding_another_runs_events_is_refused(make_run: Make,
                                                          tmp_path: Path) -> None:
    path = _minimal(make_run, "a")
    jpath = pe.journal_path(path)  # a journal from before headers and digests
    jpath.write_text(json.dumps({"kind": "transition_fired", "seq": 0, "time": 1.0,
                                 "run_id": "other", "transition": "start"}) + "\n")
    before = _files(tmp_path)
    with pytest.raises(pe.JournalError) as e:
        pe.drive(path, PORTS)
    assert str(e.value) == (
        f"{jpath}: line 1: a transition_fired event of run 'other', not 'test-run': this "
        f"journal holds another run's events; 'petri-exec drive {_real(path)} --fresh' moves "
        "it aside and starts a new one")
    assert _files(tmp_path) == before


# -- engine.journal ----------------------------------------------------------------------------

_BASE = {"kind": "checkpoint", "seq": 0, "time": 1.0, "run_id": "r"}
_FIRED = {**_BASE, "kind": "transition_fired", "transition": "start"}
_RESET = {**_BASE, "kind": "slice_reset"}


@pytest.mark.parametrize(("line", "why"), [
    ([], "an event must be a JSON object, got an array"),
    ("x", "an event must be a JSON object, got a string"),
    ({**_BASE, "kind": "nope"}, "unknown event kind 'nope'"),
    ({k: v for k, v in _BASE.items() if k != "kind"}, "unknown event kind None"),
    ({**_BASE, "zeta": 1, "extra": 2}, "unknown field 'extra' in a checkpoint event"),
    ({k: v for k, v in _BASE.items() if k != "time"}, "a checkpoint event lacks 'time'"),
    ({**_BASE, "seq": "0"}, "'seq' of a checkpoint event must be an integer, got a string"),
    ({**_BASE, "time": True}, "'time' of a checkpoint event must be a number, got a boolean"),
    ({**_BASE, "run_id": 7}, "'run_id' of a checkpoint event must be a string, got an integer"),
    ({**_BASE, "seq": -1}, "a checkpoint event has seq -1 and time 1.0: expected seq >= 0 and "
     "a finite time"),
    ({**_BASE, "time": float("inf")}, "a checkpoint event has seq 0 and time inf: expected "
     "seq >= 0 and a finite time"),
    ({**_FIRED, "consumed": {"p": 1.5}},
     "'consumed' of a transition_fired event must map names to integers"),
    ({**_FIRED, "produced": ["p"]},
     "'produced' of a transition_fired event must map names to integers"),
    ({**_BASE, "attempts": {"t": True}},
     "'attempts' of a checkpoint event must map names to integers"),
    ({**_FIRED, "facts": []}, "'facts' of a transition_fired event must be an object, got "
     "an array"),
    ({**_RESET, "change": None, "facts": 1.5},
     "'facts' of a slice_reset event must be an object, got a number"),
    ({**_RESET, "change": "x"}, "'change' of a slice_reset event must be an object, got a "
     "string"),
    ({**_RESET, "slices": "a"}, "'slices' of a slice_reset event must be a list of slice ids"),
    ({**_RESET, "slices": ["a", 1]},
     "'slices' of a slice_reset event must be a list of slice ids"),
])
def test_an_invalid_journal_line_is_refused_naming_file_line_and_cause(
        tmp_path: Path, line: object, why: str) -> None:
    jpath = tmp_path / "run.events.jsonl"
    jpath.write_text(json.dumps(_BASE) + "\n" + json.dumps(line) + "\n")
    with pytest.raises(pe.JournalError) as e:
        pe.read_journal(jpath)
    assert str(e.value) == (
        f"{jpath}: line 2: not a valid event ({why}); the journal is damaged: restore it from "
        "a backup, or start a new one with drive --fresh (the old one is kept)")


def test_a_journal_that_cannot_be_read_is_refused() -> None:
    # /proc/self/mem is a regular file that opens for reading and fails the read at offset 0
    mem = Path("/proc/self/mem")
    if not mem.is_file():
        pytest.skip("needs Linux /proc/self/mem")
    fd = os.open(mem, os.O_RDONLY)
    try:
        os.pread(fd, 1, 0)
    except OSError as error:
        why = error.strerror  # EIO ("Input/output error") on Linux: page 0 is never mapped
    else:
        pytest.skip("/proc/self/mem reads at offset 0 here")
    finally:
        os.close(fd)
    with pytest.raises(pe.JournalError) as e:
        pe.read_journal(mem)
    assert str(e.value) == (f"{mem}: cannot read the journal: {why}; it must be "
                            "a readable regular file")


def test_a_journal_that_cannot_be_opened_for_writing_is_refused(tmp_path: Path) -> None:
    jpath = tmp_path / "run.events.jsonl"
    jpath.mkdir()
    with pytest.raises(pe.JournalError) as e:
        Journal(jpath)
    assert str(e.value) == (f"{jpath}: cannot open the journal for writing: a directory, not "
                            "a regular file; it must be a writable regular file")
    assert list(jpath.iterdir()) == []


# -- engine.lock -------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "why"), [
    ("missing.json", "No such file or directory"),
    ("dir.json", "a directory, not a regular file"),
])
def test_a_run_file_that_cannot_be_opened_is_refused(tmp_path: Path, name: str,
                                                     why: str) -> None:
    path = tmp_path / name
    if name == "dir.json":
        path.mkdir()
    with pytest.raises(pe.RunFileError) as e:
        pe.abandon(path, "why")
    assert str(e.value) == f"{path}: cannot open run file ({why})"
    assert e.value.file == os.fspath(path)


def test_a_locked_run_is_refused_naming_the_holder(make_run: Make, tmp_path: Path) -> None:
    path = _minimal(make_run, "a")
    before = _files(tmp_path)
    with run_lock(path), pytest.raises(pe.RunLockedError) as e:
        pe.abandon(path, "why")
    assert str(e.value) == (
        f"{path}: the run is locked by pid {os.getpid()} (another drive, fire or operation "
        "holds it); wait for it to finish or stop that process")
    assert _files(tmp_path) == before


def test_a_run_file_with_hard_links_is_refused(make_run: Make, tmp_path: Path) -> None:
    path = _minimal(make_run, "a")
    os.link(path, tmp_path / "other.json")
    before = _files(tmp_path)
    with pytest.raises(pe.UsageError) as e:
        pe.drive(path, PORTS)
    assert str(e.value) == (
        f"{path}: the run file has 2 hard links; a checkpoint replaces only one name, so the "
        "others would escape the lock: keep one name (use a copy or a symbolic link instead)")
    assert _files(tmp_path) == before


# -- engine.operate.retry ----------------------------------------------------------------------

def test_retry_of_an_unknown_target_is_refused(make_run: Make, tmp_path: Path) -> None:
    path = _minimal(make_run, "a")
    before = _files(tmp_path)
    with pytest.raises(pe.UsageError) as e:
        pe.retry(path, "zz")
    assert str(e.value) == (
        f"{_real(path)}: 'zz' is neither a slice of run 'test-run' nor a step of its run lane; "
        "name a slice id or a run step (start, finish)")
    assert _files(tmp_path) == before


def test_retry_only_is_refused_when_a_dependent_has_started(make_run: Make,
                                                            tmp_path: Path) -> None:
    path = make_run([{"id": "a", "depends_on": []}, {"id": "b", "depends_on": ["a"]}],
                    template="minimal")
    assert pe.drive(path, PORTS).status == "completed"
    before = _files(tmp_path)
    with pytest.raises(pe.UsageError) as e:
        pe.retry(path, "a", only=True)
    assert str(e.value) == (f"{_real(path)}: slice 'b' depends on 'a' and has started; retry "
                            "without --only to reset it too")
    assert _files(tmp_path) == before


def test_retry_of_a_slice_that_has_not_run_is_refused(make_run: Make, tmp_path: Path) -> None:
    path = _minimal(make_run, "a")
    before = _files(tmp_path)
    with pytest.raises(pe.UsageError) as e:
        pe.retry(path, "a")
    assert str(e.value) == (f"{_real(path)}: nothing to retry: 'a' has not run yet (drive "
                            "again to run it)")
    assert _files(tmp_path) == before


def test_retry_is_refused_when_the_ports_reset_hook_fails(make_run: Make,
                                                          tmp_path: Path) -> None:
    class Broken:
        def reset_slices(self, run_path: Path, run: pe.Run, ids: list[str]) -> None:
            raise RuntimeError("no branch")

    path = make_run([{"id": "a", "depends_on": []}, {"id": "b", "depends_on": ["a"]}],
                    template="minimal")
    assert pe.drive(path, PORTS).status == "completed"
    before = _files(tmp_path)
    with pytest.raises(pe.PortError) as e:
        pe.retry(path, "a", ports=Broken())
    assert str(e.value) == (f"{_real(path)}: the ports' reset_slices hook failed for a, b "
                            "(RuntimeError: no branch); nothing was reset")
    assert _files(tmp_path) == before


# -- engine.operate.amend ----------------------------------------------------------------------

def test_amend_with_a_plan_that_cannot_be_read_is_refused(make_run: Make,
                                                          tmp_path: Path) -> None:
    path = _minimal(make_run, "a")
    missing = tmp_path / "plan.json"
    before = _files(tmp_path)
    with pytest.raises(pe.RunFileError) as e:
        pe.amend(path, missing)
    assert str(e.value) == f"{missing}: cannot read the plan (No such file or directory)"
    assert _files(tmp_path) == before


@pytest.mark.parametrize(("plan", "as_file"), [([{"id": "a"}], True), ({"epics": []}, True),
                                             ({"epics": []}, False)])
def test_amend_with_a_plan_without_slices_is_refused(make_run: Make, tmp_path: Path,
                                                     plan: Any, as_file: bool) -> None:
    path = _minimal(make_run, "a")
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(plan))
    before = _files(tmp_path)
    with pytest.raises(pe.RunFileError) as e:
        pe.amend(path, plan_file if as_file else plan)
    name = plan_file if as_file else "<plan>"
    assert str(e.value) == (f'{name}: a plan is a JSON object with "slices" (the run file\'s '
                            "shape); add the slices")
    assert _files(tmp_path) == before


def test_amend_is_refused_past_the_frontier(make_run: Make, tmp_path: Path) -> None:
    path = _minimal(make_run, "a")
    assert pe.drive(path, PORTS).status == "completed"
    before = _files(tmp_path)
    with pytest.raises(pe.UsageError) as e:
        pe.amend(path, {"slices": [{"id": "a", "depends_on": []}, {"id": "b"}]})
    assert str(e.value) == (f"{_real(path)}: the run is past 'running' (status 'done'): its "
                            "plan is closed; 'petri-exec retry RUN run_complete' reopens it")
    assert _files(tmp_path) == before


def test_amend_with_the_same_plan_is_refused(make_run: Make, tmp_path: Path) -> None:
    path = _minimal(make_run, "a")
    before = _files(tmp_path)
    with pytest.raises(pe.UsageError) as e:
        pe.amend(path, {"slices": [{"id": "a", "depends_on": []}]})
    assert str(e.value) == f"{_real(path)}: the plan changes nothing"
    assert _files(tmp_path) == before


def test_amend_with_a_new_slice_not_at_the_initial_status_is_refused(make_run: Make,
                                                                      tmp_path: Path) -> None:
    path = _minimal(make_run, "a")
    assert pe.drive(path, PORTS, max_firings=1).status == "paused"  # at the frontier
    before = _files(tmp_path)
    with pytest.raises(pe.UsageError) as e:
        pe.amend(path, {"slices": [{"id": "a", "depends_on": []},
                                   {"id": "n", "depends_on": [], "status": "done"}]})
    assert str(e.value) == f"{_real(path)}: new slice 'n' must start at 'pending', not 'done'"
    assert _files(tmp_path) == before


@pytest.mark.parametrize(("plan", "what"), [
    ([{"id": "a", "depends_on": [], "title": "new"}, {"id": "b", "depends_on": []}],
     "changed"),
    ([{"id": "b", "depends_on": []}], "removed"),
])
def test_amend_of_a_started_slice_is_refused(make_run: Make, tmp_path: Path,
                                             plan: list[dict[str, Any]], what: str) -> None:
    path = _minimal(make_run, "a", "b")
    assert pe.drive(path, PORTS, max_firings=2).status == "paused"  # start, execute:a
    assert pe.load_run(path).slice("a").status == "done"
    before = _files(tmp_path)
    with pytest.raises(pe.UsageError) as e:
        pe.amend(path, {"slices": plan})
    assert str(e.value) == (f"{_real(path)}: slice 'a' has started (status 'done'): it cannot "
                            f"be {what}; 'petri-exec retry RUN a' first")
    assert _files(tmp_path) == before


# -- engine.writer -----------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "role"), [("x.pnml", "PNML export"),
                                            ("x.work", "work directory")])
def test_a_run_file_named_like_its_own_sibling_is_refused(make_run: Make, tmp_path: Path,
                                                          name: str, role: str) -> None:
    path = _minimal(make_run, "a", name=name)
    before = _files(tmp_path)
    with pytest.raises(pe.UsageError) as e:
        pe.abandon(path, "why")
    assert str(e.value) == (f"{_real(path)}: a run file cannot be named {name!r}: that is the "
                            f"name of its own {role}; rename it (e.g. x.json)")
    assert _files(tmp_path) == before


def test_a_run_file_named_like_a_temp_file_is_refused(make_run: Make, tmp_path: Path) -> None:
    path = _minimal(make_run, "a", name="y.petri-tmp.json")
    before = _files(tmp_path)
    with pytest.raises(pe.UsageError) as e:
        pe.abandon(path, "why")
    assert str(e.value) == (f"{_real(path)}: a run file's name cannot contain '.petri-tmp.' "
                            "(reserved for temp files); rename it")
    assert _files(tmp_path) == before


def test_fresh_is_refused_when_no_name_is_free_for_the_old_journal(
        make_run: Make, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _minimal(make_run, "a")
    assert pe.drive(path, PORTS, max_firings=1).status == "paused"
    monkeypatch.setattr(time, "gmtime", lambda *_: time.struct_time(
        (2030, 1, 2, 3, 4, 5, 2, 2, 0)))
    for n in range(1000):
        (tmp_path / f"run.events.20300102T030405Z{'.' + str(n) if n else ''}.jsonl").touch()
    jpath = pe.journal_path(path)
    journal = jpath.read_bytes()
    with pytest.raises(pe.RunPathError) as e:
        pe.drive(path, PORTS, fresh=True)
    assert str(e.value) == (f"{_real(path)}: cannot start a new journal ({jpath}: cannot find "
                            "a free name to move the journal aside)")
    assert jpath.read_bytes() == journal  # the old journal stays where it is


@contextlib.contextmanager
def _file_size_limit(limit: int) -> Iterator[None]:
    """Writes that would make a file larger than ``limit`` fail with EFBIG (Python ignores
    SIGXFSZ): a full disk for the code under test, in this process only. Nothing may print
    inside the block (the capture files are limited too)."""
    if signal.getsignal(signal.SIGXFSZ) != signal.SIG_IGN:
        pytest.skip("SIGXFSZ is not ignored in this process")
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    if hard != resource.RLIM_INFINITY and hard < limit:
        pytest.skip("the hard file size limit is lower still")
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))


def test_a_checkpoint_that_cannot_be_written_leaves_run_json_as_it_was(
        make_run: Make, tmp_path: Path) -> None:
    path = make_run([{"id": "a", "depends_on": [], "meta": {"pad": "x" * 100_000}}],
                    template="minimal")
    before = path.read_bytes()
    with _file_size_limit(50_000), pytest.raises(pe.RunPathError) as e:
        pe.abandon(path, "why")  # stamping the identity rewrites run.json
    assert str(e.value) == (f"{_real(path)}: cannot write the checkpoint (File too large); the "
                            "journal holds every firing: free space or fix permissions, then "
                            "drive again")
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.events.jsonl", "run.json"]


def test_a_journal_that_cannot_be_appended_to_halts_the_drive(make_run: Make) -> None:
    path = _minimal(make_run, "a")
    assert pe.drive(path, PORTS, max_firings=1).status == "paused"  # start
    jpath = pe.journal_path(path)
    with _file_size_limit(jpath.stat().st_size + 10), pytest.raises(pe.RunPathError) as e:
        pe.drive(path, PORTS)
    assert str(e.value) == (f"{jpath}: cannot append to the journal (File too large); the run "
                            "is as of its last journaled event: free space or fix permissions, "
                            "then drive again")
    assert pe.load_run(path).status == "running"
    assert pe.load_run(path).slice("a").status == "pending"
