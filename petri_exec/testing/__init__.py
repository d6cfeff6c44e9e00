"""The scheduler contract harness: property-test your own scheduler in ten lines.

Public, documented and versioned with the package (see ``docs/testing.md``)::

    from petri_exec.testing import SchedulerContract, check_scheduler

    class TestMyScheduler(SchedulerContract):      # one pytest test per contract rule
        factory = "my_package.sched:MyScheduler"   # run -> scheduler (or a class with for_run)

    def test_all_rules_at_once():
        check_scheduler("my_package.sched:MyScheduler")

What is here:

- :class:`FakePorts`, :class:`PortBehaviour`, :class:`Call`, :data:`BUILTIN_PORTS`:
  deterministic ports that record every call (no extra dependency);
- hypothesis strategies :func:`runs`, :func:`reachable_markings`,
  :func:`runs_and_markings`, :func:`port_behaviours`;
- the contract: :data:`RULES` (each :class:`Rule` checkable on its own),
  :func:`check_scheduler`, :func:`check_marking`, :class:`SchedulerContract`,
  :class:`ContractViolation` (an ``AssertionError`` naming the broken rule);
- a pytest plugin (``petri_exec.testing.pytest_plugin``, registered through the
  ``pytest11`` entry point) with the fixtures ``fake_ports``, ``scheduler_contract`` and
  ``run_file`` and the option ``--scheduler-contract-examples``.

Everything but the fakes needs ``hypothesis`` (``pip install 'petri-exec[testing]'``); it
is imported on first use, so importing :class:`FakePorts` never needs it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .fakes import BUILTIN_PORTS, Call, FakePorts, PortBehaviour

if TYPE_CHECKING:
    from .contract import ContractReport, ContractSettings, SchedulerContract, check_scheduler
    from .markings import check_marking
    from .rules import CONTRACT_VERSION, MARKING_RULES, RULES, ContractViolation, Rule, rule
    from .strategies import (
        SHAPES,
        port_behaviours,
        reachable_markings,
        runs,
        runs_and_markings,
    )

__all__ = [
    "BUILTIN_PORTS",
    "CONTRACT_VERSION",
    "MARKING_RULES",
    "RULES",
    "SHAPES",
    "Call",
    "ContractReport",
    "ContractSettings",
    "ContractViolation",
    "FakePorts",
    "PortBehaviour",
    "Rule",
    "SchedulerContract",
    "check_marking",
    "check_scheduler",
    "port_behaviours",
    "reachable_markings",
    "rule",
    "runs",
    "runs_and_markings",
]

_LAZY = {
    "ContractReport": "contract",
    "ContractSettings": "contract",
    "SchedulerContract": "contract",
    "check_scheduler": "contract",
    "CONTRACT_VERSION": "rules",
    "MARKING_RULES": "rules",
    "RULES": "rules",
    "ContractViolation": "rules",
    "Rule": "rules",
    "check_marking": "markings",
    "rule": "rules",
    "SHAPES": "strategies",
    "port_behaviours": "strategies",
    "reachable_markings": "strategies",
    "runs": "strategies",
    "runs_and_markings": "strategies",
}


def __getattr__(name: str) -> Any:
    """Import the hypothesis-based parts on first use."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'petri_exec.testing' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(__all__) | {k for k in globals() if k.startswith("__")})
