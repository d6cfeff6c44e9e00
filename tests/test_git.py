"""GitPorts end to end on real repositories (petri_exec/ports/git.py): no git mocks."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

import petri_exec as pe

from .gitutil import (
    AGENT,
    first_parents,
    git,
    host_files,
    isolated_git,  # noqa: F401  (autouse fixture)
    make_repo,
    task,
    trailer,
    write_git_run,
)

DIAMOND = [
    {"id": "a", "title": "Base module", "depends_on": [],
     "meta": task("- write a.txt: from a\\n", verify="test -f a.txt")},
    {"id": "b", "depends_on": ["a"],
     "meta": task("- write b.txt: from b\\n", "- append a.txt: b saw a\\n",
                  verify="grep -q 'from a' a.txt")},
    {"id": "c", "depends_on": ["a"],
     "meta": task("- write c.txt: from c\\n", verify="test -f a.txt")},
    {"id": "d", "depends_on": ["b", "c"],
     "meta": task("- write d.txt: from d\\n",
                  verify="test -f b.txt && test -f c.txt && grep -q 'b saw a' a.txt")},
]


def _events(path: Path) -> list[pe.Event]:
    return pe.read_journal(pe.journal_path(path))[0]


def test_diamond_at_max_parallel_2_lands_each_slice_once(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    base0 = git(repo, "rev-parse", "main")
    run = write_git_run(repo / "run.json", DIAMOND)
    index0 = (repo / ".git" / "index").read_bytes()
    files0 = host_files(repo, skip=("run.",))
    ports = pe.GitPorts(agent=AGENT)
    out = pe.drive(run, ports, max_parallel=2)
    assert out.status == "completed", out
    # the host checkout, its index and the base branch are untouched by the drive
    assert host_files(repo, skip=("run.",)) == files0
    assert (repo / ".git" / "index").read_bytes() == index0
    assert git(repo, "rev-parse", "main") == base0
    assert git(repo, "status", "--porcelain", "--untracked-files=no") == ""
    # each slice's work is on the run branch exactly once, after its dependencies
    commits = first_parents(repo, "petri/feature", base0)
    order = [trailer(repo, c, "Petri-Slice") for c in commits]
    assert sorted(order) == ["a", "b", "c", "d"]
    assert order[0] == "a" and order[-1] == "d"
    for sid in "abcd":  # the agent's commit on the slice branch, its merge on the run branch
        keys = git(repo, "log", "--all", "--format=%(trailers:key=Petri-Idempotency-Key,"
                   "valueonly)", "--grep", f"^Petri-Slice: {sid}$").split()
        assert sorted(keys) == [f"feature/agent_result:{sid}", f"feature/slice_complete:{sid}"]
    # d branched after b and c were merged: its slice commit's parent holds their work
    d = out.run.slice("d").facts
    assert git(repo, "show", f"{d['commit']}^:b.txt") == "from b"
    assert d["files_changed"] == ["d.txt"] and d["verdict"] == "passed"
    assert d["merged"] is True
    assert git(repo, "show", "petri/feature:a.txt") == "from a\nb saw a"
    # slice worktrees are removed after their merge; the run worktree follows the branch
    assert not (repo / "run.work" / "git" / "slices" / "a").exists()
    assert (repo / "run.work" / "git" / "run" / "d.txt").read_text() == "from d\n"
    assert out.run.facts["land_commit"] == git(repo, "rev-parse", "petri/feature")
    assert out.run.facts["diffstat"] == {"files": 4, "insertions": 5, "deletions": 0}
    # host_promotion fast-forwards the base, and the checkout follows
    fired = pe.fire(run, "host_promotion", ports)
    assert fired.status == "fired", fired
    assert git(repo, "rev-parse", "main") == git(repo, "rev-parse", "petri/feature")
    assert (repo / "d.txt").read_text() == "from d\n"
    assert git(repo, "status", "--porcelain", "--untracked-files=no") == ""
    assert fired.run.facts["previous_base_commit"] == base0


def test_agent_failure_halts_with_nothing_committed(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    run = write_git_run(repo / "run.json", [
        {"id": "ok", "meta": task("- write ok.txt: fine\\n")},
        {"id": "bad", "depends_on": ["ok"],
         "meta": task("- write half.txt: partial\\n", "- fail: cannot do it")}])
    out = pe.drive(run, pe.GitPorts(agent=AGENT))
    assert (out.status, out.step) == ("halted", "agent_result:bad")
    assert out.reason == (f"agent command {AGENT!r} exited with 1; nothing committed "
                          "(log: run.work/logs/bad.agent.1.log)")
    tip = git(repo, "rev-parse", "petri/feature")
    assert trailer(repo, tip, "Petri-Slice") == "ok"  # the run branch has only ok's work
    slice_tip = git(repo, "rev-parse", "petri/feature.slices/bad")
    assert slice_tip == tip  # no commit on the slice branch
    assert "failing as told" in (repo / "run.work/logs/bad.agent.1.log").read_text()
    assert pe.load_run(run).slice("bad").status == "execution_requested"
    # a second attempt starts from a clean worktree and still commits nothing
    again = pe.drive(run, pe.GitPorts(agent=AGENT))
    assert again.reason is not None and "bad.agent.2.log" in again.reason
    assert git(repo, "rev-parse", "petri/feature.slices/bad") == tip


def test_missing_agent_binary_names_the_command(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    run = write_git_run(repo / "run.json", [{"id": "x"}])
    out = pe.drive(run, pe.GitPorts(agent="no-such-agent-binary --flag"))
    assert out.step == "agent_result:x"
    assert out.reason is not None and out.reason.startswith(
        "agent command 'no-such-agent-binary --flag' exited with 127 (command not found)")


def test_failing_tests_halt_at_verification_naming_the_slice(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    run = write_git_run(repo / "run.json", [
        {"id": "good", "meta": task("- write g.txt: g\\n", verify="test -f g.txt")},
        {"id": "broken", "meta": task("- write b.txt: b\\n",
                                      verify="echo 'expected 3, got -1'; exit 1")}])
    ports = pe.GitPorts(agent=AGENT, test="true")
    out = pe.drive(run, ports)
    assert (out.status, out.step, out.reason) == ("halted", "run_complete",
                                                  "verification_failed")
    assert out.detail == "the tests of slice broken failed (facts.verdict)"
    facts = out.run.slice("broken").facts
    assert (facts["verdict"], facts["test_exit_code"]) == ("failed", 1)
    assert facts["test_tail"] == "expected 3, got -1"
    assert facts["merged"] is False  # a failing slice never reaches the run branch
    assert out.run.slice("good").facts["test_command"] == "test -f g.txt"  # meta.verify wins
    slices = [trailer(repo, c, "Petri-Slice") for c in first_parents(
        repo, "petri/feature", out.run.facts["base_commit"])]
    assert slices == ["good"]
    wt = repo / "run.work" / "git" / "slices" / "broken"
    assert (wt / "b.txt").exists()  # kept for inspection
    # the retry hook: the slice starts again on a fresh branch from the run branch
    done = ports.reset_slices(run, pe.load_run(run), ["broken"])
    assert done.branches == ("petri/feature.slices/broken",)
    assert not wt.exists()
    assert git(repo, "branch", "--list", "petri/feature.slices/*").split() == [
        "petri/feature.slices/good"]


def test_reset_slices_refuses_unknown_slices(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    run = write_git_run(repo / "run.json", [{"id": "x"}])
    with pytest.raises(pe.GitRepoError, match="has no slice 'nope'"):
        pe.GitPorts(agent=AGENT).reset_slices(run, pe.load_run(run), ["nope"])


def test_conflicting_slices_halt_at_slice_complete_naming_the_file(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"shared.txt": "line one\n"})
    run = write_git_run(repo / "run.json", [
        {"id": "left", "meta": task("- write shared.txt: left version\\n")},
        {"id": "right", "meta": task("- write shared.txt: right version\\n")}])
    out = pe.drive(run, pe.GitPorts(agent=AGENT), max_parallel=2)
    assert out.status == "halted"
    assert out.step in ("slice_complete:left", "slice_complete:right")
    loser = out.step.split(":")[1]
    winner = {"left", "right"} - {loser}
    assert out.reason == (f"merging petri/feature.slices/{loser} into petri/feature conflicts "
                          "in shared.txt; the run branch is unchanged (fix the slice and "
                          "retry it)")
    tip = git(repo, "rev-parse", "petri/feature")
    assert [trailer(repo, tip, "Petri-Slice")] == list(winner)
    assert git(repo, "show", "petri/feature:shared.txt") == f"{winner.pop()} version"
    # attempting again changes nothing on the run branch
    assert pe.drive(run, pe.GitPorts(agent=AGENT)).step == out.step
    assert git(repo, "rev-parse", "petri/feature") == tip


@pytest.mark.parametrize("policy", ["head", "working-tree"])
def test_source_policy(tmp_path: Path, policy: str) -> None:
    repo = make_repo(tmp_path / "repo", {"tracked.txt": "committed\n",
                                         ".gitignore": "*.log\nbuild/\n"})
    (repo / "tracked.txt").write_text("uncommitted edit\n")
    (repo / "new.txt").write_text("untracked file\n")
    (repo / "debug.log").write_text("ignored\n")
    run = write_git_run(repo / "run.json", [
        {"id": "s", "meta": task("- append notes.txt: seen\\n")}])
    files0 = host_files(repo)
    index0 = (repo / ".git" / "index").read_bytes()
    out = pe.drive(run, pe.GitPorts(agent=AGENT, source_policy=policy))
    assert out.status == "completed", out
    facts = out.run.facts
    assert facts["source_policy"] == policy
    tree = set(git(repo, "ls-tree", "--name-only", "petri/feature").split())
    if policy == "head":
        assert facts["snapshot_commit"] is None
        assert tree == {".gitignore", "tracked.txt", "notes.txt"}
        assert git(repo, "show", "petri/feature:tracked.txt") == "committed"
    else:
        assert sorted(facts["carried"]) == ["new.txt", "tracked.txt"]
        assert tree == {".gitignore", "tracked.txt", "new.txt", "notes.txt"}
        assert git(repo, "show", "petri/feature:tracked.txt") == "uncommitted edit"
        snap = facts["snapshot_commit"]
        assert trailer(repo, snap, "Petri-Idempotency-Key") == "feature/source_copy"
    # never the run's own files, never ignored files; the host is untouched
    assert not tree & {"run.json", "run.events.jsonl", "run.lock", "debug.log"}
    assert host_files(repo) == {**files0, **{k: v for k, v in host_files(repo).items()
                                             if k.startswith("run.")}}
    assert (repo / ".git" / "index").read_bytes() == index0


def test_working_tree_snapshot_is_found_again(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    (repo / "wip.txt").write_text("work in progress\n")
    run = write_git_run(repo / "run.json", [{"id": "s"}])
    ports = pe.GitPorts(agent="true", source_policy="working-tree")
    for step in ("worktree_create", "populate", "source_policy", "source_copy"):
        assert pe.fire(run, step, ports).status == "fired"
    tip = git(repo, "rev-parse", "petri/feature")
    ctx = pe.StepContext("feature", "source_copy", "source_copy", None, None,
                         pe.load_run(run).facts, 2, "feature/source_copy", repo, "workspace",
                         "source_policy_selected", run)
    again = ports.workspace(ctx)
    assert again.facts["snapshot_commit"] == tip  # found by its trailer, not committed twice
    assert git(repo, "rev-parse", "petri/feature") == tip


def test_paths_with_spaces_and_a_slice_id_with_dots(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "my projects" / "the repo")
    agent_dir = tmp_path / "agent dir"
    agent_dir.mkdir()
    script = agent_dir / "my agent.py"
    script.write_text(Path(AGENT.split('"')[3]).read_text())
    run = write_git_run(repo / "runs dir" / "my run.json", [
        {"id": "v1.2", "meta": task("- write file with spaces.txt: dotted\\n")},
        {"id": "v1.2.1", "depends_on": ["v1.2"],
         "meta": task("- append file with spaces.txt: again\\n",
                      verify="test -f 'file with spaces.txt'")}], run_id="rel.1")
    ports = pe.GitPorts(agent=f'python3 "{script}"', test="true")
    out = pe.drive(run, ports)
    assert out.status == "completed", out
    assert git(repo, "show", "petri/rel.1:file with spaces.txt") == "dotted\nagain"
    assert git(repo, "rev-parse", "--verify", "-q", "petri/rel.1.slices/v1.2") != ""
    assert (repo / "runs dir" / "my run.work" / "logs" / "v1.2.1.agent.1.log").is_file()
    assert pe.fire(run, "host_promotion", ports).status == "fired"
    assert (repo / "file with spaces.txt").read_text() == "dotted\nagain\n"


def test_prompt_and_environment(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    agent = ('cp "$PETRI_PROMPT_FILE" prompt.md && '
             'env | grep ^PETRI_ | sort > env.txt')
    run = write_git_run(repo / "run.json", [
        {"id": "first", "title": "First things", "meta": {"prompt": "Lay the ground."}},
        {"id": "second", "depends_on": ["first"], "meta": {"prompt": "Build on it."}}])
    out = pe.drive(run, pe.GitPorts(agent=agent))
    assert out.status == "completed", out
    prompt = git(repo, "show", "petri/feature:prompt.md")
    first = out.run.slice("first").facts
    assert prompt.startswith("# second\n\nSlice `second` of run `feature`.")
    assert "## Task\n\nBuild on it.\n\n## Done before you" in prompt
    assert f"### first\n- agent_exit_code: 0\n- agent_log: run.work/logs/first.agent.1.log\n" \
           f"- commit: {first['commit']}\n" in prompt
    env = dict(line.split("=", 1) for line in git(
        repo, "show", "petri/feature:env.txt").splitlines())
    wt = repo / "run.work" / "git" / "slices" / "second"
    assert env == {
        "PETRI_ATTEMPT": "1", "PETRI_BASE": "main", "PETRI_BRANCH": "petri/feature.slices/second",
        "PETRI_IDEMPOTENCY_KEY": "feature/agent_result:second",
        "PETRI_LOG": str(repo / "run.work" / "logs" / "second.agent.1.log"),
        "PETRI_PROMPT_FILE": str(repo / "run.work" / "prompts" / "second.md"),
        "PETRI_REPO": str(repo), "PETRI_RUN_BRANCH": "petri/feature",
        "PETRI_RUN_FILE": str(repo / "run.json"),
        "PETRI_RUN_DIR": str(repo), "PETRI_RUN_ID": "feature",
        "PETRI_RUN_WORKTREE": str(repo / "run.work" / "git" / "run"),
        "PETRI_SLICE_ID": "second", "PETRI_SLICE_TITLE": "",
        "PETRI_TRANSITION": "agent_result:second", "PETRI_WORK_DIR": str(repo / "run.work"),
        "PETRI_WORKTREE": str(wt)}


def test_agent_result_and_merge_are_idempotent(tmp_path: Path) -> None:
    """A second call with the same key (a resumed attempt) finds the first one's commit."""
    repo = make_repo(tmp_path / "repo")
    run = write_git_run(repo / "run.json", [{"id": "s", "meta": task("- write s.txt: s\\n")}])
    ports = pe.GitPorts(agent=AGENT)
    assert pe.drive(run, ports, max_firings=8).status == "paused"  # through agent_result:s
    r = pe.load_run(run)
    first = r.slice("s").facts["commit"]
    ctx = pe.StepContext("feature", "agent_result:s", "agent_result", "s",
                         r.slice("s"), r.facts, 2, "feature/agent_result:s", repo,
                         "agent_runner", r.status, run)
    again = ports.agent_runner(ctx)
    assert again.facts["commit"] == first and again.facts["recovered"] is True
    assert again.facts["agent_log"] == "run.work/logs/s.agent.1.log"
    assert again.facts["files_changed"] == ["s.txt"]
    assert git(repo, "rev-list", "--count", "petri/feature..petri/feature.slices/s") == "1"
    assert pe.drive(run, ports).status == "completed"
    tip = git(repo, "rev-parse", "petri/feature")
    r = pe.load_run(run)
    merge_ctx = pe.StepContext("feature", "slice_complete:s", "slice_complete", "s",
                               r.slice("s"), r.facts, 2, "feature/slice_complete:s", repo,
                               "integrate", r.status, run)
    assert ports.integrate(merge_ctx).facts["merge_commit"] == tip
    assert git(repo, "rev-parse", "petri/feature") == tip  # not merged twice


