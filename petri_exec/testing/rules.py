"""The scheduler contract: its rules and the violation they raise.

Rules are checked in the order of :data:`RULES`; each can be checked alone. The rules
about a single ``ready()`` answer (``net`` to ``progress``) are checked by
:mod:`.markings`, at one marking or along a walk of markings the scheduler itself
reaches; ``parity``, ``ports_once`` and ``halt`` drive whole runs (:mod:`.drives`);
``determinism`` asks fresh processes (:mod:`.determinism`).

A scheduler declares the optional promises with class attributes: ``complete = True``
(ready() is exactly PetriScheduler's) and ``linear = True`` (at most one transition).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from ..core.marking import Marking
from ..errors import UsageError
from ..run.model import Run
from ..run.runfile import dump_run

__all__ = [
    "CONTRACT_VERSION",
    "MARKING_RULES",
    "RULES",
    "ContractViolation",
    "Rule",
    "declared",
    "rule",
]


@attrs.frozen
class Rule:
    """One rule of the scheduler contract.

    Attributes:
        name: The rule's name (what violations and ``rules=`` use).
        summary: What must hold.
        why: Why ``drive()`` needs it.
        declared_by: ``"complete"`` or ``"linear"`` for rules that apply only to schedulers
            declaring that promise, else None.
    """

    name: str
    summary: str
    why: str
    declared_by: str | None = None


#: The version of the rule set: raised when a release adds a rule (names never change).
CONTRACT_VERSION = 1

#: Every rule, in the order they are checked.
RULES: tuple[Rule, ...] = (
    Rule("net", "scheduler.net has the run's places and transitions, with the same consuming "
         "and producing arcs; it may add read arcs, never drop one",
         "drive() keeps the marking in scheduler.net and records each firing in run.json by "
         "name: a net that moves other tokens, or lacks a dependency or frontier arc, lets "
         "drive() fire steps the run does not allow"),
    Rule("soundness", "ready() returns a frozenset of transitions of the run's net, each "
         "enabled at the marking",
         "drive() silently skips a returned transition that is not enabled, so an unsound "
         "answer does not crash a drive: it is ignored, and the scheduler stalls or drives in "
         "an order it did not choose; only ready() itself shows it"),
    Rule("manual", "ready() never returns a manual transition (a human gate such as "
         "host_promotion)",
         "manual steps are fired only by fire(); an automatic answer that includes one would "
         "cross a human gate"),
    Rule("purity", "ready(marking) is pure: the same answer twice, the marking not mutated, "
         "no I/O (files, subprocesses, network)",
         "drive() calls ready() again after every firing and after every resume; run.json is "
         "the only state, so an answer that depends on hidden state, on the call count or on "
         "the outside world cannot be replayed"),
    Rule("at_most_one", "a scheduler declaring linear = True returns at most one transition",
         "linear schedulers are the sequential drop-in: their users rely on one step at a time",
         declared_by="linear"),
    Rule("completeness", "a scheduler declaring complete = True returns exactly what "
         "PetriScheduler returns: every enabled non-manual transition",
         "a complete scheduler promises maximal concurrency: drive() can only run at once "
         "what ready() hands out", declared_by="complete"),
    Rule("progress", "before the end of the driven chain, ready() is non-empty whenever the "
         "run's net has an enabled non-manual transition",
         "drive() stops with 'deadlocked' as soon as nothing is ready: a scheduler that holds "
         "everything back turns a runnable run into a false deadlock"),
    Rule("parity", "drive() with the scheduler ends like drive() with LinearScheduler: same "
         "outcome, same final run.json, on any DAG and any verdicts",
         "a scheduler chooses an order, never a result; this also checks the scheduler's "
         "session(), which is what drive() really talks to"),
    Rule("ports_once", "each port is called exactly once per attempted step, and a completed "
         "drive calls every port-backed step once",
         "ports do real work (an agent run, a landing): a second call duplicates it, a missing "
         "one loses it"),
    Rule("halt", "a failing port halts drive() at that step with the run (run.json and its "
         "journal) as if the step was never attempted; a new drive with a fresh scheduler "
         "completes with the same run.json as an uninterrupted drive",
         "halts are resumed by driving run.json again: the scheduler must work from any "
         "run.json it leaves behind, not only from a fresh run"),
    Rule("determinism", "ready() gives the same answer at the same marking in processes with "
         "different PYTHONHASHSEED (the factory must be importable: 'module:attr')",
         "a resume in another process, the CLI's `ready` and a replayed journal must agree "
         "with the drive that wrote run.json; set iteration order changes with the hash seed"),
)

_BY_NAME = {r.name: r for r in RULES}
#: The rules checked at each marking of a walk, in order.
MARKING_RULES = ("net", "soundness", "manual", "purity", "at_most_one", "completeness",
                 "progress")


def rule(name: str) -> Rule:
    """The rule called ``name``.

    Raises:
        UsageError: No such rule (the message suggests close names and lists all).
    """
    found = _BY_NAME.get(name)
    if found is None:
        close = difflib.get_close_matches(name, list(_BY_NAME), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise UsageError(f"no scheduler contract rule {name!r}; {hint}rules are: "
                         f"{', '.join(_BY_NAME)}")
    return found


def declared(scheduler: Any, promise: str) -> bool:
    """Whether ``scheduler`` declares ``promise`` (``"complete"`` or ``"linear"``).

    A scheduler declares a promise with a true class (or instance) attribute of that name.
    """
    return getattr(scheduler, promise, False) is True


def _places(m: Mapping[str, int]) -> str:
    marked = [p if n == 1 else f"{p} ({n} tokens)" for p, n in sorted(m.items()) if n]
    return ", ".join(marked) or "(empty)"


class ContractViolation(AssertionError):
    """A broken rule of the scheduler contract, with the (shrunk) run that shows it.

    Attributes:
        rule: The broken rule's name.
        problem: What went wrong.
        fix: What to do about it.
        scheduler: ``repr`` of the scheduler.
        run: The failing run (minimal when raised by :func:`check_scheduler`).
        marking: The marking at which it failed, if any.
        path: The transitions fired from the run's initial marking to reach it.
    """

    def __init__(self, rule: str, problem: str, fix: str, *, scheduler: Any = None,
                 run: Run | None = None, marking: Mapping[str, int] | None = None,
                 path: Sequence[str] = ()) -> None:
        self.rule = rule
        self.problem = problem
        self.fix = fix
        self.scheduler = repr(scheduler) if scheduler is not None else None
        self.run = run
        self.marking = Marking(marking) if marking is not None else None
        self.path = tuple(path)
        super().__init__(self._message())

    def _message(self) -> str:
        who = f" by {self.scheduler}" if self.scheduler else ""
        lines = [f"scheduler contract rule {self.rule!r} is broken{who}: {self.problem}; "
                 f"{self.fix}."]
        if self.marking is not None:
            how = (f"after firing {', '.join(self.path)} from the run's initial marking"
                   if self.path else "the run's initial marking")
            lines.append(f"At marking [{_places(self.marking)}] ({how}).")
        if self.run is not None:
            lines.append("Failing run (minimal: shrunk by hypothesis; save it as run.json to "
                         "reproduce):")
            lines.append(dump_run(self.run).decode().rstrip())
        r = _BY_NAME.get(self.rule)
        if r is not None:
            lines.append(f"Rule {r.name!r}: {r.summary}. Why drive() needs it: {r.why}. "
                         f"See docs/testing.md#{r.name.replace('_', '-')}.")
        return "\n".join(lines)
