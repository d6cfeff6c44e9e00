"""Deliberately broken schedulers: each breaks one rule of the scheduler contract.

Module level (not a test module) so that rule 'determinism' can import them in fresh
processes as ``tests.broken_schedulers:<Name>``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping
from typing import Any, ClassVar

import attrs

import petri_exec as pe


class _Base(pe.Scheduler):
    """Compiles the run's net; ``ready()`` defaults to PetriScheduler's answer."""

    def __init__(self, net: pe.Net, run: pe.Run) -> None:
        self.net = net
        self.run = run
        self.template = pe.load_template(run.template)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    @classmethod
    def for_run(cls, run: pe.Run) -> Any:
        return cls(pe.compile_run(run), run)

    def enabled(self, marking: Mapping[str, int]) -> list[pe.Transition]:
        return sorted((t for t in self.net.enabled(marking) if not t.manual),
                      key=lambda t: t.index)

    def ready(self, marking: Mapping[str, int]) -> frozenset[pe.Transition]:
        return frozenset(self.enabled(marking))


class ReturnsDisabled(_Base):
    """soundness: adds the first disabled transition to an otherwise right answer."""

    def ready(self, marking: Mapping[str, int]) -> frozenset[pe.Transition]:
        extra = [t for t in self.net.transitions
                 if not t.manual and not self.net.is_enabled(t, marking)][:1]
        return frozenset(self.enabled(marking) + extra)


class IgnoresDependencies(_Base):
    """soundness: starts a slice whose dependencies are not done (checks only the frontier)."""

    def ready(self, marking: Mapping[str, int]) -> frozenset[pe.Transition]:
        frontier = f"run:{self.template.run.frontier}"
        first = self.template.slice.steps[0].name
        early = [t for t in self.net.transitions
                 if t.step == first and t.slice_id is not None and marking.get(frontier)
                 and marking.get(f"slice:{t.slice_id}:{self.template.slice.initial}")]
        return frozenset(self.enabled(marking) + early)


class WrongNet(_Base):
    """net: schedules over a net compiled without the dependencies: fires slices too early."""

    @classmethod
    def for_run(cls, run: pe.Run) -> Any:
        loose = attrs.evolve(run, epics=(), slices=tuple(
            attrs.evolve(s, depends_on=(), epic=None) for s in run.slices))
        return cls(pe.compile_run(loose), run)


class DropsEnabled(_Base):
    """completeness: declares complete but leaves out the last enabled transition."""

    complete: ClassVar[bool] = True

    def ready(self, marking: Mapping[str, int]) -> frozenset[pe.Transition]:
        enabled = self.enabled(marking)
        return frozenset(enabled[:-1] if len(enabled) > 1 else enabled)


class TwoWhenLinear(_Base):
    """at_most_one: declares linear but returns two transitions when it can."""

    linear: ClassVar[bool] = True

    def ready(self, marking: Mapping[str, int]) -> frozenset[pe.Transition]:
        return frozenset(self.enabled(marking)[:2])


class MutatesMarking(_Base):
    """purity: "reserves" the tokens of its answer in the marking it was given."""

    def ready(self, marking: Mapping[str, int]) -> frozenset[pe.Transition]:
        answer = self.enabled(marking)
        if isinstance(marking, MutableMapping):
            for t in answer:
                for place, w in self.net.effect(t).consumed:
                    marking[place] -= w
        return frozenset(answer)


class RoundRobin(_Base):
    """purity: rotates through the enabled transitions with a hidden counter."""

    def __init__(self, net: pe.Net, run: pe.Run) -> None:
        super().__init__(net, run)
        self.calls = 0

    def ready(self, marking: Mapping[str, int]) -> frozenset[pe.Transition]:
        enabled = self.enabled(marking)
        self.calls += 1
        return frozenset(enabled[self.calls % len(enabled):][:1]) if enabled else frozenset()


class ReadsConfig(_Base):
    """purity: reads a file on every call (I/O in ready())."""

    def ready(self, marking: Mapping[str, int]) -> frozenset[pe.Transition]:
        with open(os.devnull) as f:
            f.read()
        return super().ready(marking)


class ReturnsManual(_Base):
    """manual: returns every enabled transition, human gates included."""

    def ready(self, marking: Mapping[str, int]) -> frozenset[pe.Transition]:
        return self.net.enabled(marking)


class StallsBeforeEnd(_Base):
    """progress: never leaves the slice frontier once every slice is done."""

    def ready(self, marking: Mapping[str, int]) -> frozenset[pe.Transition]:
        return frozenset(t for t in self.enabled(marking) if t.step != self._leave)

    @property
    def _leave(self) -> str:
        lane = self.template.run
        return lane.steps[lane.position(lane.frontier or lane.initial)].name


class SetOrder(_Base):
    """determinism: picks "the first" enabled transition in set iteration order."""

    def ready(self, marking: Mapping[str, int]) -> frozenset[pe.Transition]:
        enabled = [t for t in self.net.enabled(marking) if not t.manual]
        return frozenset(enabled[:1])


class _Forgetful:
    """A session that never hands out a slice's first step once the drive has begun."""

    def __init__(self, state: pe.NetState) -> None:
        self.state = state
        self.started = False

    def get_ready(self) -> list[pe.Transition]:
        ready = self.state.get_ready()
        if self.started:
            ready = [t for t in ready if t.slice_id is None or t.step != self.first]
        return ready

    first = ""

    def is_enabled(self, t: pe.Transition) -> bool:
        return self.state.is_enabled(t)

    def fire(self, t: pe.Transition) -> None:
        self.started = self.started or t.slice_id is not None
        self.state.fire(t)

    def marking(self) -> pe.Marking:
        return self.state.marking()

    def missing(self, t: pe.Transition) -> list[tuple[str, int, int]]:
        return self.state.missing(t)


