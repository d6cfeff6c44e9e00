"""Deterministic tests for the mutants the third mutation sample left alive (issue 19,
seed 21): each test here fails on the survivor it names and passes on the real code.
None depends on timing to detect anything."""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import petri_exec as pe
from petri_exec.core import NetState
from petri_exec.core.net import Net, Transition
from petri_exec.engine.journal import Journal
from petri_exec.engine.outcome import call_port
from petri_exec.errors import GitCommandError
from petri_exec.ports import StepContext
from petri_exec.ports.gitcmd import KEY_TRAILER, Git
from petri_exec.ports.worktree import repo_lock, worktrees
from petri_exec.testing import FakePorts

from .gitutil import (
    git,
    isolated_git,  # noqa: F401  (autouse fixture)
    make_repo,
    write_git_run,
)

ROOT = Path(__file__).resolve().parents[1]

# -- core.compile ------------------------------------------------------------------------


def test_the_concurrent_net_is_named_after_the_run_and_the_linear_one_adds_linear() -> None:
    """compile_checked (mutmut_33): the concurrent net's name is the run id, nothing
    appended ('.linear' only for the linear net)."""
    run = pe.Run("r7", (pe.Slice("a"), pe.Slice("b")), template="minimal")
    assert pe.compile_run(run).name == "r7"
    assert pe.compile_run(run, linear=True).name == "r7.linear"


# -- core.net ----------------------------------------------------------------------------


def test_a_net_renumbers_transitions_to_their_position() -> None:
    """Net.__init__ (mutmut_25): a transition whose ``index`` is not its position gets its
    position (both default to 0, so the second must become 1 and be judged by its own
    arcs)."""
    net = Net(["p", "q"], [Transition("a", "a"), Transition("b", "b")],
              [[(0, 1)], [(1, 1)]], [[(1, 1)], []], [[], []])
    assert [t.index for t in net.transitions] == [0, 1]
    assert net.is_enabled("b", {"q": 1}) is True
    assert net.is_enabled("b", {"p": 1}) is False


def test_is_enabled_reads_a_place_the_marking_omits_as_empty() -> None:
    """Net.is_enabled (mutmut_9): a consumed place missing from the marking counts as 0
    tokens (False), it is not compared as None."""
    run = pe.Run("r", (pe.Slice("a"), pe.Slice("b", depends_on=("a",))), template="minimal")
    net = pe.compile_run(run)
    assert net.is_enabled("execute:b", {}) is False
    assert net.is_enabled("execute:b", {"run:running": 1}) is False


# -- core.netstate -----------------------------------------------------------------------


def test_a_marking_with_a_foreign_place_names_the_place_and_the_net() -> None:
    """NetState.__init__ (mutmut_7): the KeyError names the place and the net."""
    net = Net(["p"], [Transition("a", "a")], [[(0, 1)]], [[]], [[]], name="tiny")
    with pytest.raises(KeyError) as info:
        NetState(net, {"nowhere": 1})
    assert info.value.args == (
        "marking has tokens in 'nowhere', not a place of Net('tiny', 1 places, "
        "1 transitions)",)


# -- engine.driver -----------------------------------------------------------------------


def test_a_run_steps_port_is_told_its_own_name() -> None:
    """Driver._start (mutmut_34): the context of a run step (no slice) carries the port's
    name, as a slice step's does."""
    fake = FakePorts()
    seen: list[tuple[str, str | None, str | None]] = []

    def recorder(name: str) -> Callable[[StepContext], Any]:
        def port(ctx: StepContext) -> Any:
            seen.append((ctx.transition, ctx.slice_id, ctx.port))
            return fake[name](ctx)
        return port

    run = pe.Run("x", (pe.Slice("a"),), template="executor")
    assert pe.drive(run, {n: recorder(n) for n in fake}).status == "completed"
    assert ("worktree_create", None, "workspace") in seen
    assert ("promotion", None, "land") in seen
    assert ("agent_result:a", "a", "agent_runner") in seen
    assert all(port is not None for _, _, port in seen)


def test_the_linear_schedulers_pnml_export_uses_the_drives_own_template(
        tmp_path: Path) -> None:
    """Driver.full_net (mutmut_7): under the linear scheduler the full net for the PNML
    export is compiled with the template the drive loaded (here from ``template_dirs``),
    not looked up again by name on the default path (where it does not exist)."""
    tdir = tmp_path / "templates"
    tdir.mkdir()
    text = (ROOT / "nets" / "executor.toml").read_text()
    (tdir / "myexec.toml").write_text(text.replace('name = "executor"', 'name = "myexec"', 1))
    path = tmp_path / "run.json"
    pe.save_run(pe.Run("x", (pe.Slice("a"),), template="myexec"), path)
    out = pe.drive(path, FakePorts(), scheduler="linear", template_dirs=[tdir])
    assert out.status == "completed"
    assert pe.load_run(path, template_dirs=[tdir]).facts["pnml"] == "run.pnml"
    pnml = (tmp_path / "run.pnml").read_text()
    assert "slice:a:" in pnml and "promotion" in pnml


