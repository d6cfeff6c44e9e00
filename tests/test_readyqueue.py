"""The ready queue behaves as a set popped smallest first."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from petri_exec.engine.readyqueue import ReadyQueue

OPS = st.lists(st.one_of(st.tuples(st.just("push"), st.integers(0, 63)),
                         st.tuples(st.just("pop"), st.just(0))), max_size=300)


@settings(max_examples=500, deadline=None)
@given(ops=OPS)
def test_ready_queue_is_a_min_set(ops: list[tuple[str, int]]) -> None:
    q, model = ReadyQueue(64), set()
    for op, i in ops:
        if op == "push":
            q.push(i)
            model.add(i)
        else:
            got = q.pop()
            want = min(model) if model else -1
            model.discard(want)
            assert got == want
        assert len(q) == len(model)


def test_forward_pops_scan_each_index_once() -> None:
    q = ReadyQueue(10)
    for i in (7, 3, 9):
        q.push(i)
    assert [q.pop(), q.pop()] == [3, 7]
    q.push(1)  # behind the cursor: still first
    q.push(8)
    assert [q.pop(), q.pop(), q.pop(), q.pop()] == [1, 8, 9, -1]
