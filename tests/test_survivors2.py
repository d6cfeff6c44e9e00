"""Deterministic tests for the mutants the second mutation sample left alive (issue 19,
seed 20; docs/testing.md, "Second sample"): each test here fails on the survivor it names
and passes on the real code. None depends on timing to detect anything."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

import petri_exec as pe
from petri_exec.core import NetState, RunState
from petri_exec.engine.journal import open_for_reading
from petri_exec.engine.lock import holder_pid
from petri_exec.ports import exception_result, missing_port_reason
from petri_exec.ports.command import tail
from petri_exec.ports.procgroup import groups_of, run_command
from petri_exec.ports.worktree import Layout
from petri_exec.testing import FakePorts

from .gitutil import (
    AGENT,
    git,
    isolated_git,  # noqa: F401  (autouse fixture)
    make_repo,
    write_git_run,
)


def _chain(n: int, run_id: str = "d") -> pe.Run:
    return pe.Run(run_id=run_id, template="minimal", slices=tuple(
        pe.Slice(f"s{i}", depends_on=(f"s{i - 1}",) if i else ()) for i in range(n)))


# -- core.net ----------------------------------------------------------------------------


def test_missing_counts_an_absent_place_as_zero_tokens() -> None:
    """Net.missing: a place the marking does not mention holds 0 tokens (not None)."""
    run = pe.Run("r", (pe.Slice("a"), pe.Slice("b", depends_on=("a",))), template="minimal")
    net = pe.compile_run(run)
    assert net.missing("execute:b", {}) == [("slice:b:pending", 1, 0),
                                            ("run:running", 1, 0), ("slice:a:done", 1, 0)]
    assert net.missing("execute:b", {"run:running": 1, "slice:b:pending": 1}) == [
        ("slice:a:done", 1, 0)]


# -- core.runnet -------------------------------------------------------------------------


def test_two_tokens_in_the_first_slices_lane_before_the_run_place_get_the_general_state(
        ) -> None:
    """RunNet._positions: the first slice's lane (index 0) is checked for a second token
    even when its places come before the run's place in the marking."""
    run = pe.Run("r", (pe.Slice("a"), pe.Slice("b")), template="minimal")
    net = pe.compile_run(run)
    marking = {"slice:a:pending": 1, "slice:a:done": 1, "slice:b:pending": 1,
               "run:created": 1}
    state = net.state(marking)
    assert type(state) is NetState
    assert dict(state.marking()) == marking


def test_the_compiled_runs_own_marking_with_an_unknown_status_is_refused() -> None:
    """RunNet._run_positions: a slice status the lane does not have is no position (the
    state falls back to parsing the marking, which names the place)."""
    run = pe.Run("r", (pe.Slice("a"), pe.Slice("b", "bogus")), template="minimal")
    net = pe.compile_run(run)
    with pytest.raises(KeyError, match="marking has tokens in 'slice:b:bogus', not a place"):
        net.state(pe.marking_of(run))


def test_the_marking_of_another_run_is_read_by_slice_id_not_by_position() -> None:
    """RunNet.state: only the run compiled takes the positional shortcut; the marking of
    another run (same slices, other order) is read place by place."""
    run = pe.Run("r", (pe.Slice("a"), pe.Slice("b")), template="minimal", status="running")
    net = pe.compile_run(run)
    other = pe.Run("r", (pe.Slice("b", "done"), pe.Slice("a")), template="minimal",
                   status="running")
    state = net.state(pe.marking_of(other))
    assert dict(state.marking()) == {"run:running": 1, "slice:a:pending": 1,
                                     "slice:b:done": 1}
    assert state.is_enabled("execute:a") and not state.is_enabled("execute:b")  # type: ignore[arg-type]


# -- core.runstate -----------------------------------------------------------------------


