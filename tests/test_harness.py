"""The scheduler contract harness (petri_exec.testing): it catches every broken scheduler
in tests/broken_schedulers.py naming the broken rule, and passes the shipped schedulers."""

from __future__ import annotations

import contextlib
import importlib
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import given, settings

import petri_exec as pe
from petri_exec.testing import (
    RULES,
    SHAPES,
    ContractSettings,
    ContractViolation,
    FakePorts,
    PortBehaviour,
    SchedulerContract,
    check_marking,
    check_scheduler,
    port_behaviours,
    rule,
    runs,
    runs_and_markings,
)

from . import broken_schedulers

ROOT = Path(__file__).resolve().parents[1]
FAST = ContractSettings(max_examples=30, max_slices=6)


@pytest.mark.parametrize(("name", "expected"), sorted(broken_schedulers.BROKEN.items()))
def test_every_broken_scheduler_is_caught_naming_its_rule(name: str, expected: str) -> None:
    with pytest.raises(ContractViolation) as caught:
        check_scheduler(f"tests.broken_schedulers:{name}", settings=FAST)
    violation = caught.value
    assert violation.rule == expected, str(violation)
    message = str(violation)
    assert message.startswith(f"scheduler contract rule {expected!r} is broken by {name}()")
    assert isinstance(violation, AssertionError)
    assert violation.run is not None and "Failing run (minimal" in message
    assert f"docs/testing.md#{expected.replace('_', '-')}" in message
    # and each rule is checkable on its own
    with pytest.raises(ContractViolation) as alone:
        check_scheduler(f"tests.broken_schedulers:{name}", rules=[expected], settings=FAST)
    assert alone.value.rule == expected


def test_at_least_the_issue_mutants_exist() -> None:
    assert len(broken_schedulers.BROKEN) >= 8
    assert set(broken_schedulers.BROKEN.values()) >= {
        "soundness", "completeness", "at_most_one", "purity", "determinism", "manual",
        "progress", "net"}


def test_failing_runs_are_shrunk() -> None:
    with pytest.raises(ContractViolation) as caught:
        check_scheduler(broken_schedulers.IgnoresDependencies, rules=["soundness"], settings=FAST)
    run = caught.value.run
    assert run is not None and run.template == "minimal"
    assert [len(s.depends_on) for s in run.slices] == [0, 1]  # the smallest such run
    assert "lacks a token in slice:s0:done" in str(caught.value)
    assert caught.value.path == ("start",)


@pytest.mark.parametrize("factory", [pe.PetriScheduler, "petri_exec:LinearScheduler"])
def test_the_shipped_schedulers_honour_the_contract(factory: object) -> None:
    report = check_scheduler(factory)  # the default settings
    assert report.checked == tuple(r.name for r in RULES)
    expected_vacuous = ("completeness",) if "Linear" in repr(factory) else ("at_most_one",)
    assert report.vacuous == expected_vacuous


def test_factories_in_every_form() -> None:
    from petri_exec.testing.determinism import factory_spec, resolve_factory

    assert factory_spec(pe.PetriScheduler) == "petri_exec.core.schedulers:PetriScheduler"
    assert factory_spec(pe.LinearScheduler.for_run) == \
        "petri_exec.core.schedulers:LinearScheduler.for_run"
    assert factory_spec(broken_schedulers.SetOrder.for_run) == \
        "tests.broken_schedulers:SetOrder.for_run"
    assert factory_spec(lambda run: run) is None
    run = pe.Run(run_id="f", template="minimal", slices=(pe.Slice("a"),))
    assert factory_spec("linear") == "petri_exec:LinearScheduler"
    for form in (pe.PetriScheduler, pe.PetriScheduler.for_run, "petri_exec:PetriScheduler",
                 "petri_exec.core.schedulers:PetriScheduler.for_run", "petri"):
        assert isinstance(resolve_factory(form)(run), pe.PetriScheduler)
    check_scheduler(pe.PetriScheduler.for_run, rules=["determinism"], max_examples=10)
    with pytest.raises(pe.UsageError, match="is not 'module:attr'"):
        resolve_factory("PetriScheduler")