# -- engine.journal ----------------------------------------------------------------------


def test_a_torn_last_line_longer_than_one_read_is_cut_back_to_the_last_newline(
        tmp_path: Path) -> None:
    """_drop_torn_tail (mutmut_50): a torn tail longer than one 64 KiB read is searched
    chunk by chunk back to the previous newline (the cut keeps every whole line)."""
    path = tmp_path / "run.journal"
    whole = b'{"kind": "run_started"}\n'
    path.write_bytes(whole + b"x" * 150_000)
    journal = Journal(path, fsync=False)
    try:
        assert journal.torn is True and journal.size == len(whole)
    finally:
        journal.close()
    assert path.read_bytes() == whole
    path.write_bytes(b"y" * 70_000)  # no newline at all: nothing is kept
    journal = Journal(path, fsync=False)
    journal.close()
    assert journal.torn is True and path.read_bytes() == b""


# -- engine.operate ----------------------------------------------------------------------


def test_retrying_a_run_step_before_the_frontier_once_slices_started_is_refused_in_full(
        tmp_path: Path) -> None:
    """_run_step_seeds (mutmut_13): the refusal's whole wording."""
    path = tmp_path / "run.json"
    pe.save_run(pe.Run("op", (pe.Slice("a"),), template="executor"), path)
    pe.drive(path, FakePorts(), max_firings=8)
    assert pe.load_run(path).slice("a").status != "pending"
    with pytest.raises(pe.UsageError) as info:
        pe.retry(path, "worktree_create")
    assert str(info.value) == (
        "run step 'worktree_create' comes before the frontier 'reports_initialized' and "
        "slices have started: retry the slices instead")


# -- engine.outcome ----------------------------------------------------------------------


def test_an_async_port_is_cancelled_once_its_timeout_has_passed() -> None:
    """_bounded (mutmut_2): an ``async def`` port runs under the attempt's timeout. With a
    timeout of 0 it is cancelled before it can finish (asyncio.wait_for's rule for an
    expired timeout: no clock is read), so the attempt is the timeout failure."""
    finished: list[bool] = []

    async def port(ctx: StepContext) -> dict[str, bool]:
        await asyncio.sleep(0)
        finished.append(True)
        return {"done": True}

    ctx = StepContext("r", "t", "t", None, None, {}, 1, "r/t", None, "slow", "running")
    result = call_port(port, ctx, "slow", 0)
    assert result.reason == "timeout: port 'slow' took longer than 0s"
    assert finished == []
    assert call_port(port, ctx, "slow", None).facts == {"done": True}


# -- engine.parallel ---------------------------------------------------------------------


def _runner(ctx: StepContext) -> dict[str, str]:
    """A port a non-thread executor can ship (module level, picklable)."""
    return {"ran": ctx.transition}


class _RefusingPool(cf.Executor):
    """An executor that refuses every job; with ``interrupt`` it first sends this process
    SIGINT (the drive's handler only sets its stop flag, in this thread, before submit
    returns)."""

    def __init__(self, interrupt: bool = False) -> None:
        self.interrupt = interrupt
        self.refused = 0

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> cf.Future[Any]:
        self.refused += 1
        if self.interrupt:
            os.kill(os.getpid(), signal.SIGINT)
        raise RuntimeError("pool closed")


def test_a_job_the_pool_refuses_fails_its_step_naming_the_port_and_the_pool(
        tmp_path: Path) -> None:
    """_Loop._start (mutmut_55): a submit that raises fails the step with a reason naming
    the port, the executor's class and the error."""
    path = tmp_path / "run.json"
    pe.save_run(pe.Run("p", (pe.Slice("s0"),), template="minimal"), path)
    pool = _RefusingPool()
    out = pe.drive(path, {"runner": _runner}, max_parallel=2, executor=pool)
    assert out.status == "halted" and pool.refused == 1
    assert [(f.transition, f.reason) for f in out.failures] == [
        ("execute:s0", "port 'runner' could not be submitted to _RefusingPool: pool closed")]


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(),
                    reason="signal handlers are installed only in the main thread")
def test_an_interrupt_with_nothing_in_flight_pauses_the_concurrent_drive(
        tmp_path: Path) -> None:
    """_Loop._end (mutmut_7): the stop flag set while nothing is in flight (here during a
    refused submit) ends the drive paused/interrupted, journaled as ``net_paused``."""
    path = tmp_path / "run.json"
    pe.save_run(pe.Run("p", (pe.Slice("s0"),), template="minimal"), path)
    out = pe.drive(path, {"runner": _runner}, max_parallel=2,
                   executor=_RefusingPool(interrupt=True))
    assert (out.status, out.reason) == ("paused", "interrupted")
    assert [f.transition for f in out.failures] == ["execute:s0"]
    events, _ = pe.read_journal(pe.journal_path(path))
    assert (events[-1].kind, events[-1].reason) == ("net_paused", "interrupted")