def test_arc_checks_only_grow() -> None:
    """RunState._fire_run_step: arc_checks counts work done, so no firing lowers it (the
    O(arcs) bound in test_properties.py would hold vacuously for a count that shrinks)."""
    run = _chain(5)
    state = pe.PetriScheduler.for_run(run).session(pe.marking_of(run))
    assert isinstance(state, RunState)
    seen = [state.arc_checks]
    todo = state.get_ready()
    while todo:
        state.fire(todo.pop())
        todo.extend(state.get_ready())
        seen.append(state.arc_checks)
    assert state.fired == 7
    assert seen == sorted(seen) and seen[-1] >= state.fired


# -- engine.api --------------------------------------------------------------------------


def test_an_interrupt_during_a_failed_attempt_pauses_and_journals_net_paused(
        tmp_path: Path) -> None:
    """_run_sequential: a failure that ends while a stop is requested pauses the drive (a
    ``net_paused`` event, the failure kept), and the resume attempts the step again."""
    path = tmp_path / "run.json"
    pe.save_run(_chain(2), path)
    calls: list[str] = []

    def runner(ctx: pe.StepContext) -> pe.StepResult:
        calls.append(ctx.transition)
        if len(calls) == 1:
            os.kill(os.getpid(), signal.SIGINT)  # the drive's handler only sets a flag
            return pe.StepResult.fail("stopped half way")
        return pe.StepResult.ok()

    out = pe.drive(path, {"runner": runner})
    assert (out.status, out.reason) == ("paused", "interrupted")
    assert [f.reason for f in out.failures] == ["stopped half way"]
    events, _ = pe.read_journal(pe.journal_path(path))
    assert (events[-1].kind, events[-1].reason) == ("net_paused", "interrupted")
    resumed = pe.drive(path, {"runner": runner})
    assert resumed.status == "completed"
    assert calls == ["execute:s0", "execute:s0", "execute:s1"]


# -- engine.driver -----------------------------------------------------------------------


def test_a_firing_event_records_the_tokens_consumed_and_produced(tmp_path: Path) -> None:
    """Driver.commit: ``transition_fired`` carries both sides of the firing, in the
    observer's event and in the journal."""
    path = tmp_path / "run.json"
    pe.save_run(pe.Run("r", (pe.Slice("a"),), template="minimal"), path)
    seen: list[pe.Event] = []
    assert pe.drive(path, FakePorts(), on_event=seen.append).status == "completed"
    journal, _ = pe.read_journal(pe.journal_path(path))
    for events in (seen, journal):
        fired = {e.transition: (e.consumed, e.produced) for e in events
                 if e.kind == "transition_fired"}
        assert fired == {"start": ({"run:created": 1}, {"run:running": 1}),
                         "execute:a": ({"slice:a:pending": 1}, {"slice:a:done": 1}),
                         "finish": ({"run:running": 1}, {"run:done": 1})}


# -- engine.journal ----------------------------------------------------------------------


def test_a_dangling_journal_link_is_worded_in_full(tmp_path: Path) -> None:
    """open_for_reading: a journal that is a dangling symbolic link is refused, naming the
    link, its target and the two ways out."""
    link = tmp_path / "run.events.jsonl"
    link.symlink_to(tmp_path / "gone.jsonl")
    with pytest.raises(pe.JournalError) as info:
        open_for_reading(link)
    assert str(info.value) == (
        f"{link}: the journal is a dangling symbolic link (to {str(tmp_path / 'gone.jsonl')!r});"
        " remove the link or restore its target")


# -- engine.lock -------------------------------------------------------------------------


def test_holder_pid_reads_the_descriptors_own_file(tmp_path: Path) -> None:
    """holder_pid: the flock on the file open as ``fd`` is found without a path."""
    path = tmp_path / "run.json"
    path.write_text("{}")
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert holder_pid(fd) == os.getpid()
    finally:
        os.close(fd)


