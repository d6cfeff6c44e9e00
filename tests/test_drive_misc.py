"""drive(): paused, deadlocked, custom schedulers, bad arguments; the public exports."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import attrs
import pytest

import petri_exec as pe
from petri_exec.testing import FakePorts


def _run(n: int = 3) -> pe.Run:
    return pe.Run(run_id="m", template="minimal", slices=tuple(
        pe.Slice(f"s{i}", depends_on=(f"s{i - 1}",) if i else ()) for i in range(n)))


def test_paused_then_resumed(tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    pe.save_run(_run(), path)
    out = pe.drive(path, FakePorts(), max_firings=2)
    assert (out.status, out.fired, out.reason) == ("paused", 2, "max_firings=2 reached")
    rest = pe.drive(path, FakePorts())
    assert rest.status == "completed" and rest.fired == 3
    events, _ = pe.read_journal(pe.journal_path(path))
    assert [e.kind for e in events].count("net_paused") == 1
    assert [e.seq for e in events] == list(range(len(events)))


class Stalling(pe.Scheduler):
    """Returns nothing once the run lane has started: drive() must report a deadlock."""

    def __init__(self, net: pe.Net) -> None:
        self.net = net

    def ready(self, marking: Mapping[str, int]) -> frozenset[pe.Transition]:
        if marking.get("run:created"):
            return frozenset({self.net.transition("start")})
        return frozenset()


def test_deadlock_names_blocked_transitions_and_missing_tokens() -> None:
    run = _run()
    out = pe.drive(run, FakePorts(), scheduler=Stalling(pe.compile_run(run)))
    assert out.status == "deadlocked" and out.run_status == "running"
    assert out.reason is not None
    assert out.reason.startswith("nothing is enabled before run status 'done': ")
    assert "execute:s0 (enabled but not returned by the scheduler)" in out.reason
    assert "execute:s1 waits for slice:s0:done" in out.reason


class Reversed(pe.Scheduler):
    """A custom scheduler through the ready()-only protocol: prefers later slices."""

    def __init__(self, net: pe.Net) -> None:
        self.net = net

    def ready(self, marking: Mapping[str, int]) -> frozenset[pe.Transition]:
        enabled = [t for t in self.net.enabled(marking) if not t.manual]
        return frozenset(sorted(enabled, key=lambda t: -t.index)[:1])


def test_custom_scheduler_reaches_the_same_run() -> None:
    run = pe.Run(run_id="w", template="minimal",
                 slices=tuple(pe.Slice(f"s{i}") for i in range(4)))
    custom = pe.drive(run, FakePorts(), scheduler=Reversed(pe.compile_run(run)))
    linear = pe.drive(run, FakePorts(), scheduler="linear")
    assert custom.status == "completed"
    assert pe.dump_run(custom.run) == pe.dump_run(linear.run)


def test_scheduler_that_returns_disabled_transitions_is_not_obeyed() -> None:
    class Liar(pe.Scheduler):
        def __init__(self, net: pe.Net) -> None:
            self.net = net

        def ready(self, marking: Mapping[str, int]) -> frozenset[pe.Transition]:
            return frozenset(self.net.transitions)  # everything, enabled or not

    run = _run()
    seen: list[pe.Event] = []
    out = pe.drive(run, FakePorts(), scheduler=Liar(pe.compile_run(run)), on_event=seen.append)
    assert out.status == "completed"
    fired = [e.transition for e in seen if e.kind == "transition_fired"]
    assert fired == ["start", "execute:s0", "execute:s1", "execute:s2", "finish"]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"scheduler": "fifo"}, "unknown scheduler 'fifo'"),
    ({"scheduler": object()}, "has no ready()/net"),
    ({"max_parallel": 0}, "max_parallel=0"),
    ({"max_firings": -1}, "max_firings=-1"),
])
def test_bad_arguments(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(pe.UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        pe.drive(_run(), FakePorts(), **kwargs)  # type: ignore[arg-type]


def test_invalid_in_memory_run_is_refused() -> None:
    bad = pe.Run(run_id="x", template="minimal", slices=(pe.Slice("a", depends_on=("b",)),))
    with pytest.raises(pe.RunFileError, match=r"<run>: slices\[0\].depends_on\[0\]: "):
        pe.drive(bad, FakePorts())
    with pytest.raises(pe.RunFileError, match="no template 'nope'"):
        pe.drive(pe.Run(run_id="x", template="nope"), FakePorts())


def test_public_exports() -> None:
    assert sorted(pe.__all__) == sorted(set(pe.__all__))
    for name in pe.__all__:
        assert hasattr(pe, name), name
    for name in ("load_run", "save_run", "compile_run", "marking_of", "PetriScheduler",
                 "LinearScheduler", "drive", "fire", "StepContext", "StepResult",
                 "PetriExecError", "RunFileError", "TemplateError", "NotEnabledError",
                 "RunLockedError", "Run", "Net", "Marking", "Transition", "to_snakes",
                 "DriveOutcome", "Event", "RunNet", "RunState", "RunMarking"):
        assert name in pe.__all__, name
    import petri_exec.testing as testing

    assert {"BUILTIN_PORTS", "Call", "FakePorts"} <= set(testing.__all__)
    for name in testing.__all__:
        assert hasattr(testing, name), name


def test_error_tree() -> None:
    leaves = [pe.RunFileError, pe.TemplateError, pe.NotEnabledError, pe.RunLockedError,
              pe.JournalError, pe.UnknownTransitionError, pe.UsageError, pe.PortError,
              pe.GitRepoError, pe.GitCommandError]
    for leaf in leaves:
        assert issubclass(leaf, pe.PetriExecError)
        assert any(b.__module__ == "builtins" and b is not object for b in leaf.__mro__[2:])
    assert issubclass(pe.RunFileError, ValueError)
    assert issubclass(pe.NotEnabledError, RuntimeError)
    assert issubclass(pe.RunLockedError, OSError)
    assert issubclass(pe.UnknownTransitionError, LookupError)


def test_marking_is_immutable_mapping() -> None:
    m = pe.Marking({"a": 1, "b": 0})
    assert dict(m) == {"a": 1} and m.get("b", 0) == 0
    assert m == {"a": 1, "c": 0}
    assert hash(m) == hash(pe.Marking({"a": 1}))
    with pytest.raises(ValueError, match="non-negative integer"):
        pe.Marking({"a": -1})


def test_each_step_sees_the_slice_as_the_steps_before_left_it(tmp_path: Path) -> None:
    """Slice values are built lazily: contexts, checkpoints and the outcome still see
    every earlier step's status and facts."""
    seen: list[tuple[str, str, dict[str, object]]] = []

    def port(name: str) -> Callable[[pe.StepContext], dict[str, object]]:
        def call(ctx: pe.StepContext) -> dict[str, object]:
            assert ctx.slice is not None
            seen.append((ctx.transition, ctx.slice.status, dict(ctx.slice.facts)))
            return {name: ctx.attempt}
        return call

    run = pe.Run("lazy", (pe.Slice("a", "pending", facts={"old": 0}), pe.Slice("b")))
    ports = {"agent_runner": port("agent"), "test_runner": port("test"),
             "workspace": lambda ctx: None, "land": lambda ctx: None}
    path = tmp_path / "run.json"
    pe.save_run(run, path)
    out = pe.drive(path, ports, checkpoint_every=1)
    assert out.status == "completed", out
    tpl = pe.load_template("executor")
    before = {st.name: st.source for st in tpl.slice.steps}
    assert {n for n, _, _ in seen} == {"agent_result:a", "agent_result:b",
                                        "test_result:a", "test_result:b"}
    for name, status, facts in seen:
        assert status == before[name.split(":")[0]]
        if name.startswith("test_result:a"):
            assert facts == {"old": 0, "agent": 1}
    for s in out.run.slices:
        assert s.status == tpl.slice.end
        assert s.facts == ({"old": 0} if s.id == "a" else {}) | {"agent": 1, "test": 1}
    assert pe.load_run(path) == out.run


def test_outcome_run_is_built_once_on_first_access() -> None:
    import copy
    import pickle

    run = pe.Run(run_id="lazy", template="minimal",
                 slices=(pe.Slice("a"), pe.Slice("b", depends_on=("a",))))
    built: list[int] = []
    out = pe.drive(run, {"runner": lambda ctx: None})
    real = out._run
    assert callable(real) and not isinstance(real, pe.Run)  # not built by the drive

    def counting() -> pe.Run:
        built.append(1)
        return real()

    out = attrs.evolve(out, run=counting)
    assert built == []
    first = out.run
    assert out.run is first and built == [1]  # built once, then kept
    assert [s.status for s in first.slices] == ["done", "done"] and first.status == "done"
    again = pe.drive(run, {"runner": lambda ctx: None})
    assert again == out and repr(again) == repr(out)  # equality and repr see the run
    assert "run=Run(run_id='lazy'" in repr(out)
    assert attrs.evolve(again, run=run) != out  # a different run is a different outcome
    for copied in (pickle.loads(pickle.dumps(again)), copy.deepcopy(again)):
        assert copied == out and isinstance(copied._run, pe.Run)
