"""A git run's own cost per slice: the git ports against a hand-written shell loop.

Method: a repository of 20 small files in one commit (a bigger checkout costs both sides
the same and only hides the difference). Ours: ``pe.drive`` of an ``executor`` run of N
independent slices with ``pe.GitPorts(agent="true")`` (a no-op agent, no test command),
sequentially: per slice a worktree and branch from the run branch, the agent command,
``git add`` + ``write-tree`` + ``commit-tree`` + ``update-ref``, the changed files, then
(under the merge lock) the idempotency look-up, ``merge-tree``, ``commit-tree``,
``update-ref``, the run worktree's reset and the slice worktree's removal; plus the
engine: five firings per slice, each journaled (fsync or flush), the contexts, the
checkpoints, and the run's own steps (worktree, landing check, PNML export). The shell
loop: bash doing the same git commands per slice (worktree add, the agent, add,
write-tree, commit-tree, update-ref, diff-tree, merge-tree, commit-tree, update-ref,
reset, worktree remove), without journal, idempotency look-ups or bookkeeping.

Both run on fresh copies of the repository in rounds (ours, shell; ours, shell; …) so the
machine's drift hits both alike; each ratio is the median over the rounds of the ratio of
two back-to-back samples. Target (contract section 7): within 1.5x.

Run: ``python benchmarks/bench_git.py [--slices N] [--rounds R] [--quick] [--profile]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import petri_exec as pe

IDENTITY = {"GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@localhost",
            "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@localhost"}

SHELL_LOOP = r"""
set -eu
cd "$1"; n="$2"
git update-ref refs/heads/petri/run "$(git rev-parse main)"
git worktree add -q run.work/run petri/run
for i in $(seq 1 "$n"); do
  tip=$(git rev-parse refs/heads/petri/run)
  wt="run.work/slices/s$i"
  git worktree add -q -b "petri/run.slices/s$i" "$wt" "$tip"
  (cd "$wt" && sh -c true)
  git -C "$wt" add --all
  tree=$(git -C "$wt" write-tree)
  commit=$(printf 'slice s%s\n' "$i" | git commit-tree --no-gpg-sign "$tree" -p "$tip" -F -)
  git update-ref "refs/heads/petri/run.slices/s$i" "$commit"
  git diff-tree -r -z --name-only --no-commit-id "$tip" "$commit" > /dev/null
  merged=$(git merge-tree --write-tree "$tip" "$commit")
  run=$(printf 'merge s%s\n' "$i" | git commit-tree --no-gpg-sign "$merged" -p "$tip" -F -)
  git update-ref refs/heads/petri/run "$run" "$tip"
  git -C run.work/run reset -q --hard
  git worktree remove --force --force "$wt"
done
"""


def make_repo(where: Path, files: int = 20) -> Path:
    """A repository with ``files`` small files in one commit on ``main``."""
    repo = where / "repo"
    repo.mkdir(parents=True)
    env = {**os.environ, **IDENTITY}
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True, env=env)
    for i in range(files):
        d = repo / f"pkg{i % 10}"
        d.mkdir(exist_ok=True)
        (d / f"mod{i}.py").write_text(f"VALUE = {i}\n" * 20)
    subprocess.run(["git", "-C", str(repo), "add", "--all"], check=True, env=env)
    subprocess.run(["git", "-C", str(repo), "commit", "-q", "-m", "init"], check=True, env=env)
    return repo


def ours(template: Path, n: int, durability: str) -> float:
    """Seconds for a git run of ``n`` slices through the engine."""
    with tempfile.TemporaryDirectory() as d:
        repo = Path(d) / "repo"
        shutil.copytree(template, repo, symlinks=True)
        run = repo / "run.json"
        pe.save_run(pe.Run("run", tuple(pe.Slice(f"s{i}") for i in range(n))), run)
        t0 = time.perf_counter()
        out = pe.drive(run, pe.GitPorts(agent="true"), durability=durability)
        elapsed = time.perf_counter() - t0
        assert out.status == "halted" and out.reason == "promotion_no_changes", out
        return elapsed


def shell(template: Path, n: int) -> float:
    """Seconds for the hand-written shell loop over ``n`` slices."""
    with tempfile.TemporaryDirectory() as d:
        repo = Path(d) / "repo"
        shutil.copytree(template, repo, symlinks=True)
        t0 = time.perf_counter()
        subprocess.run(["bash", "-c", SHELL_LOOP, "loop", str(repo), str(n)], check=True,
                       env={**os.environ, **IDENTITY})
        return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    """Print the table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--slices", type=int, default=30, help="slices per run (default 30)")
    ap.add_argument("--rounds", type=int, default=5, help="paired samples (default 5)")
    ap.add_argument("--quick", action="store_true", help="15 slices, 3 rounds")
    ap.add_argument("--profile", action="store_true", help="cProfile one run of ours")
    a = ap.parse_args(argv)
    n, rounds = (15, 3) if a.quick else (a.slices, a.rounds)
    git_version = subprocess.run(["git", "--version"], capture_output=True, text=True,
                                 check=True).stdout.strip()
    print(f"python {platform.python_version()} on {platform.platform()}; {git_version}; "
          f"{os.cpu_count()} cpus")
    with tempfile.TemporaryDirectory() as d:
        os.environ.setdefault("GIT_CONFIG_GLOBAL", str(Path(d) / "gitconfig"))
        (Path(d) / "gitconfig").write_text("")
        template = make_repo(Path(d))
        if a.profile:
            import cProfile
            import pstats

            prof = cProfile.Profile()
            prof.runcall(ours, template, n, "fsync")
            pstats.Stats(prof).sort_stats("cumulative").print_stats(25)
            return 0
        samples: dict[str, list[float]] = {"fsync": [], "flush": [], "shell": []}
        ratios: dict[str, list[float]] = {"fsync": [], "flush": []}
        for _ in range(rounds):
            for mode in ("fsync", "flush"):
                t_ours, t_shell = ours(template, n, mode), shell(template, n)
                samples[mode].append(t_ours)
                samples["shell"].append(t_shell)
                ratios[mode].append(t_ours / t_shell)
    per = {k: statistics.median(v) / n * 1000 for k, v in samples.items()}
    print(f"{n} slices per run, {rounds} rounds; ms per slice (median), ratio = median of "
          "paired ours/shell")
    print(f"{'contender':<34} {'ms/slice':>9} {'ratio':>7}  target")
    print(f"{'shell loop (same git commands)':<34} {per['shell']:>9.1f} {'1.00':>7}")
    for mode in ("fsync", "flush"):
        r = statistics.median(ratios[mode])
        ok = "met" if r <= 1.5 else "NOT met"
        print(f"{'petri-exec git run, ' + mode:<34} {per[mode]:>9.1f} {r:>7.2f}  <= 1.5x ({ok})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
