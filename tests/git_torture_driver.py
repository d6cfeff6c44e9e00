"""Child process of the git kill-and-resume torture test (not a test module).

Usage: python git_torture_driver.py RUN_JSON AGENT_COMMAND
Prints ``ready`` once imported, then drives the run with the git ports at max_parallel 2
and prints the outcome's status.
"""

from __future__ import annotations

import sys

import petri_exec as pe


def main() -> int:
    run_path, agent = sys.argv[1], sys.argv[2]
    print("ready", flush=True)
    out = pe.drive(run_path, pe.GitPorts(agent=agent), max_parallel=2)
    print(out.status, out.step or "", out.reason or "", flush=True)
    return 0 if out.status == "completed" else 3


if __name__ == "__main__":
    raise SystemExit(main())