class ForgetfulSession(_Base):
    """parity: ready() is right, but its session loses slices that wait for another."""

    def session(self, marking: Mapping[str, int]) -> Any:
        s = _Forgetful(self.net.state(marking))
        s.first = self.template.slice.steps[0].name
        return s


class _Echo(_Forgetful):
    """A session that hands a fired slice step out again and claims it is still enabled."""

    def __init__(self, state: pe.NetState) -> None:
        super().__init__(state)
        self.again: list[pe.Transition] = []
        self.echoed: set[str] = set()

    def get_ready(self) -> list[pe.Transition]:
        ready, self.again = self.state.get_ready() + self.again, []
        return ready

    def is_enabled(self, t: pe.Transition) -> bool:
        return t.name in self.echoed or self.state.is_enabled(t)

    def fire(self, t: pe.Transition) -> None:
        if t.name in self.echoed:
            self.echoed.discard(t.name)
            return
        self.state.fire(t)
        if t.slice_id is not None and t.port is not None:
            self.again.append(t)
            self.echoed.add(t.name)


class CallsPortsTwice(_Base):
    """ports_once: its session makes drive() run every port-backed slice step twice."""

    def session(self, marking: Mapping[str, int]) -> Any:
        return _Echo(self.net.state(marking))


class _Planned:
    """A session that hands out a plan fixed in advance, one transition at a time."""

    def __init__(self, state: pe.NetState, plan: list[pe.Transition]) -> None:
        self.state = state
        self.plan = plan
        self.next = 0
        self.handed = False

    def get_ready(self) -> list[pe.Transition]:
        if self.handed or self.next >= len(self.plan):
            return []
        t = self.plan[self.next]
        if not self.state.is_enabled(t):
            return []
        self.handed = True
        return [t]

    def is_enabled(self, t: pe.Transition) -> bool:
        return self.state.is_enabled(t)

    def fire(self, t: pe.Transition) -> None:
        self.state.fire(t)
        if self.next < len(self.plan) and t == self.plan[self.next]:
            self.next += 1
            self.handed = False

    def marking(self) -> pe.Marking:
        return self.state.marking()

    def missing(self, t: pe.Transition) -> list[tuple[str, int, int]]:
        return self.state.missing(t)


class PlansFromScratch(_Base):
    """halt: its session follows a plan made for the run's initial state (as if every
    step were still to do), so a fresh drive is right but a resume after a halt finds the
    plan's first step already fired and stalls."""

    def session(self, marking: Mapping[str, int]) -> Any:
        fresh = attrs.evolve(
            self.run, status=self.template.run.initial,
            slices=tuple(attrs.evolve(s, status=self.template.slice.initial)
                         for s in self.run.slices))
        sim = self.net.state(pe.marking_of(fresh))
        plan: list[pe.Transition] = []
        while True:
            ready = [t for t in self.net.transitions if sim.is_enabled(t) and not t.manual]
            if not ready:
                break
            plan.append(ready[0])
            sim.fire(ready[0])
        return _Planned(self.net.state(marking), plan)


#: Each broken scheduler and the rule the harness must name.
BROKEN: dict[str, str] = {
    "ReturnsDisabled": "soundness",
    "IgnoresDependencies": "soundness",
    "WrongNet": "net",
    "DropsEnabled": "completeness",
    "TwoWhenLinear": "at_most_one",
    "MutatesMarking": "purity",
    "RoundRobin": "purity",
    "ReadsConfig": "purity",
    "ReturnsManual": "manual",
    "StallsBeforeEnd": "progress",
    "SetOrder": "determinism",
    "ForgetfulSession": "parity",
    "CallsPortsTwice": "ports_once",
    "PlansFromScratch": "halt",
}
