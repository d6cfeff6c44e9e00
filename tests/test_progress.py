"""The drive's progress displays: the status board and the plain lines."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import petri_exec as pe
from petri_exec.testing import FakePorts
from petri_exec.views.progress import BoardProgress, LineProgress, _clip


def test_board_counts_slices_by_status_and_shows_the_failure(
        make_run: Callable[..., Path]) -> None:
    run = make_run([{"id": "a", "depends_on": []}, {"id": "b", "depends_on": ["a"]},
                    {"id": "c", "depends_on": []}])
    loaded = pe.load_run(run)
    stream = io.StringIO()
    board = BoardProgress(loaded, pe.load_template(loaded.template), stream, colour=False,
                          interval_s=0.0)
    out = pe.drive(run, FakePorts(fail={"test_runner": "tests crashed"}), on_event=board)
    board.close()
    assert out.status == "halted"
    last = board.board()
    assert last[0].startswith(f"run test-run  status {out.run_status}  {out.fired} fired")
    assert last[1].startswith("[" + "\u2591" * 30 + "] 0/3 slices completed (0%)")
    assert last[2] == "slices: pending 2  agent_result_ingested 1  completed 0"
    assert "failed: test_result:a: tests crashed" in last
    assert last[-1].endswith("net_halted test_result:a reason=tests crashed")
    screen = stream.getvalue()
    assert screen.count("\x1b[2K") >= len(last) and "\x1b[" in screen


def test_lines_print_one_line_per_event(make_run: Callable[..., Path]) -> None:
    run = make_run([{"id": "a", "depends_on": []}], template="minimal")
    stream = io.StringIO()
    pe.drive(run, FakePorts(), on_event=LineProgress(stream))
    lines = stream.getvalue().splitlines()
    assert len(lines) == len(pe.journal_path(run).read_text().splitlines())
    assert lines[0].startswith("[0] journal_started run ")
    assert lines[1] == "[1] transition_started start" and lines[-1].endswith("net_completed")


def test_clip_keeps_colour_codes_out_of_the_width() -> None:
    assert _clip("\x1b[1mabcdef\x1b[0m", 3) == "\x1b[1mabc\x1b[0m"
    assert _clip("abc", 10) == "abc"
