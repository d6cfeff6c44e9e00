"""Mutation testing of core, engine and ports: ``python -m tests.mutation`` (not in the
default test run; docs/testing.md#mutation-testing).

It copies the checkout into a scratch directory (the checkout itself is never mutated),
lets mutmut generate every mutant of the chosen modules, runs a seeded random sample of
them against the fast suite (``SUITE``; mutmut runs, per mutant, only the tests that
executed the mutated function), and prints the score and every survivor's diff.

    pip install 'petri-exec[mutation]'
    python -m tests.mutation --sample 50 --seed 25 --budget 4200   # docs/testing.md reports it
    python -m tests.mutation --sample 0 --modules core             # every mutant of core/
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: Test files that cannot judge a mutant, left out of every run: they check the source
#: text itself (module sizes, imports: mutmut's trampolines change both), build a wheel, or
#: drive a browser or Graphviz over views/, which no group mutates.
NOT_JUDGES = frozenset({"tests/test_layout.py", "tests/test_wheel.py",
                        "tests/test_web_browser.py", "tests/test_renderers.py",
                        "tests/test_visualize.py", "tests/test_viewchoice.py",
                        "tests/test_pm4py.py"})

#: Every other fast test file judges every mutant: mutmut runs, per mutant, only the tests
#: that executed the mutated function, so a mutant is judged by the whole suite that
#: reaches it. (Tests that run ``petri-exec`` in a subprocess import the unmutated
#: checkout; they cost time but never kill a mutant wrongly.)
SUITE = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests").glob("test_*.py")
               if str(p.relative_to(ROOT)) not in NOT_JUDGES)

#: What the tests read besides the package and themselves: copied into the scratch
#: directory, and by mutmut into its copy where the tests run.
_ALSO = ("nets", "docs", "benchmarks", ".ci", "README.md")

#: Module group -> the files mutated.
GROUPS: dict[str, list[str]] = {
    "core": ["petri_exec/core/*.py"],
    "engine": ["petri_exec/engine/api.py", "petri_exec/engine/driver.py",
               "petri_exec/engine/durable.py", "petri_exec/engine/interrupt.py",
               "petri_exec/engine/journal.py", "petri_exec/engine/journalscan.py",
               "petri_exec/engine/live.py", "petri_exec/engine/lock.py",
               "petri_exec/engine/operate.py", "petri_exec/engine/outcome.py",
               "petri_exec/engine/parallel.py", "petri_exec/engine/readyqueue.py",
               "petri_exec/engine/writer.py"],
    "ports": ["petri_exec/ports/protocol.py", "petri_exec/ports/handlers.py",
              "petri_exec/ports/shell.py", "petri_exec/ports/procgroup.py"],
    "git": ["petri_exec/ports/git*.py", "petri_exec/ports/worktree.py",
            "petri_exec/ports/command.py", "petri_exec/ports/prompt.py"],
}


#: A mutant's wall-clock limit is (the time of the tests that reach it + 1 s) times this.
TIMEOUT_MULTIPLIER = 4.0  # docs/testing.md#mutation-testing says why

#: mutmut's verdicts that count as killed, and those that are no verdict (left out).
KILLED = ("killed", "timeout", "segfault", "caught by type check")
UNJUDGED = ("skipped", "not checked", "check was interrupted by user")


def _copy(scratch: Path) -> None:
    if scratch.exists():
        shutil.rmtree(scratch)
    scratch.mkdir(parents=True)
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", ".hypothesis")
    for name in ("petri_exec", "tests", *_ALSO):
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, scratch / name, ignore=skip)
        else:
            shutil.copy2(ROOT / name, scratch / name)
    shutil.copy2(ROOT / "pyproject.toml", scratch / "pyproject.toml")


def _config(scratch: Path, groups: list[str], suite: list[str]) -> None:
    mutate = sorted({p for g in groups for p in GROUPS[g]})
    lines = ["[mutmut]", "source_paths=petri_exec",
             "also_copy=" + _ALSO[0], *("    " + a for a in _ALSO[1:]),
             "only_mutate=" + mutate[0], *("    " + m for m in mutate[1:]),
             "pytest_add_cli_args_test_selection=" + suite[0], *("    " + t for t in suite[1:]),
             "pytest_add_cli_args=-p", "    no:cacheprovider", "    -q", "    -m",
             "    not slow",
             # a mutant's wall-clock limit is (its tests' time + 1 s) x this; mutmut's 15
             # lets a hanging mutant of a function most tests call run for most of an hour
             f"timeout_multiplier={TIMEOUT_MULTIPLIER}"]
    (scratch / "setup.cfg").write_text("\n".join(lines) + "\n")


class OutOfTime(Exception):
    """The run's ``--budget`` ran out (mutmut and its workers were ended)."""


def _mutmut(scratch: Path, *args: str, deadline: float | None = None
            ) -> subprocess.CompletedProcess[str]:
    """Run mutmut in its own process group; end the group if ``deadline`` passes."""
    exe = Path(sys.executable).with_name("mutmut")
    log = scratch / "mutmut.log"
    start = log.stat().st_size if log.exists() else 0
    with log.open("ab") as out:
        proc = subprocess.Popen([str(exe), *args], cwd=scratch, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            proc.wait(None if deadline is None else max(deadline - time.monotonic(), 0))
        except subprocess.TimeoutExpired:
            for sig, grace in ((signal.SIGTERM, 10), (signal.SIGKILL, None)):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, sig)
                try:
                    proc.wait(grace)
                    break
                except subprocess.TimeoutExpired:
                    continue
            raise OutOfTime from None
    with log.open("rb") as f:
        f.seek(start)
        text = f.read().decode(errors="replace")
    return subprocess.CompletedProcess(proc.args, proc.returncode, text, "")