def test_wide_run_merges_one_at_a_time(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    slices = [{"id": f"s{i}", "meta": task(f"- write f{i}.txt: {i}\\n")} for i in range(8)]
    run = write_git_run(repo / "run.json", slices)
    out = pe.drive(run, pe.GitPorts(agent=AGENT), max_parallel=4)
    assert out.status == "completed", out
    commits = first_parents(repo, "petri/feature", out.run.facts["base_commit"])
    assert len(commits) == 8
    assert sorted(git(repo, "ls-tree", "--name-only", "petri/feature").split()) == sorted(
        ["README.md", *(f"f{i}.txt" for i in range(8))])
    assert git(repo, "worktree", "list", "--porcelain").count("worktree ") == 2


def test_process_pool_executor(tmp_path: Path) -> None:
    import concurrent.futures as cf

    repo = make_repo(tmp_path / "repo")
    run = write_git_run(repo / "run.json", [
        {"id": f"s{i}", "meta": task(f"- write f{i}.txt: {i}\\n")} for i in range(3)])
    with cf.ProcessPoolExecutor(2) as pool:
        out = pe.drive(run, pe.GitPorts(agent=AGENT), max_parallel=2, executor=pool)
    assert out.status == "completed", out
    assert len(first_parents(repo, "petri/feature", out.run.facts["base_commit"])) == 3


def test_merge_lock_serializes_threads(tmp_path: Path) -> None:
    from petri_exec.ports.worktree import Layout, merge_lock

    lay = Layout(tmp_path / "run.json", "r")
    inside: list[int] = []
    overlap: list[bool] = []

    def hold() -> None:
        with merge_lock(lay):
            inside.append(1)
            overlap.append(len(inside) > 1)
            threading.Event().wait(0.02)
            inside.pop()

    threads = [threading.Thread(target=hold) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert overlap == [False] * 6


def test_docs_git_python_example_prints_what_the_doc_says(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import contextlib
    import io
    import re
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # its scratch repository

    doc = (Path(__file__).resolve().parents[1] / "docs" / "git.md").read_text()
    found = re.search(r"```python\n(.*?)```\n\n```text\n(.*?)```", doc, re.S)
    assert found is not None
    code, expected = found.groups()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "docs/git.md", "exec"), {"__name__": "docs_git"})
    assert out.getvalue() == expected


def test_scripted_agent_obeys_its_task_and_refuses_escapes(tmp_path: Path) -> None:
    import subprocess
    import sys

    from .gitutil import AGENT_SCRIPT

    def agent(prompt: str) -> subprocess.CompletedProcess[str]:
        (tmp_path / "prompt.md").write_text(prompt)
        return subprocess.run([sys.executable, str(AGENT_SCRIPT), str(tmp_path / "prompt.md")],
                              cwd=tmp_path / "wt", capture_output=True, text=True, check=False)

    (tmp_path / "wt").mkdir()
    r = agent("# t\n\n## Task\n\n- write a/b.txt: one\\ntwo\\n\n- replace a/b.txt: two => 2\n"
              "- append a/b.txt: three\n\n## Done before you\n\n- write ignored.txt: no\n")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "wt" / "a" / "b.txt").read_text() == "one\n2\nthree"
    assert not (tmp_path / "wt" / "ignored.txt").exists()
    assert agent("## Task\n- write ../escape.txt: x\n").returncode == 2
    assert agent("## Task\n- replace a/b.txt: missing => x\n").returncode == 2
    r = agent("## Task\n- fail: on purpose\n")
    assert r.returncode == 1 and "on purpose" in r.stdout
    assert not (tmp_path / "escape.txt").exists()