def test_holder_pid_ignores_a_posix_lock(tmp_path: Path) -> None:
    """_holder: only ``FLOCK`` lines of /proc/locks name a driver; a POSIX (fcntl) lock on
    the same file is someone else's business."""
    path = tmp_path / "run.json"
    path.write_text("{}")
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert f" {os.getpid()} " in Path("/proc/locks").read_text()  # the POSIX lock is listed
        assert holder_pid(fd, path) is None
    finally:
        os.close(fd)


# -- engine.operate ----------------------------------------------------------------------


def test_a_plans_slice_facts_are_ignored_even_malformed(tmp_path: Path) -> None:
    """amend: a plan's ``facts`` are not the run's: dropped before the plan is checked
    (the run keeps its own), so even a malformed value does not refuse the plan."""
    path = tmp_path / "run.json"
    pe.save_run(pe.Run("r", (pe.Slice("a"),), template="minimal"), path)
    pe.drive(path, FakePorts(), max_firings=2)  # start, a (done, with its facts)
    facts = pe.load_run(path).slice("a").facts
    plan = {"slices": [{"id": "a", "depends_on": [], "facts": "stale"},
                       {"id": "b", "depends_on": ["a"], "facts": ["not", "an", "object"]}]}
    run = pe.amend(path, plan)
    assert [s.id for s in run.slices] == ["a", "b"]
    assert run.slice("a").facts == facts and run.slice("b").facts == {}


def test_a_plan_whose_slices_are_not_a_list_is_refused_and_the_callers_plan_kept(
        tmp_path: Path) -> None:
    """amend: dropping the plan's facts neither crashes on a malformed ``slices`` (it is
    refused like any bad plan: file, JSON path, nothing written) nor edits the caller's
    plan."""
    path = tmp_path / "run.json"
    pe.save_run(pe.Run("r", (pe.Slice("a"),), template="minimal"), path)
    before = path.read_bytes()
    with pytest.raises(pe.RunFileError) as info:
        pe.amend(path, {"slices": 5})
    assert str(info.value) == "<plan>: slices: expected an array, got a number"
    assert path.read_bytes() == before
    plan = {"slices": [{"id": "a", "depends_on": [], "facts": {"x": 1}}, {"id": "b"}]}
    snapshot = json.dumps(plan)
    pe.amend(path, plan)
    assert json.dumps(plan) == snapshot


# -- ports.command -----------------------------------------------------------------------


def test_tail_keeps_at_most_2000_characters_by_default(tmp_path: Path) -> None:
    """tail: the default bound of a log excerpt (a failure's ``test_tail``) is 2000."""
    log = tmp_path / "test.log"
    text = "".join(str(i % 10) for i in range(5000))
    log.write_text(text + "\n")
    assert tail(log) == text[-2000:]


# -- ports.gitcheck ----------------------------------------------------------------------


def test_preflight_lines_of_a_run_not_started(tmp_path: Path) -> None:
    """Preflight.lines: a new run branch and a free worktree say so."""
    repo = make_repo(tmp_path / "repo")
    run = write_git_run(repo / "run.json", [{"id": "a"}])
    found = pe.GitPorts(agent=AGENT).preflight(run, pe.load_run(run))
    assert found.lines()[2:] == ["run branch petri/feature (new)",
                                 f"run worktree {found.run_worktree} (free)"]


# -- ports.gitland -----------------------------------------------------------------------


def _source_copy_after_main_moved(tmp_path: Path, committed: str, uncommitted: str
                                  ) -> tuple[Path, str, pe.FireOutcome]:
    """worktree_create .. source_policy; then main moves on (app.txt becomes ``committed``)
    and app.txt is edited without committing (``uncommitted``); then source_copy
    (working-tree). Returns the repository, the run branch's tip before source_copy, and
    the firing."""
    repo = make_repo(tmp_path / "repo", {"app.txt": "v1\n", "other.txt": "o1\n"})
    run = write_git_run(repo / "run.json", [{"id": "s"}])
    ports = pe.GitPorts(agent="true", source_policy="working-tree")
    for step in ("worktree_create", "populate", "source_policy"):
        assert pe.fire(run, step, ports).status == "fired"
    tip = git(repo, "rev-parse", "petri/feature")
    (repo / "other.txt").write_text("o2\n")
    (repo / "app.txt").write_text(committed)
    git(repo, "commit", "-q", "-am", "main moves on")
    (repo / "app.txt").write_text(uncommitted)
    return repo, tip, pe.fire(run, "source_copy", ports)