@pytest.fixture
def priority() -> Iterator[ModuleType]:
    path = str(ROOT / "docs" / "examples")
    sys.path.insert(0, path)
    try:
        yield importlib.import_module("priority_scheduler")
    finally:
        sys.path.remove(path)


def test_example_priority_scheduler_honours_the_contract(priority: ModuleType) -> None:
    report = check_scheduler("priority_scheduler:PriorityScheduler")
    assert report.vacuous == ("completeness",) and "at_most_one" in report.checked


def test_example_priority_scheduler_runs_the_longest_chain_first(priority: ModuleType) -> None:
    run = pe.Run(run_id="p", template="minimal", slices=(
        pe.Slice("short"), pe.Slice("a"), pe.Slice("b", depends_on=("a",)),
        pe.Slice("c", depends_on=("b",)), pe.Slice("other")))
    order: list[str | None] = []
    out = pe.drive(run, {"runner": lambda ctx: order.append(ctx.slice_id)},
                   scheduler=priority.PriorityScheduler.for_run(run))
    assert out.status == "completed"
    assert order == ["a", "b", "short", "c", "other"]  # ties: file order


def test_each_rule_is_documented() -> None:
    doc = (ROOT / "docs" / "testing.md").read_text()
    for r in RULES:
        assert f"### `{r.name}`" in doc, r.name
    assert rule("purity").summary and rule("purity").why
    with pytest.raises(pe.UsageError, match="no scheduler contract rule 'sound'; did you mean "
                                            "'soundness'"):
        rule("sound")


def test_determinism_needs_an_importable_factory() -> None:
    local = lambda run: pe.PetriScheduler.for_run(run)  # noqa: E731
    with pytest.raises(pe.UsageError, match=r"must be importable: pass factory='your_module"):
        check_scheduler(local, settings=FAST)
    check_scheduler(local, skip=["determinism"], max_examples=10)
    with pytest.raises(pe.UsageError, match="cannot be imported"):
        check_scheduler("tests.no_such_module:Nope", settings=FAST)


def test_settings_are_validated_and_the_contract_is_versioned() -> None:
    from petri_exec.testing import CONTRACT_VERSION

    assert CONTRACT_VERSION == 1
    with pytest.raises(pe.UsageError, match=r"ContractSettings\(max_examples=0\): need a "):
        check_scheduler(pe.PetriScheduler, max_examples=0)
    with pytest.raises(pe.UsageError, match=r"hash_seeds=\(\)"):
        ContractSettings(hash_seeds=())
    with pytest.raises(pe.UsageError, match="no option 'max_exampels'; did you mean "
                                            "'max_examples'"):
        check_scheduler(pe.PetriScheduler, max_exampels=3)


def test_declarations_can_be_overridden() -> None:
    # (tests/test_properties.py checks Petri and Linear agree on linear runs this way)
    with pytest.raises(ContractViolation) as caught:
        check_scheduler(pe.PetriScheduler, shapes=("wide",), linear=True,
                        rules=["at_most_one"], max_examples=40)
    assert caught.value.rule == "at_most_one"


def test_check_marking_for_your_own_property_tests() -> None:
    @settings(max_examples=30, deadline=None, database=None)
    @given(runs_and_markings(shapes=("dag",), max_slices=5))
    def prop(case: tuple[pe.Run, pe.Marking]) -> None:
        run, m = case
        choices = check_marking(pe.PetriScheduler.for_run(run), run, m)
        assert {t.name for t in choices} == {t.name for t in pe.PetriScheduler.for_run(
            run).ready(m)}

    prop()
    run = pe.Run(run_id="x", template="minimal", slices=(pe.Slice("a"),))
    with pytest.raises(ContractViolation, match="rule 'manual'"):
        check_marking(broken_schedulers.ReturnsManual.for_run(
            pe.Run(run_id="x", slices=())), pe.Run(run_id="x", slices=()),
            {"run:promotion_prepared": 1})
    assert check_marking(pe.LinearScheduler.for_run(run), run, pe.marking_of(run)) == [
        pe.compile_run(run).transition("start")]


