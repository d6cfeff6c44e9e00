"""``check_scheduler()`` and ``SchedulerContract``: the whole contract against a factory.

A *factory* builds the scheduler under test for a run: a callable ``run -> scheduler``,
a scheduler class with a ``for_run(run)`` classmethod, or a ``'module:attr'`` string
naming either (rule ``determinism`` needs one it can import in a fresh process; a
module-level function or class is named automatically).
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar

import attrs
from hypothesis import HealthCheck, Phase, assume, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from ..core.compile import compile_run, marking_of
from ..errors import UsageError
from ..run.model import Run, Slice
from ..run.templates import load_template
from .determinism import HashSeedWorkers, check_determinism, factory_spec, resolve_factory
from .drives import build_scheduler, check_drive, check_halt
from .markings import MarkingChecker
from .rules import MARKING_RULES, RULES, declared, rule
from .strategies import SHAPES, port_behaviours, runs

__all__ = ["ContractReport", "ContractSettings", "SchedulerContract", "check_scheduler"]


@attrs.frozen
class ContractSettings:
    """How hard :func:`check_scheduler` looks.

    The defaults run the whole contract in a few seconds per cheap scheduler (well under
    a minute on 2 cores).

    Attributes:
        max_examples: Runs (each walked from start to end) for the per-marking rules;
            ``parity``/``ports_once`` and ``determinism`` use half as many, ``halt`` a
            quarter (each at least 5).
        max_slices: Most slices in a generated run.
        shapes: Run shapes to draw (see :data:`~petri_exec.testing.SHAPES`).
        templates: Templates to draw.
        template_dirs: Extra directories to look templates up in.
        hash_seeds: ``PYTHONHASHSEED`` of the processes rule ``determinism`` compares with.
        max_parallel: ``drive(max_parallel=...)`` values drawn for ``parity`` and
            ``ports_once`` (concurrent drives use the scheduler's session differently).
        complete: Check ``completeness`` as if the scheduler declared ``complete = True``
            (True), never (False), or as it declares (None).
        linear: The same for ``linear`` and rule ``at_most_one``.
        hypothesis: Hypothesis settings to start from (database, derandomize, verbosity,
            …); None uses the active profile. Its ``max_examples`` is not used.
    """

    max_examples: int = 100
    max_slices: int = 8
    shapes: tuple[str, ...] = attrs.field(default=SHAPES, converter=tuple)
    templates: tuple[str, ...] = attrs.field(default=("minimal", "executor"), converter=tuple)
    template_dirs: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    hash_seeds: tuple[int, ...] = attrs.field(default=(1, 2), converter=tuple)
    max_parallel: tuple[int, ...] = attrs.field(default=(1, 3), converter=tuple)
    complete: bool | None = None
    linear: bool | None = None
    hypothesis: hsettings | None = None

    def __attrs_post_init__(self) -> None:
        def bad(field: str, rule: str) -> UsageError:
            return UsageError(f"ContractSettings({field}={getattr(self, field)!r}): {rule}")

        if not isinstance(self.max_examples, int) or self.max_examples < 1:
            raise bad("max_examples", "need a positive number of examples")
        if not isinstance(self.max_slices, int) or self.max_slices < 0:
            raise bad("max_slices", "need a non-negative number of slices")
        if not self.templates:
            raise bad("templates", "name at least one template, e.g. ('minimal',)")
        if not self.hash_seeds or not all(
                isinstance(x, int) and 0 <= x < 2**32 for x in self.hash_seeds):
            raise bad("hash_seeds", "need at least one PYTHONHASHSEED in 0..4294967295")
        if not self.max_parallel or not all(
                isinstance(x, int) and x >= 1 for x in self.max_parallel):
            raise bad("max_parallel", "need at least one positive integer, e.g. (1,)")

    def examples(self, group: str) -> int:
        """The number of examples for a group of rules (``marking``, ``drive``, …)."""
        share = {"marking": 1.0, "drive": 0.5, "determinism": 0.5, "halt": 0.25}[group]
        return max(5, round(self.max_examples * share))

    def runs(self) -> st.SearchStrategy[Run]:
        """The strategy of runs these settings describe."""
        return runs(shapes=self.shapes, max_slices=self.max_slices, templates=self.templates,
                    template_dirs=self.template_dirs)


@attrs.frozen
class ContractReport:
    """What :func:`check_scheduler` checked (returned when every rule holds).

    Attributes:
        checked: Rules checked, in order.
        vacuous: Checked rules that do not apply (a promise the scheduler does not declare).
        skipped: Rules left out.
    """

    checked: tuple[str, ...]
    vacuous: tuple[str, ...]
    skipped: tuple[str, ...]


def _run_given(test: Callable[..., None], cfg: ContractSettings, group: str) -> None:
    base = cfg.hypothesis if cfg.hypothesis is not None else hsettings()
    quiet = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
             HealthCheck.large_base_example]
    # no 'explain' phase: it re-runs the shrunk example many times to annotate lines,
    # while the violation already names the rule, the run and the marking
    s = hsettings(base, max_examples=cfg.examples(group), deadline=None,
                  report_multiple_bugs=False,
                  phases=[p for p in base.phases if p is not Phase.explain],
                  suppress_health_check=[*base.suppress_health_check, *quiet])
    s(test)()


def probe_run(cfg: ContractSettings) -> Run:
    """A small run (two independent slices) of the first template, to read declarations."""
    t = load_template(cfg.templates[0], cfg.template_dirs)
    return Run(run_id="probe", template=t.name, status=t.run.initial,
               slices=(Slice("a", t.slice.initial), Slice("b", t.slice.initial)))


def check_scheduler(
    factory: Any,
    *,
    rules: Iterable[str] | None = None,
    skip: Iterable[str] = (),
    settings: ContractSettings | None = None,
    **options: Any,
) -> ContractReport:
    """Check a scheduler factory against the contract; raise naming the first broken rule.

    Args:
        factory: ``run -> scheduler``, a scheduler class with ``for_run``, or
            ``'module:attr'``.
        rules: Names of the rules to check (default: all of
            :data:`~petri_exec.testing.RULES`, in that order).
        skip: Names of rules to leave out.
        settings: A :class:`ContractSettings` (default: ``ContractSettings()``).
        **options: Fields of :class:`ContractSettings` to override
            (``max_examples=200``, ``shapes=("dag",)``, ``linear=True``, …).

    Returns:
        A :class:`ContractReport`.

    Raises:
        ContractViolation: An ``AssertionError`` naming the broken rule, with the minimal
            (hypothesis-shrunk) failing run and marking.
        UsageError: An unknown rule, bad options, or (rule ``determinism``) a factory
            that cannot be imported in a fresh process.
    """
    fields = [f.name for f in attrs.fields(ContractSettings)]
    for key in options:
        if key not in fields:
            close = difflib.get_close_matches(key, fields, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise UsageError(f"check_scheduler() has no option {key!r}; {hint}options are "
                             f"the fields of ContractSettings: {', '.join(fields)}")
    cfg = attrs.evolve(settings or ContractSettings(), **options)
    names = [rule(r).name for r in rules] if rules is not None else [r.name for r in RULES]
    left_out = {rule(r).name for r in skip}
    todo = [r.name for r in RULES if r.name in names and r.name not in left_out]
    fn = resolve_factory(factory)
    if "determinism" in todo and factory_spec(factory) is None:
        raise UsageError(
            f"rule 'determinism' runs the factory {factory!r} in fresh Python processes, so "
            "it must be importable: pass factory='your_module:make_scheduler' (a module-level "
            "callable taking a Run, or a Scheduler class), or skip=('determinism',)")
    marking = [r for r in todo if r in MARKING_RULES]
    if marking:
        _check_marking_rules(fn, cfg, marking)
    drive_rules = [r for r in todo if r in ("parity", "ports_once")]
    if drive_rules:
        _check_drive_rules(fn, cfg, drive_rules)
    if "halt" in todo:
        _check_halt_rule(fn, cfg)
    if "determinism" in todo:
        _check_determinism_rule(fn, factory, cfg)
    vacuous: list[str] = []
    try:
        probe = fn(probe_run(cfg))
        for promise, r in (("complete", "completeness"), ("linear", "at_most_one")):
            override = getattr(cfg, promise)
            if r in todo and not (declared(probe, promise) if override is None else override):
                vacuous.append(r)
    except Exception:
        pass  # the report is best effort: every rule passed
    return ContractReport(tuple(todo), tuple(vacuous), tuple(r.name for r in RULES
                                                            if r.name not in todo))


def _check_marking_rules(fn: Callable[[Run], Any], cfg: ContractSettings,
                         names: Sequence[str]) -> None:
    strategy = cfg.runs()

    @given(run=strategy, data=st.data())
    def contract_walk(run: Run, data: st.DataObject) -> None:
        scheduler = build_scheduler(fn, run, names[0])
        checker = MarkingChecker(scheduler, run, rules=names, complete=cfg.complete,
                                 linear=cfg.linear, template_dirs=cfg.template_dirs)
        checker.check_net()
        m = marking_of(run)
        path: list[str] = []
        while True:
            choices = checker.check(m, path)
            if not choices or checker.at_end(m):
                return
            pick = choices[data.draw(st.integers(0, len(choices) - 1))] if len(choices) > 1 \
                else choices[0]
            m = checker.net.fire(m, pick)
            path.append(pick.name)

    _run_given(contract_walk, cfg, "marking")


def _check_drive_rules(fn: Callable[[Run], Any], cfg: ContractSettings,
                       names: Sequence[str]) -> None:
    strategy = cfg.runs()

    @given(data=st.data())
    def contract_drive(data: st.DataObject) -> None:
        run = data.draw(strategy, label="run")
        behaviour = data.draw(port_behaviours(run, failures=False,
                                              template_dirs=cfg.template_dirs), label="ports")
        parallel = data.draw(st.sampled_from(cfg.max_parallel), label="max_parallel")
        check_drive(fn, run, behaviour, rules=names, template_dirs=cfg.template_dirs,
                    max_parallel=parallel)

    _run_given(contract_drive, cfg, "drive")


def _check_halt_rule(fn: Callable[[Run], Any], cfg: ContractSettings) -> None:
    strategy = cfg.runs()

    @given(data=st.data())
    def contract_halt(data: st.DataObject) -> None:
        run = data.draw(strategy, label="run")
        net = compile_run(run, template=load_template(run.template, cfg.template_dirs))
        stepped = [t.name for t in net.transitions if t.port is not None and not t.manual]
        assume(stepped)
        victim = data.draw(st.sampled_from(stepped), label="failing step")
        failure: str | BaseException = data.draw(
            st.sampled_from(["injected", "raise"]), label="failure")
        if failure == "raise":
            failure = RuntimeError("injected")
        check_halt(fn, run, victim, failure, template_dirs=cfg.template_dirs)

    _run_given(contract_halt, cfg, "halt")


def _check_determinism_rule(fn: Callable[[Run], Any], factory: Any,
                            cfg: ContractSettings) -> None:
    spec = factory_spec(factory)
    assert spec is not None  # checked by check_scheduler
    strategy = cfg.runs()
    with HashSeedWorkers(spec, cfg.hash_seeds, cfg.template_dirs) as workers:

        @given(run=strategy)
        def contract_determinism(run: Run) -> None:
            template = load_template(run.template, cfg.template_dirs)
            check_determinism(fn, run, workers, template)

        _run_given(contract_determinism, cfg, "determinism")


class SchedulerContract:
    """Subclass in a pytest module to get one test per contract rule.

    Set ``factory`` (a callable ``run -> scheduler``, a scheduler class with ``for_run``,
    or ``'module:attr'``); optionally ``settings`` (a :class:`ContractSettings`) and
    ``skip`` (rule names). Rules for promises the scheduler does not declare are
    reported as skipped. The pytest option ``--scheduler-contract-examples N`` (from the
    petri-exec plugin) overrides ``settings.max_examples``.

    Example::

        class TestMyScheduler(SchedulerContract):
            factory = MyScheduler
    """

    factory: ClassVar[Any] = None
    settings: ClassVar[ContractSettings] = ContractSettings()
    skip: ClassVar[tuple[str, ...]] = ()

    def contract_factory(self) -> Any:
        """The factory as written on the class (a function attribute is not bound)."""
        raw = inspect.getattr_static(type(self), "factory", None)
        if isinstance(raw, staticmethod | classmethod):
            raw = raw.__get__(None, type(self))
        if raw is None:
            raise UsageError(f"{type(self).__name__} must set factory = <run -> scheduler>, "
                             "a scheduler class with for_run, or 'module:attr'")
        return raw

    def check_rule(self, name: str, request: Any = None) -> None:
        """Check one rule (skipping the test when it is left out or not declared)."""
        import pytest

        cfg = self.settings
        if request is not None:
            n = request.config.getoption("scheduler_contract_examples", None)
            if n is not None:
                cfg = attrs.evolve(cfg, max_examples=n)
        r = rule(name)
        if name in self.skip:
            pytest.skip(f"rule {name!r} is in {type(self).__name__}.skip")
        factory = self.contract_factory()
        if r.declared_by is not None:
            override = getattr(cfg, r.declared_by)
            sched = resolve_factory(factory)(probe_run(cfg))
            if not (declared(sched, r.declared_by) if override is None else override):
                pytest.skip(f"rule {name!r} applies to schedulers declaring "
                            f"{r.declared_by} = True; {sched!r} does not")
        check_scheduler(factory, rules=[name], settings=cfg)

    def test_net(self, request: Any) -> None:
        """Rule ``net``."""
        self.check_rule("net", request)

    def test_soundness(self, request: Any) -> None:
        """Rule ``soundness``."""
        self.check_rule("soundness", request)

    def test_manual(self, request: Any) -> None:
        """Rule ``manual``."""
        self.check_rule("manual", request)

    def test_purity(self, request: Any) -> None:
        """Rule ``purity``."""
        self.check_rule("purity", request)

    def test_at_most_one(self, request: Any) -> None:
        """Rule ``at_most_one`` (schedulers declaring ``linear = True``)."""
        self.check_rule("at_most_one", request)

    def test_completeness(self, request: Any) -> None:
        """Rule ``completeness`` (schedulers declaring ``complete = True``)."""
        self.check_rule("completeness", request)

    def test_progress(self, request: Any) -> None:
        """Rule ``progress``."""
        self.check_rule("progress", request)

    def test_parity(self, request: Any) -> None:
        """Rule ``parity``."""
        self.check_rule("parity", request)

    def test_ports_once(self, request: Any) -> None:
        """Rule ``ports_once``."""
        self.check_rule("ports_once", request)

    def test_halt(self, request: Any) -> None:
        """Rule ``halt``."""
        self.check_rule("halt", request)

    def test_determinism(self, request: Any) -> None:
        """Rule ``determinism`` (the factory must be importable: see the module docs)."""
        self.check_rule("determinism", request)
