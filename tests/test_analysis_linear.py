"""Every check in ``analysis`` is linear in what it checks, by operation counts (no timing).

Two counters: the Python lines petri_exec executes (``sys.settrace``), and the elements
iterated out of, or searched in, the net's place tuple (a hidden ``set(net.places)`` or
``p in net.places`` per marked place is C work that line counts miss). Each check runs at
size ``n`` and ``2n``; linear means the count at most doubles (plus slack), quadratic would
quadruple it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

import petri_exec as pe
from petri_exec.analysis import behaviour, explore, structure

PACKAGE = str(Path(pe.__file__).resolve().parent)


class CountingTuple(tuple[str, ...]):
    """A tuple that counts the elements iterated out of it and the ones ``in`` scans."""

    touched = 0

    def __iter__(self) -> Iterator[str]:
        for x in super().__iter__():
            CountingTuple.touched += 1
            yield x

    def __contains__(self, item: object) -> bool:
        CountingTuple.touched += len(self)
        return super().__contains__(item)


def operations(fn: Callable[[], Any]) -> int:
    """Lines of petri_exec executed by ``fn()`` plus place-tuple elements it touched."""
    lines = [0]

    def local(frame: FrameType, event: str, _arg: Any) -> Any:
        if event == "line":
            lines[0] += 1
        return local

    def tracer(frame: FrameType, event: str, _arg: Any) -> Any:
        return local if frame.f_code.co_filename.startswith(PACKAGE) else None

    CountingTuple.touched = 0
    sys.settrace(tracer)
    try:
        fn()
    finally:
        sys.settrace(None)
    return lines[0] + CountingTuple.touched


def chain(n: int, tokens: int = 1) -> tuple[pe.Net, pe.Marking]:
    """n places in a line joined by n - 1 transitions; the place tuple counts its use."""
    places = [f"p{i}" for i in range(n)]
    ts = [pe.Transition(f"t{i}", f"t{i}") for i in range(n - 1)]
    net = pe.Net(places, ts, [[(i, 1)] for i in range(n - 1)],
                 [[(i + 1, 1)] for i in range(n - 1)], [[] for _ in ts], name="chain")
    net.places = CountingTuple(net.places)  # type: ignore[misc]
    return net, pe.Marking({"p0": tokens})


def test_the_counter_sees_hidden_scans() -> None:
    net, _m = chain(100)
    assert operations(lambda: set(net.places)) == 100
    assert operations(lambda: "p99" in net.places) == 100


def linear(check: Callable[[int], Any], n: int) -> tuple[int, int]:
    small, large = operations(lambda: check(n)), operations(lambda: check(2 * n))
    assert large <= 2.3 * small, (small, large)
    return small, large


def test_initial_marking_check_is_linear_in_places_and_marking() -> None:
    def check(n: int) -> None:
        net, _m = chain(n)
        pe.analyze(net, {p: 1 for p in net.places}, behavioural=False)

    small, _large = linear(check, 2000)
    assert small < 200 * 2000


@pytest.mark.parametrize("name", ["structure", "why", "explore", "behaviour", "analyze",
                                  "analyze_run"])
def test_each_check_is_linear(name: str) -> None:
    def check(n: int) -> None:
        net, m = chain(n)
        if name == "structure":
            structure(net, m)
        elif name == "why":
            pe.why(net, m, f"t{n - 2}")
        elif name == "explore":
            ss = explore(net, m)
            assert ss.states == n
        elif name == "behaviour":
            b = behaviour(net, m)
            assert b.properties is not None and b.properties.live is False
        elif name == "analyze":
            pe.analyze(net, m, final={f"p{n - 1}": 1})
        else:
            run = pe.Run(run_id="r", template="minimal", slices=tuple(
                pe.Slice(f"s{i}", depends_on=(f"s{i - 1}",) if i else ()) for i in range(n)))
            pe.analyze_run(run)

    linear(check, 300)


def test_state_space_work_is_linear_in_states_firings_and_vectors() -> None:
    # k tokens on a ring of 8 places: the state count grows, the vector does not
    def work(k: int) -> tuple[int, int]:
        places = [f"r{i}" for i in range(8)]
        ts = [pe.Transition(f"s{i}", f"s{i}") for i in range(8)]
        net = pe.Net(places, ts, [[(i, 1)] for i in range(8)],
                     [[((i + 1) % 8, 1)] for i in range(8)], [[] for _ in ts])
        ss = explore(net, pe.Marking({"r0": k}), max_states=10**6)
        return ss.work, ss.states + ss.edges

    for k in (4, 8, 12):
        w, size = work(k)
        assert w <= 20 * size, (k, w, size)