# -- ports.gitcmd ------------------------------------------------------------------------


def test_keyed_matches_a_trailer_value_only_when_it_is_exactly_the_key(
        tmp_path: Path) -> None:
    """Git.keyed (mutmut_27): trailer values are split on the format's separator only; a
    value with a space ("p/land (copied)") is not the key "p/land"."""
    repo = make_repo(tmp_path / "repo")
    g = Git(repo, dict(os.environ))
    git(repo, "commit", "-q", "--allow-empty", "-m", "copied",
        "--trailer", f"{KEY_TRAILER}: p/land (copied)")
    assert g.keyed(["HEAD"], "p/land") is None
    assert g.keyed(["HEAD"], "p/land (copied)") == git(repo, "rev-parse", "HEAD")
    git(repo, "commit", "-q", "--allow-empty", "-m", "landed",
        "--trailer", f"{KEY_TRAILER}: p/land")
    assert g.keyed(["HEAD"], "p/land") == git(repo, "rev-parse", "HEAD")


def test_a_git_command_given_no_input_reads_nothing_from_our_stdin(
        tmp_path: Path) -> None:
    """Git.run (mutmut_17): without ``input`` git's standard input is /dev/null, never the
    caller's (here a pipe holding text: hashing stdin must give the empty blob)."""
    repo = make_repo(tmp_path / "repo")
    g = Git(repo, dict(os.environ))
    r, w = os.pipe()
    os.write(w, b"typed at the terminal\n")
    os.close(w)
    saved = os.dup(0)
    os.dup2(r, 0)
    try:
        blob = g.out("hash-object", "--stdin")
    finally:
        os.dup2(saved, 0)
        os.close(saved)
        os.close(r)
    assert blob == "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"  # the empty blob
    assert g.out("hash-object", "--stdin", input=b"x\n") == (
        "587be6b4c3f93f93c489c0111bba5596147a26cb")  # the blob "x\n"


def test_a_failed_git_command_of_three_arguments_is_quoted_whole_without_an_ellipsis(
        tmp_path: Path) -> None:
    """Git.run (mutmut_49): '…' marks only a command cut after three arguments."""
    repo = make_repo(tmp_path / "repo")
    g = Git(repo, dict(os.environ))
    with pytest.raises(GitCommandError) as info:
        g.run("rev-parse", "--verify", "nope")
    assert str(info.value) == (f"git rev-parse --verify nope in {repo} exited with 128: "
                               "fatal: Needed a single revision")
    with pytest.raises(GitCommandError) as info:
        g.run("rev-parse", "--verify", "--quiet", "nope")
    assert str(info.value) == (f"git rev-parse --verify --quiet … in {repo} exited with 1: "
                               "no error output")


# -- ports.gitland -----------------------------------------------------------------------


def test_a_working_tree_snapshot_counts_every_carried_file_beyond_the_listed_ones(
        tmp_path: Path) -> None:
    """_snapshot_facts (mutmut_5): ``carried`` lists at most 200 files, ``carried_count``
    counts them all."""
    repo = make_repo(tmp_path / "repo")
    for i in range(205):
        (repo / f"wip{i:03}.txt").write_text(f"work {i}\n")
    run = write_git_run(repo / "run.json", [{"id": "s"}])
    ports = pe.GitPorts(agent="true", source_policy="working-tree")
    for step in ("worktree_create", "populate", "source_policy", "source_copy"):
        assert pe.fire(run, step, ports).status == "fired"
    facts = pe.load_run(run).facts
    assert facts["carried_count"] == 205
    assert facts["carried"] == [f"wip{i:03}.txt" for i in range(200)]


# -- ports.worktree ----------------------------------------------------------------------


def test_a_linked_worktree_takes_the_lock_in_the_repositorys_common_git_directory(
        tmp_path: Path) -> None:
    """_common_dir (mutmut_12): from a linked worktree the lock file is found through its
    ``commondir`` (a path relative to the worktree's admin directory) in the main
    repository's .git, where the main checkout's own lock lives."""
    repo = make_repo(tmp_path / "repo")
    linked = tmp_path / "linked"
    git(repo, "worktree", "add", "-q", "-b", "side", str(linked))
    lock = repo / ".git" / "petri-exec.worktrees.lock"
    assert not lock.exists()
    with repo_lock(Git(linked, dict(os.environ))):
        assert lock.is_file()
    assert sorted(p.name for p in (repo / ".git" / "worktrees" / "linked").iterdir()
                  if "petri" in p.name) == []
    assert set(worktrees(Git(linked, dict(os.environ)))) == {repo.resolve(),
                                                             linked.resolve()}