def test_no_io_detection_allows_imports_and_catches_writes(tmp_path: Path) -> None:
    from petri_exec.testing._noio import ForbiddenIO, forbid_io

    with forbid_io() as seen:
        importlib.import_module("colorsys")  # a lazy import reads .py files: allowed
        with pytest.raises(ForbiddenIO):
            (tmp_path / "x").write_text("no")
        with contextlib.suppress(ForbiddenIO):
            subprocess.run(["true"], check=False)
    assert len(seen) == 2 and "open(" in seen[0] and "subprocess.Popen" in seen[1]
    (tmp_path / "y").write_text("outside the block: fine")


class TestLinearSchedulerContract(SchedulerContract):
    """The base class, as a user would subclass it (one test per rule)."""

    factory = pe.LinearScheduler


def test_strategies_draw_every_shape_and_valid_runs() -> None:
    seen: set[tuple[str, bool]] = set()

    @settings(max_examples=80, deadline=None, database=None, derandomize=True)
    @given(runs(min_slices=2, max_slices=6))
    def prop(run: pe.Run) -> None:
        pe.validate_run(run)
        assert 2 <= len(run.slices) <= 6
        seen.add((run.template, bool(run.epics)))

    prop()
    assert {t for t, _ in seen} == {"minimal", "executor"}
    assert any(e for _, e in seen)
    assert SHAPES == ("wide", "linear", "forest", "dag", "epics")
    with pytest.raises(pe.UsageError, match="unknown or no shape"):
        runs(shapes=("tree",))


def test_port_behaviours_and_fake_ports() -> None:
    run = pe.Run(run_id="r", slices=(pe.Slice("a"), pe.Slice("b")))

    @settings(max_examples=30, deadline=None, database=None)
    @given(port_behaviours(run, latency=True))
    def prop(b: PortBehaviour) -> None:
        out = pe.drive(run, b.ports())
        failing = dict(b.fail)
        if failing:
            assert out.status == "halted"
        elif any(v == "failed" for _, v in b.verdicts):
            assert (out.status, out.reason) == ("halted", "verification_failed")
        else:
            assert out.status == "completed"

    prop()
    ports = FakePorts(latency={"agent_runner": 0.001}, default_verdict="failed",
                      fail={"land": pe.StepResult.fail("nope")}, asynchronous=True)
    out = pe.drive(run, ports)
    assert (out.status, out.reason) == ("halted", "verification_failed")
    assert ports.call_counts()["agent_result:a"] == 1
    assert ports.latency_of("agent_result:a", "agent_runner") == 0.001
    ports.reset()
    assert ports.calls == []
    with pytest.raises(ValueError, match="latency -1"):
        FakePorts(latency=-1)


def _ten_lines() -> str:
    """The first Python block of docs/testing.md, pointed at the shipped example."""
    doc = (ROOT / "docs" / "testing.md").read_text()
    block = doc.split("```python\n", 1)[1].split("```", 1)[0]
    assert len(block.strip().splitlines()) <= 12, block
    return (block.replace("my_project.scheduling", "priority_scheduler")
            .replace("FairShareScheduler", "PriorityScheduler"))


def test_ten_lines_from_the_docs_and_the_pytest_plugin(tmp_path: Path) -> None:
    (tmp_path / "test_user.py").write_text(_ten_lines() + textwrap.dedent("""

        import petri_exec as pe


        class TestBroken(SchedulerContract):
            factory = "tests.broken_schedulers:TwoWhenLinear"


        def test_fixtures(fake_ports, run_file, scheduler_contract):
            path = run_file(pe.Run(run_id="u", template="minimal"))
            assert pe.drive(path, fake_ports).status == "completed"
            scheduler_contract(pe.PetriScheduler, rules=["soundness"])
    """))
    paths = [str(ROOT), str(ROOT / "docs" / "examples"), *sys.path]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                        "--scheduler-contract-examples", "8", "-rfs", "test_user.py"],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
                       check=False)
    out = r.stdout
    # 11 rule tests for each class (completeness is vacuous for both: they declare linear),
    # the one-call test of the docs, and the fixtures test
    assert "1 failed, 21 passed, 2 skipped" in out, out + r.stderr
    assert "FAILED test_user.py::TestBroken::test_at_most_one" in out
    assert "rule 'completeness' applies to schedulers declaring complete = True" in out