def _results(scratch: Path) -> dict[str, int | None]:
    codes: dict[str, int | None] = {}
    for meta in (scratch / "mutants").rglob("*.py.meta"):
        try:
            codes.update(json.loads(meta.read_text())["exit_code_by_key"])
        except (ValueError, KeyError):  # mutmut was ended (--budget) while writing it
            print(f"unreadable: {meta}; its mutants count as not judged", file=sys.stderr)
    return codes


def main(argv: list[str] | None = None) -> int:
    """Run the mutation sample; print the score and the survivors.

    Args:
        argv: Command-line arguments (``--help`` lists them).

    Returns:
        0 when the score reaches ``--target``, 1 below it, 2 when mutmut is missing or
        judged no mutant (it could not run the suite), 3 when ``--budget`` ran out before
        any mutant was judged.
    """
    ap = argparse.ArgumentParser(prog="python -m tests.mutation", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--modules", nargs="+", choices=sorted(GROUPS), default=sorted(GROUPS))
    ap.add_argument("--sample", type=int, default=150,
                    help="mutants to run, drawn with --seed (0: all of them)")
    ap.add_argument("--seed", type=int, default=19)
    ap.add_argument("--max-children", type=int, default=2)
    ap.add_argument("--scratch", type=Path, default=ROOT / ".mutation")
    ap.add_argument("--target", type=float, default=0.90)
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("--tests", nargs="+", metavar="FILE",
                    help="judge with these test files only (default: every file but "
                         "NOT_JUDGES); a quick look, not a score to report")
    ap.add_argument("--budget", type=float, metavar="SECONDS",
                    help="end mutmut after this long and report the mutants judged so far "
                         "(exit 3 when none was)")
    args = ap.parse_args(argv)
    try:
        from mutmut.stats import status_by_exit_code  # (mutmut.__main__ reads a config)
    except ImportError:
        print("mutmut is not installed: pip install 'petri-exec[mutation]'", file=sys.stderr)
        return 2
    deadline = None if args.budget is None else time.monotonic() + args.budget
    scratch = args.scratch.resolve()
    _copy(scratch)
    _config(scratch, args.modules, args.tests or SUITE)
    # generate every mutant and the per-function test map; a name matching nothing makes
    # mutmut stop right after that, before running any mutant
    try:
        _mutmut(scratch, "run", "petri_exec.__generate_only__", deadline=deadline)
    except OutOfTime:
        print(f"the budget of {args.budget:g} s ran out before any mutant ran (mutmut's "
              f"output: {scratch / 'mutmut.log'})", file=sys.stderr)
        return 3
    every = sorted(_results(scratch))
    if not every:
        print(f"mutmut generated no mutants (its output: {scratch / 'mutmut.log'})",
              file=sys.stderr)
        return 2
    chosen = every if not args.sample or args.sample >= len(every) else sorted(
        random.Random(args.seed).sample(every, args.sample))
    print(f"{len(chosen)} of {len(every)} mutants (seed {args.seed}) in {args.modules}",
          flush=True)
    out_of_time = False
    try:
        done = _mutmut(scratch, "run", "--max-children", str(args.max_children), *chosen,
                       deadline=deadline)
    except OutOfTime:
        out_of_time = True
        done = subprocess.CompletedProcess([], -1, "", "")
    codes = _results(scratch)
    status = {n: status_by_exit_code.get(codes.get(n), f"exit {codes.get(n)}")
              for n in chosen}
    per_module: dict[str, Counter[str]] = defaultdict(Counter)
    for n, s in status.items():
        per_module[n.split(".x")[0]][s] += 1
    for module, counts in sorted(per_module.items()):
        print(f"  {module:40} " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    total = Counter(status.values())
    judged = sum(total.values()) - sum(total[k] for k in UNJUDGED)
    killed = sum(total[k] for k in KILLED)
    score = killed / judged if judged else 0.0
    print(f"score: {killed}/{judged} killed = {score:.1%} (" +
          ", ".join(f"{k} {v}" for k, v in sorted(total.items())) + ")")
    survivors = [n for n, s in status.items() if s not in KILLED and s not in UNJUDGED]
    for n in survivors:
        print(f"\n--- {status[n]}: {n}")
        print(_mutmut(scratch, "show", n).stdout.strip())
    if out_of_time:
        print(f"the budget of {args.budget:g} s ran out: {total['not checked']} of "
              f"{len(chosen)} mutants were not judged", file=sys.stderr)
    elif total["not checked"]:
        print(done.stdout[-2000:], file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps({"seed": args.seed, "modules": args.modules,
                                         "generated": len(every), "status": status,
                                         "score": score}, indent=1, ensure_ascii=False))
    if not judged and out_of_time:
        return 3
    if not judged:  # the tool could not run the suite (its output is above): no verdict
        print("no mutant was judged: mutmut could not run the tests", file=sys.stderr)
        return 2
    return 0 if score >= args.target else 1


if __name__ == "__main__":
    sys.exit(main())
