"""Kill-and-resume torture over a git run: SIGKILL the driver at random moments (mostly
with its whole process group: git commands and agents die with it; sometimes the driver
alone: its agent lives on as an orphan), resume, and check that the run branch ends with
exactly one commit per slice and the same tree as an uninterrupted run."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import petri_exec as pe

from .gitutil import (
    AGENT,
    first_parents,
    git,
    isolated_git,  # noqa: F401  (autouse fixture)
    make_repo,
    task,
    trailer,
    write_git_run,
)

DRIVER = Path(__file__).with_name("git_torture_driver.py")
MIN_KILLS = 20
SLICES = [
    {"id": "s0", "meta": task("- write core.txt: core\\n", verify="test -f core.txt")},
    {"id": "s1", "depends_on": ["s0"],
     "meta": task("- write one.txt: 1\\n", "- append core.txt: one\\n",
                  verify="grep -q one core.txt")},
    {"id": "s2", "depends_on": ["s0"], "meta": task("- write two.txt: 2\\n")},
    {"id": "s3", "depends_on": ["s1"],
     "meta": task("- append core.txt: three\\n", "- write three.txt: 3\\n",
                  verify="grep -q three core.txt")},
    {"id": "s4", "depends_on": ["s2", "s3"],
     "meta": task("- write four.txt: 4\\n", verify="test -f two.txt && test -f three.txt")},
    {"id": "s5.x", "meta": task("- write five/nested.txt: 5\\n")},
]


def _setup(where: Path) -> Path:
    repo = make_repo(where, {"README.md": "# torture\n"})
    return write_git_run(repo / "run.json", SLICES, run_id="torture")


def _fired(run: Path) -> int:
    try:
        return pe.journal_path(run).read_bytes().count(b'"transition_fired"')
    except FileNotFoundError:
        return 0


def _resumed(run: Path) -> tuple[int, int]:
    """Git steps attempted again after a kill, and agent commits found by their trailer."""
    events = pe.read_journal(pe.journal_path(run))[0]
    again = sum(1 for e in events if e.kind == "transition_started" and (e.attempt or 1) > 1
                and (e.transition or "").split(":")[0] in (
                    "worktree_create", "agent_result", "test_result", "slice_complete"))
    found = sum(1 for s in pe.load_run(run).slices if s.facts.get("recovered"))
    return again, found


def _check(run: Path, expected_tree: str) -> None:
    repo = run.parent
    r = pe.load_run(run)
    assert r.status == "promotion_prepared"
    commits = first_parents(repo, "petri/torture", r.facts["base_commit"])
    slices = [trailer(repo, c, "Petri-Slice") for c in commits]
    assert sorted(slices) == sorted(s["id"] for s in SLICES), slices  # one commit each
    assert git(repo, "rev-parse", "petri/torture^{tree}") == expected_tree
    for s in SLICES:  # one agent commit per slice, reachable anywhere
        keys = git(repo, "log", "--all", "--format=%(trailers:key=Petri-Idempotency-Key,"
                   "valueonly)", "--grep", f"^Petri-Slice: {s['id']}$").split()
        assert sorted(keys) == [f"torture/agent_result:{s['id']}",
                                f"torture/slice_complete:{s['id']}"], keys
    assert git(repo, "worktree", "list", "--porcelain").count("worktree ") == 2
    git(repo, "fsck", "--no-dangling", "--no-progress")
    assert git(repo, "status", "--porcelain", "--untracked-files=no") == ""


@pytest.mark.slow
def test_kill_and_resume_a_git_run(tmp_path: Path) -> None:
    ref = _setup(tmp_path / "reference")
    assert pe.drive(ref, pe.GitPorts(agent=AGENT), max_parallel=2).status == "completed"
    expected = git(ref.parent, "rev-parse", "petri/torture^{tree}")
    rnd = random.Random(20261126)
    kills = runs = alone = again = found = 0
    started = time.monotonic()
    while kills < MIN_KILLS:
        run = _setup(tmp_path / f"run{runs}")
        window, progress = 0.5, -1
        while True:
            proc = subprocess.Popen([sys.executable, str(DRIVER), str(run), AGENT],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                    start_new_session=True)
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "ready"
            time.sleep(rnd.uniform(0.0, window))
            if proc.poll() is None:
                if rnd.random() < 0.25:
                    proc.send_signal(signal.SIGKILL)  # the driver alone
                    alone += 1
                else:
                    os.killpg(proc.pid, signal.SIGKILL)  # with its git commands and agents
                proc.wait()
                kills += 1
                fired = _fired(run)
                window = 0.5 if fired > progress else min(window * 2, 8.0)
                progress = max(progress, fired)
                continue
            rest = proc.stdout.read()
            err = proc.stderr.read() if proc.stderr is not None else ""
            proc.wait()
            assert proc.returncode == 0, (rest, err)
            break
        _check(run, expected)
        a, f = _resumed(run)
        again, found, runs = again + a, found + f, runs + 1
    assert again > 0  # the kills did interrupt git steps, which were attempted again
    print(f"{kills} kills ({alone} of the driver alone) over {runs} git runs in "
          f"{time.monotonic() - started:.1f}s; {again} git steps attempted again, {found} "
          "agent commits found by their trailer; each run ended with one commit per slice "
          "and the reference tree")