def test_failing_tests_then_fix_and_retry_run_on_a_fresh_slice_branch(tmp_path: Path) -> None:
    """The issue's scenario: the tests fail, the run halts at verification naming the
    slice; the code is fixed (here: the agent), the slice is retried (pe.retry, which calls
    the ports' reset_slices); its agent and tests run again on a fresh branch from the run
    branch and the run completes, with one commit per slice."""
    repo = make_repo(tmp_path / "repo")
    run = write_git_run(repo / "run.json", [
        {"id": "calc", "meta": {"prompt": "add", "verify": "test \"$(cat sum.txt)\" = 3"}},
        {"id": "docs", "depends_on": ["calc"], "meta": {"prompt": "document"}}])
    broken = pe.GitPorts(agent='[ "$PETRI_SLICE_ID" = calc ] && echo 2 > sum.txt || '
                               'echo "see sum.txt" > README.md', test="true")
    out = pe.drive(run, broken)
    assert (out.step, out.reason, out.detail) == (
        "run_complete", "verification_failed", "the tests of slice calc failed (facts.verdict)")
    docs = out.run.slice("docs").facts  # built on a run branch without calc: skipped
    assert (docs["verdict"], docs["merged"]) == ("skipped", False)
    assert docs["skipped"].startswith("dependency calc was not merged")
    assert first_parents(repo, "petri/feature", out.run.facts["base_commit"]) == []
    old_commit = out.run.slice("calc").facts["commit"]
    fixed = pe.GitPorts(agent='[ "$PETRI_SLICE_ID" = calc ] && echo 3 > sum.txt || '
                              'echo "see sum.txt" > README.md', test="true")
    again = pe.retry(run, "run_complete", ports=fixed)  # resets calc and docs downstream
    assert [s.status for s in again.slices] == ["pending", "pending"]
    assert git(repo, "branch", "--list", "petri/feature.slices/*") == ""
    out = pe.drive(run, fixed)
    assert out.status == "completed", out
    calc = out.run.slice("calc").facts
    assert calc["verdict"] == "passed" and calc["commit"] != old_commit
    assert calc["agent_log"] == "run.work/logs/calc.agent.2.log"  # the agent ran again
    commits = first_parents(repo, "petri/feature", out.run.facts["base_commit"])
    assert [trailer(repo, c, "Petri-Slice") for c in commits] == ["calc", "docs"]
    assert git(repo, "show", "petri/feature:sum.txt") == "3"
    # docs' agent ran once, after the retry (its first attempt was skipped: no log)
    assert out.run.slice("docs").facts["agent_log"] == "run.work/logs/docs.agent.2.log"
    assert not (repo / "run.work" / "logs" / "docs.agent.1.log").exists()
