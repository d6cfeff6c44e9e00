"""The petri-exec pytest plugin (entry point ``pytest11``: ``petri_exec``).

Loaded automatically by pytest once petri-exec is installed; disable it with
``-p no:petri_exec``. It imports nothing heavy at start-up (hypothesis only when a
fixture that needs it is used).

Fixtures:
    fake_ports: A fresh :class:`~petri_exec.testing.FakePorts`.
    scheduler_contract: :func:`~petri_exec.testing.check_scheduler` with this session's
        ``--scheduler-contract-examples``, e.g. ``scheduler_contract(MyScheduler)``.
    run_file: ``run_file(run, name="run.json")`` saves a :class:`~petri_exec.Run` in the
        test's ``tmp_path`` and returns the path.

Options:
    --scheduler-contract-examples N: examples per rule group for ``scheduler_contract``
        and :class:`~petri_exec.testing.SchedulerContract` (default: ``ContractSettings``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .fakes import FakePorts

__all__ = ["fake_ports", "pytest_addoption", "run_file", "scheduler_contract"]


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register ``--scheduler-contract-examples``."""
    group = parser.getgroup("petri-exec", "petri-exec scheduler contract harness")
    group.addoption(
        "--scheduler-contract-examples", type=int, default=None, metavar="N",
        dest="scheduler_contract_examples",
        help="examples per rule group of the scheduler contract (check_scheduler / "
             "SchedulerContract); more finds rarer bugs, fewer runs faster")


@pytest.fixture
def fake_ports() -> FakePorts:
    """A fresh FakePorts (every built-in port, recording its calls)."""
    return FakePorts()


@pytest.fixture
def scheduler_contract(request: pytest.FixtureRequest) -> Callable[..., Any]:
    """``check_scheduler`` honouring ``--scheduler-contract-examples``."""
    from .contract import check_scheduler

    n = request.config.getoption("scheduler_contract_examples", None)
    return functools.partial(check_scheduler, max_examples=n) if n is not None \
        else check_scheduler


@pytest.fixture
def run_file(tmp_path: Path) -> Callable[..., Path]:
    """``run_file(run, name="run.json")``: save ``run`` under ``tmp_path``; return the path."""
    from ..run.runfile import save_run

    def make(run: Any, name: str = "run.json") -> Path:
        path = tmp_path / name
        save_run(run, path)
        return path

    return make
