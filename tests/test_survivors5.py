"""Deterministic tests for the mutants the fifth mutation sample left open (issue 19, seed
24; docs/testing.md#fifth-sample-seed-24---sample-30-after-teststest_survivors4py): each
test here fails on the survivor it names and passes on the real code. None depends on
timing to detect anything: where a test waits, the real code never makes it wait, and the
mutant makes it wait in vain."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

import petri_exec as pe
from petri_exec.engine.journalscan import scan_journal
from petri_exec.ports.shell import ShellPorts

from .gitutil import (
    AGENT,
    isolated_git,  # noqa: F401  (autouse fixture)
    write_git_run,
)

Make = Callable[..., Path]
WAIT_S = 20.0  # how long a port waits for what the real code does at once


# -- engine.api.drive: the drive's process groups are its own ------------------------------

def test_a_drive_ending_leaves_another_drives_commands_running(make_run: Make,
                                                              tmp_path: Path) -> None:
    # api.drive mutmut_73: the drive's owner is None, so its interrupt handling and the
    # clean-up at its end signal *every* process group of the process, another drive's too
    started = tmp_path / "b-started"
    release = tmp_path / "b-release"
    slow = make_run([{"id": "s", "depends_on": [], "meta": {
        "run": f'touch "{started}"; i=0; while [ ! -e "{release}" ] && [ $i -lt 400 ]; '
               "do sleep 0.05; i=$((i+1)); done; test -e \"" + str(release) + '"'}}],
        name="slow.json", run_id="slow", template="minimal")
    quick = make_run([{"id": "q", "depends_on": [], "meta": {"run": "true"}}],
                     name="quick.json", run_id="quick", template="minimal")
    outcome: list[pe.DriveOutcome] = []
    other = threading.Thread(target=lambda: outcome.append(pe.drive(slow, ShellPorts())))
    other.start()
    try:
        for _ in range(int(WAIT_S / 0.01)):
            if started.exists():
                break
            threading.Event().wait(0.01)
        assert started.exists(), "the other drive's command never started"
        # this drive ends (on the main thread, with its signal handlers) while the other
        # drive's command runs; ending must not touch that command's process group
        assert pe.drive(quick, ShellPorts()).status == "completed"
        release.touch()
    finally:
        release.touch()
        other.join(WAIT_S)
    assert outcome and outcome[0].status == "completed", outcome


# -- engine.journal.open_for_reading: the wording of a journal that is no file -------------

@pytest.mark.parametrize("kind", ["a FIFO", "a directory"])
def test_a_journal_that_is_not_a_file_is_refused_naming_what_it_is(tmp_path: Path,
                                                                   kind: str) -> None:
    # journal.open_for_reading mutmut_15: the EINVAL wording ("the journal is a FIFO, ...")
    # replaced by the general one ("the journal is cannot read it: a FIFO, ...")
    path = tmp_path / "run.events.jsonl"
    if kind == "a FIFO":
        os.mkfifo(path)
    else:
        path.mkdir()
    with pytest.raises(pe.JournalError) as e:
        pe.read_journal(path)
    assert str(e.value) == (f"{path}: the journal is {kind}, not a regular file; move it "
                            "aside (it must be a regular file)")


# -- engine.journalscan._first_line: a journal whose first line is blank -------------------

def test_a_journal_whose_first_line_is_blank_is_refused_naming_line_1(make_run: Make) -> None:
    # journalscan._first_line mutmut_23: `i >= 0` -> `i >= 1`, so a blank first line is not
    # seen and the header is read from what follows it (or not at all)
    run = make_run([{"id": "a", "depends_on": []}, {"id": "b", "depends_on": ["a"]}],
                   run_id="blank", template="minimal")
    assert pe.drive(run, {"runner": lambda ctx: None}, max_firings=2).status == "paused"
    journal = pe.journal_path(run)
    journal.write_bytes(b"\n" + journal.read_bytes())
    digest = hashlib.sha256(run.read_bytes()).hexdigest()
    with pytest.raises(pe.JournalError, match=r"run\.events\.jsonl: line 1: "):
        scan_journal(journal, digest)
    before = (run.read_bytes(), journal.read_bytes())
    with pytest.raises(pe.JournalError, match=r"run\.events\.jsonl: line 1: "):
        pe.drive(run, {"runner": lambda ctx: None})
    assert (run.read_bytes(), journal.read_bytes()) == before  # nothing modified


# -- engine.operate._rewound_status: retry of a run step after the frontier ----------------

def test_retry_of_a_run_step_rewinds_the_run_lane_to_that_steps_source(tmp_path: Path) -> None:
    # operate._rewound_status mutmut_4: the run step is not looked up, so a run step after
    # the frontier is "nothing to retry" (or would rewind to the frontier)
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"version": 1, "run_id": "op",
                                "slices": [{"id": "a", "depends_on": []}]}))
    calls: list[str] = []

    def port(ctx: pe.StepContext) -> dict[str, str]:
        calls.append(ctx.transition)
        return {"verdict": "passed"} if ctx.port == "test_runner" else {}

    ports = dict.fromkeys(("workspace", "agent_runner", "test_runner", "land"), port)
    assert pe.drive(path, ports).status == "completed"
    doc = json.loads(path.read_text())
    assert doc["status"] == "promotion_prepared" and "pnml" in doc["facts"]
    run = pe.retry(path, "petri_export")
    assert run.status == "run_completed"          # petri_export's own source status
    assert "pnml" not in run.facts               # what petri_export recorded is dropped
    assert [s.status for s in run.slices] == ["completed"]  # the slices are untouched
    calls.clear()
    assert pe.drive(path, ports).status == "completed"
    assert calls == ["promotion"]                  # petri_export (no port), then promotion
    assert json.loads(path.read_text())["status"] == "promotion_prepared"


# -- engine.parallel._Loop._start: a step with no free slot does not hold back others -----

ARCHIVING = """
name = "archiving"
[run]
initial = "created"
frontier = "running"
end = "finished"
[[run.steps]]
name = "start"
from = "created"
to = "running"
[[run.steps]]
name = "finish"
from = "running"
to = "finished"
[slice]
initial = "pending"
done = "done"
[[slice.steps]]
name = "execute"
from = "pending"
to = "done"
port = "runner"
[[slice.steps]]
name = "archive"
from = "done"
to = "archived"
port = "archiver"
"""


def test_a_step_overlapping_one_in_flight_does_not_hold_back_an_independent_one(
        tmp_path: Path) -> None:
    # parallel._Loop._start mutmut_13: `continue` -> `break` when a step's places are held
    # by a step in flight: the independent steps behind it wait for that step to end.
    # archive:a consumes a's done place, which execute:b reads: one of them starts, the
    # other is held back; execute:c shares nothing and must start alongside.
    (tmp_path / "archiving.toml").write_text(ARCHIVING)
    run = pe.Run(run_id="slots", template="archiving", status="running", slices=(
        pe.Slice("a", status="done"), pe.Slice("b", depends_on=("a",)), pe.Slice("c")))
    c_started = threading.Event()
    waited: dict[str, bool] = {}

    def port(ctx: pe.StepContext) -> None:
        if ctx.transition == "execute:c":
            c_started.set()
        elif ctx.transition in ("archive:a", "execute:b") and not waited:
            waited[ctx.transition] = c_started.wait(WAIT_S)  # the first of the two

    out = pe.drive(run, {"runner": port, "archiver": port}, max_parallel=3,
                   template_dirs=[tmp_path])
    # archiving takes the slices' done tokens away again, so the run cannot finish: the
    # drive ends deadlocked (as with tests/nets/archive.toml): archive:a, execute:c and
    # archive:c fire; execute:b, held back while archive:a ran, is never enabled again
    assert (out.status, out.fired) == ("deadlocked", 3), out
    assert waited == {"archive:a": True}, waited


# -- ports.gitclean.clean_run: the whole refusal --------------------------------------------

def test_clean_branches_of_an_unfinished_run_is_refused_in_full(tmp_path: Path) -> None:
    # gitclean.clean_run mutmut_17: part of the refusal's wording changed
    path = write_git_run(tmp_path / "run.json", [{"id": "a", "depends_on": []}])
    run = pe.load_run(path)
    with pytest.raises(pe.GitRepoError) as e:
        pe.GitPorts(agent=AGENT).clean(path, run, branches=True)
    assert str(e.value) == (
        f"{path}: run 'feature' is at 'created', not finished ('promoted') nor abandoned, "
        "and its branches hold its work; land it (fire host_promotion) or abandon it first, "
        "or clean without --branches")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.json"]  # nothing touched
