"""One entry command for every benchmark: ``python -m benchmarks [--quick]``.

Runs, one after the other in fresh interpreters (so that no benchmark's heap slows the
next): the in-memory drive against graphlib and SNAKES with scaling (``bench_drive``),
persisting a firing (``bench_persist``), peak memory (``bench_memory``), concurrency
against the ideal schedule and Dask (``bench_parallel``), state spaces of contest nets
against a straightforward explorer and pm4py (``bench_statespace``), and a git run against a
hand-written shell loop of the same git commands (``bench_git``), and the shell task runner
against make and Snakemake on one DAG of ``true`` commands (``bench_make``). Each prints its machine
line and its table of ratios against the targets of contract section 7.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    """Run every benchmark; ``--quick`` passes smaller sizes through."""
    quick = "--quick" in argv
    runs = [
        ["bench_drive.py", *(["--quick"] if quick else [])],
        ["bench_persist.py", *(["--quick"] if quick else [])],
        ["bench_memory.py", *(["--slices", "10000"] if quick else [])],
        ["bench_parallel.py", *(["--quick", "--repeat", "1"] if quick else [])],
        ["bench_statespace.py", *(["--quick"] if quick else [])],
        ["bench_git.py", *(["--quick"] if quick else [])],
        ["bench_make.py", *(["--quick"] if quick else [])],
    ]
    status = 0
    for script, *args in runs:
        print(f"\n== {script} {' '.join(args)}".rstrip(), flush=True)
        status |= subprocess.call([sys.executable, str(HERE / script), *args])
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
