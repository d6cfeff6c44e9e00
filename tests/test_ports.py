"""Ports: shapes of return values, async ports, missing ports, bad facts."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import petri_exec as pe


def _run(n: int = 2) -> pe.Run:
    return pe.Run(run_id="p", template="minimal", slices=tuple(
        pe.Slice(f"s{i}", depends_on=(f"s{i - 1}",) if i else ()) for i in range(n)))


@pytest.mark.parametrize(("value", "status", "facts"), [
    (None, "completed", {}),
    ({"a": 1}, "completed", {"a": 1}),
    (pe.StepResult.ok(b=[1, "x"]), "completed", {"b": [1, "x"]}),
    (pe.StepResult.fail("nope", why="x"), "halted", None),
    (42, "halted", None),
    ({1: "x"}, "halted", None),
    ({"x": object()}, "halted", None),
    ({"x": float("nan")}, "halted", None),
])
def test_return_shapes(value: Any, status: str, facts: Any) -> None:
    out = pe.drive(_run(1), {"runner": lambda ctx: value})
    assert out.status == status
    if facts is not None:
        assert out.run.slices[0].facts == facts
    else:
        assert out.step == "execute:s0" and out.reason


def test_wrong_shape_message_names_the_port() -> None:
    out = pe.drive(_run(1), {"runner": lambda ctx: 42})
    assert out.reason is not None
    assert out.reason.startswith("port 'runner' returned int 42; return StepResult.ok(")


def test_async_ports_run() -> None:
    seen: list[str] = []

    async def runner(ctx: pe.StepContext) -> dict[str, str]:
        await asyncio.sleep(0)
        seen.append(ctx.transition)
        return {"async": "yes"}

    out = pe.drive(_run(3), {"runner": runner})
    assert out.status == "completed"
    assert seen == ["execute:s0", "execute:s1", "execute:s2"]
    assert all(s.facts == {"async": "yes"} for s in out.run.slices)


def test_async_ports_inside_a_running_loop() -> None:
    async def runner(ctx: pe.StepContext) -> None:
        await asyncio.sleep(0)

    async def main() -> str:
        return pe.drive(_run(2), {"runner": runner}).status

    assert asyncio.run(main()) == "completed"


def test_async_port_exception_is_a_failure() -> None:
    async def runner(ctx: pe.StepContext) -> None:
        raise ValueError("bad async")

    out = pe.drive(_run(1), {"runner": runner})
    assert out.status == "halted" and out.reason == "ValueError: bad async"


def test_ports_as_object_attributes() -> None:
    class Ports:
        def __init__(self) -> None:
            self.calls = 0

        def runner(self, ctx: pe.StepContext) -> None:
            self.calls += 1

    ports = Ports()
    assert pe.drive(_run(3), ports).status == "completed"
    assert ports.calls == 3


def test_non_callable_attribute_is_a_missing_port() -> None:
    class Ports:
        runner = "not callable"

    out = pe.drive(_run(1), Ports())
    assert out.status == "halted" and out.reason is not None
    assert "port 'runner' is missing for transition 'execute:s0'" in out.reason


def test_step_context_fields() -> None:
    seen: list[pe.StepContext] = []
    run = pe.Run(run_id="ctx", template="minimal", facts={"k": 1}, slices=(
        pe.Slice("a", title="A", meta={"m": 1}), pe.Slice("b", depends_on=("a",))))
    pe.drive(run, {"runner": lambda ctx: seen.append(ctx)})
    a = seen[0]
    assert (a.run_id, a.transition, a.step, a.slice_id, a.attempt, a.port) == (
        "ctx", "execute:a", "execute", "a", 1, "runner")
    assert a.idempotency_key == "ctx/execute:a" and a.run_dir is None
    assert a.slice is not None and a.slice.title == "A" and a.slice.meta == {"m": 1}
    assert a.slice.status == "pending" and a.run_facts == {"k": 1}
    assert a.run_status == "running"
    assert seen[1].slice is not None and seen[1].slice.depends_on == ("a",)
    with pytest.raises(TypeError):
        a.run_facts["k"] = 2  # type: ignore[index]


def test_fail_needs_a_reason() -> None:
    with pytest.raises(ValueError, match="non-empty reason"):
        pe.StepResult.fail("")
