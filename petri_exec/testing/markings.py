"""The per-marking rules (``net`` to ``progress``): one ``ready()`` answer at a time.

:class:`MarkingChecker` checks a scheduler built for one run at any marking of it;
:func:`check_marking` is the one-call form for your own property tests.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from typing import Any

from ..core.compile import compile_run
from ..core.marking import Marking
from ..core.net import Net, Transition
from ..core.schedulers import PetriScheduler
from ..run.model import Run
from ..run.templates import Template, load_template
from ._noio import ForbiddenIO, forbid_io
from .rules import MARKING_RULES, RULES, ContractViolation, declared, rule

__all__ = ["MarkingChecker", "check_marking"]


class MarkingChecker:
    """Checks one scheduler's answers against the rules, marking by marking, for one run.

    Args:
        scheduler: The scheduler built for ``run``.
        run: The run.
        rules: Names of the rules to check (of :data:`MARKING_RULES`; others are ignored).
        complete: Override the scheduler's ``complete`` declaration (None: read it).
        linear: Override the scheduler's ``linear`` declaration (None: read it).
        template: The run's template (looked up when None).
        template_dirs: Extra directories to look it up in.
    """

    def __init__(self, scheduler: Any, run: Run, *, rules: Iterable[str] = MARKING_RULES,
                 complete: bool | None = None, linear: bool | None = None,
                 template: Template | None = None,
                 template_dirs: Iterable[str] = ()) -> None:
        self.scheduler = scheduler
        self.run = run
        self.rules = frozenset(rules)
        self.template = template or load_template(run.template, tuple(template_dirs))
        self.net = compile_run(run, template=self.template)
        self.petri = PetriScheduler(self.net)
        self.complete = declared(scheduler, "complete") if complete is None else complete
        self.linear = declared(scheduler, "linear") if linear is None else linear
        lane = self.template.run
        self._end = lane.position(lane.end)
        self._run_places = [(f"run:{s}", i) for i, s in enumerate(lane.statuses)]

    def fail(self, rule: str, problem: str, fix: str, marking: Mapping[str, int] | None = None,
             path: Sequence[str] = ()) -> ContractViolation:
        """A violation of ``rule`` for this scheduler and run."""
        return ContractViolation(rule, problem, fix, scheduler=self.scheduler, run=self.run,
                                 marking=marking, path=path)

    def at_end(self, marking: Mapping[str, int]) -> bool:
        """Whether the run lane has reached the end of the driven chain."""
        return any(marking.get(p, 0) and i >= self._end for p, i in self._run_places)

    def check_net(self) -> None:
        """Check rule ``net``: the scheduler's net moves the same tokens as the run's.

        Raises:
            ContractViolation: The first difference.
        """
        if "net" not in self.rules:
            return
        theirs = getattr(self.scheduler, "net", None)
        fix = "build the scheduler's net with pe.compile_run(run) (adding read arcs is allowed)"
        if not isinstance(theirs, Net):
            raise self.fail("net", f"scheduler.net is {type(theirs).__name__}, not a pe.Net", fix)
        ours = self.net
        if set(theirs.places) != set(ours.places):
            diff = sorted(set(theirs.places) ^ set(ours.places))[:5]
            raise self.fail("net", f"scheduler.net's places differ from the run's ({diff})", fix)
        names = {t.name for t in theirs.transitions}
        if names != {t.name for t in ours.transitions}:
            diff = sorted(names ^ {t.name for t in ours.transitions})[:5]
            raise self.fail("net", f"scheduler.net's transitions differ from the run's ({diff})",
                            fix)
        for t in ours.transitions:
            mine, other = ours.effect(t), theirs.effect(t.name)
            if other.transition != t:
                raise self.fail("net", f"transition {t.name!r} of scheduler.net is "
                                f"{other.transition!r}, the run's is {t!r}", fix)
            for kind in ("consumed", "produced"):
                if sorted(getattr(mine, kind)) != sorted(getattr(other, kind)):
                    raise self.fail("net", f"transition {t.name!r} of scheduler.net has "
                                    f"{kind} arcs {sorted(getattr(other, kind))}, the run's "
                                    f"net {sorted(getattr(mine, kind))}", fix)
            theirs_read = dict(other.read)
            lost = [p for p, w in mine.read if theirs_read.get(p, 0) < w]
            if lost:
                raise self.fail("net", f"transition {t.name!r} of scheduler.net lacks the read "
                                f"arc(s) from {', '.join(lost)} (a dependency or frontier test), "
                                "so drive() would fire it too early", fix)

    def check(self, marking: Marking, path: Sequence[str] = ()) -> list[Transition]:
        """Ask the scheduler at ``marking`` and check its answer against the rules.

        Args:
            marking: A marking of the run's net (reached by ``path``).
            path: The transitions fired from the initial marking (for messages).

        Returns:
            The transitions of the answer that are enabled and not manual, in net order
            (the run's own Transition objects): what a walk may fire next.

        Raises:
            ContractViolation: The first broken rule, in the order of :data:`RULES`.
        """
        rules = self.rules
        first = next((r.name for r in RULES if r.name in rules), "soundness")
        on_error = "soundness" if "soundness" in rules else first
        pure = "purity" in rules
        fails = self._fail_at(marking, path)
        copy = dict(marking)
        answer, io = self._ask(copy if pure else marking, pure, on_error, fails)
        own = self._own(answer, marking, fails, on_error, check="soundness" in rules)
        if "manual" in rules:
            manual = sorted(t.name for t in own if t.manual)
            if manual:
                raise fails("manual", f"ready() returned the manual transition(s) {manual}",
                            "leave out transitions whose .manual is true (fire() fires them)")
        if pure:
            self._check_pure(marking, copy, answer, io, on_error, fails)
        if "at_most_one" in rules and self.linear and len(own) > 1:
            raise fails("at_most_one", f"the scheduler declares linear = True but ready() "
                        f"returned {len(own)} transitions {sorted(t.name for t in own)}",
                        "return one transition at a time, or drop the linear declaration")
        enabled = self.petri.ready(marking)
        if "completeness" in rules and self.complete:
            got = {t.name for t in own}
            want = {t.name for t in enabled}
            if got != want:
                raise fails("completeness", f"the scheduler declares complete = True but "
                            f"ready() left out {sorted(want - got)} and added "
                            f"{sorted(got - want)} compared with PetriScheduler",
                            "return every enabled non-manual transition, or drop the "
                            "complete declaration")
        choices = sorted((t for t in own if not t.manual and self.net.is_enabled(t, marking)),
                         key=lambda t: t.index)
        if "progress" in rules and not choices and enabled and not self.at_end(marking):
            names = sorted(t.name for t in enabled)
            raise fails("progress", f"ready() returned nothing to fire while {names} "
                        "are enabled and the run has not reached the end of its driven chain",
                        "return at least one enabled non-manual transition whenever the "
                        "net has one")
        return choices

    def _fail_at(self, marking: Marking, path: Sequence[str]) -> Any:
        def fails(rule: str, problem: str, fix: str) -> ContractViolation:
            return self.fail(rule, problem, fix, marking, path)

        return fails

    def _ask(self, m: Mapping[str, int], pure: bool, on_error: str,
             fails: Any) -> tuple[Any, list[str]]:
        seen: list[str] = []
        try:
            if pure:
                with forbid_io() as seen:
                    answer = self.scheduler.ready(m)
            else:
                answer = self.scheduler.ready(m)
        except ForbiddenIO:
            answer = None
        except Exception as e:
            raise fails(on_error, f"ready() raised {type(e).__name__}: {e}",
                        "ready() must answer at every marking the run can reach") from e
        if seen:
            raise fails("purity", f"ready() performed I/O: {seen[0]}",
                        "compute the answer from the marking and the scheduler's own "
                        "construction-time data only (load files in the factory)")
        return answer, seen

    def _own(self, answer: Any, marking: Marking, fails: Any, on_error: str, *,
             check: bool) -> list[Transition]:
        if not isinstance(answer, AbstractSet):
            raise fails(on_error, f"ready() returned {type(answer).__name__} {answer!r:.80}",
                        "return a frozenset of pe.Transition")
        own: list[Transition] = []
        for t in sorted(answer, key=lambda t: getattr(t, "name", repr(t))):
            if not isinstance(t, Transition):
                raise fails(on_error, f"ready() returned {t!r:.60}, not a pe.Transition",
                            "return Transition objects of scheduler.net")
            try:
                mine = self.net.transition(t.name)
            except LookupError:
                raise fails(on_error, f"ready() returned {t.name!r}, which is not a "
                            "transition of the run's net",
                            "return only transitions of scheduler.net") from None
            if check and mine != t:
                raise fails("soundness", f"ready() returned {t!r}, but the run's net has "
                            f"{mine!r}", "return the net's own Transition objects")
            if check and not self.net.is_enabled(mine, marking):
                lacking = ", ".join(p for p, _, _ in self.net.missing(mine, marking))
                raise fails("soundness", f"ready() returned {t.name!r}, which is not enabled "
                            f"(it lacks a token in {lacking})",
                            "return only transitions enabled at the marking, e.g. from "
                            "self.net.enabled(marking) (drive() silently skips the others)")
            own.append(mine)
        return own

    def _check_pure(self, marking: Marking, copy: Mapping[str, int], answer: Any,
                    io: list[str], on_error: str, fails: Any) -> None:
        if Marking(copy) != marking:
            changed = sorted(p for p in set(copy) | set(marking)
                             if copy.get(p, 0) != marking.get(p, 0))
            raise fails("purity", f"ready() mutated the marking it was given (places "
                        f"{changed[:5]} changed)", "copy the marking (dict(marking)) "
                        "before changing it, or do not change it")
        again, _ = self._ask(marking, True, on_error, fails)
        if again != answer:
            raise fails("purity", f"ready() answered {sorted(_names(answer))} then "
                        f"{sorted(_names(again))} at the same marking",
                        "make the answer a function of the marking alone (no counters, "
                        "caches that change answers, randomness or clocks)")


def _names(answer: Any) -> list[str]:
    try:
        return [getattr(t, "name", repr(t)) for t in answer]
    except TypeError:
        return [repr(answer)]


def check_marking(
    scheduler: Any,
    run: Run,
    marking: Mapping[str, int],
    *,
    rules: Iterable[str] = MARKING_RULES,
    complete: bool | None = None,
    linear: bool | None = None,
    template_dirs: Iterable[str] = (),
) -> list[Transition]:
    """Check ``scheduler``'s answer at one marking of ``run`` (for your own property tests).

    Args:
        scheduler: The scheduler built for ``run``.
        run: The run.
        marking: A marking reachable from the run's (e.g. from ``reachable_markings``).
        rules: Rule names to check (the per-marking ones: :data:`MARKING_RULES`).
        complete: Override the ``complete`` declaration (None: read the scheduler's).
        linear: Override the ``linear`` declaration (None: read the scheduler's).
        template_dirs: Extra directories to look the run's template up in.

    Returns:
        The enabled, non-manual transitions of the answer, in net order.

    Raises:
        ContractViolation: A rule is broken (the message names it).
        UsageError: An unknown rule name.
    """
    names = [rule(r).name for r in rules]
    checker = MarkingChecker(scheduler, run, rules=names, complete=complete, linear=linear,
                             template_dirs=template_dirs)
    checker.check_net()
    return checker.check(Marking(marking))