def test_a_snapshot_carries_only_the_uncommitted_change_when_main_moved(
        tmp_path: Path) -> None:
    """_cherry_pick: when the host's HEAD is no longer the run's tip, only the change
    HEAD -> working tree is carried onto the run branch (not main's new commit)."""
    repo, _, fired = _source_copy_after_main_moved(tmp_path, "v1\n", "wip\n")
    assert fired.status == "fired", fired
    assert fired.run.facts["carried"] == ["app.txt"]
    assert git(repo, "show", "petri/feature:app.txt") == "wip"
    assert git(repo, "show", "petri/feature:other.txt") == "o1"  # main's commit is not


def test_a_snapshot_that_conflicts_with_the_run_branch_is_refused(tmp_path: Path) -> None:
    """_cherry_pick: the uncommitted change does not apply to the run branch: a failure
    naming the file, the run branch untouched."""
    repo, tip, fired = _source_copy_after_main_moved(tmp_path, "v2\n", "v3\n")
    assert (fired.status, fired.step) == ("halted", "source_copy")
    assert fired.reason == (
        "the host checkout's changes do not apply to petri/feature: conflicts in app.txt; "
        "commit them to 'main' first, or use --source-policy head")
    assert git(repo, "rev-parse", "petri/feature") == tip


# -- ports.procgroup ---------------------------------------------------------------------


def test_a_finished_commands_group_is_unregistered(tmp_path: Path) -> None:
    """_unregister: while a command runs its group is registered under its owner; once it
    has ended, the owner has none left (nothing to signal on a later interrupt)."""
    owner = str(tmp_path / "run.json")
    during: list[list[int]] = []
    rc = run_command(["true"], owner=owner, cwd=tmp_path, env=os.environ,
                     stdout=subprocess.DEVNULL,
                     on_start=lambda pid: during.append((groups_of(owner), pid)))
    assert rc == 0
    assert len(during) == 1 and during[0][0] == [during[0][1]]
    assert groups_of(owner) == []


# -- ports.protocol ----------------------------------------------------------------------


def test_an_exception_without_a_message_fails_with_its_type_name() -> None:
    """exception_result: ``"<Type>: <message>"``, or the type's name alone."""
    assert exception_result(ValueError()).reason == "ValueError"
    assert exception_result(ValueError("boom")).reason == "ValueError: boom"


def test_the_missing_port_reason_is_worded_in_full() -> None:
    """missing_port_reason: names the port, the transition and every accepted return."""
    assert missing_port_reason("runner", "execute:s0") == (
        "port 'runner' is missing for transition 'execute:s0'; supply it as "
        "ports['runner'] = callable(ctx) (or an attribute runner on the ports object) "
        "returning StepResult.ok(...), StepResult.fail(reason), a dict of facts or None")


# -- ports.worktree ----------------------------------------------------------------------


def test_the_work_directory_ignores_itself(tmp_path: Path) -> None:
    """Layout.make_work: the work directory's .gitignore (ignore everything, say why) is
    written once and left alone after."""
    lay = Layout(tmp_path / "run.json", "r")
    lay.make_work()
    ignore = lay.work / ".gitignore"
    assert ignore.read_text() == "# petri-exec's work directory: never part of a commit\n*\n"
    ignore.write_text("*\n# edited\n")
    lay.make_work()
    assert ignore.read_text() == "*\n# edited\n"
    assert json.dumps(sorted(p.name for p in lay.work.iterdir())) == '[".gitignore"]'
