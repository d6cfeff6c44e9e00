"""run.json: every refusal (pinned wording, nothing modified), defaults, deterministic and
atomic saving, a round-trip property, and epic expansion of dependencies."""

from __future__ import annotations

import json
import os
import string
import tempfile
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import petri_exec as pe
from petri_exec.run.model import dependencies
from petri_exec.run.runfile import dump_run, parse_run

EXECUTOR_RUN = (
    "created, worktree_created, worktree_populated, source_policy_selected, source_copied, "
    "reports_initialized, run_completed, petri_exported, promotion_prepared, promoted"
)
EXECUTOR_SLICE = (
    "pending, started, execution_requested, agent_result_ingested, test_result_ingested, "
    "completed"
)
ID_HINT = "use 1-128 letters, digits, '_', '-' or '.'"


def doc(*slices: dict[str, Any], **top: Any) -> dict[str, Any]:
    d: dict[str, Any] = {"version": 1, "run_id": "r"}
    d.update(top)
    d.setdefault("slices", list(slices))
    return d


def refuse(tmp_path: Path, content: Any, json_path: str, *parts: str) -> pe.RunFileError:
    """load_run refuses ``content`` at ``json_path`` with ``parts`` in its message; nothing
    on disk changes."""
    p = tmp_path / "run.json"
    if isinstance(content, bytes):
        p.write_bytes(content)
    else:
        p.write_text(json.dumps(content, indent=2) + "\n", encoding="utf-8")
    before = p.read_bytes()
    with pytest.raises(pe.RunFileError) as ei:
        pe.load_run(p)
    e = ei.value
    assert isinstance(e, ValueError) and isinstance(e, pe.PetriExecError)
    assert e.file == str(p)
    assert e.json_path == json_path
    msg = str(e)
    assert msg.startswith(f"{p}: {json_path}: " if json_path else f"{p}: "), msg
    assert "\n" not in msg
    for part in parts:
        assert part in msg, f"{part!r} not in {msg!r}"
    assert p.read_bytes() == before
    assert os.listdir(tmp_path) == ["run.json"]
    return e


# --- refusals -------------------------------------------------------------------------

RAW_CASES = {
    "invalid_json": (b'{"version": 1,', "invalid JSON at line 1 column", "fix the syntax"),
    "empty_file": (b"", "invalid JSON at line 1 column 1", "fix the syntax"),
    "not_utf8": (b'{"version": 1, "run_id": "r\xff", "slices": []}', "not UTF-8 (byte 27)",
                 "save the file as UTF-8"),
}


@pytest.mark.parametrize("content,parts", [(c[0], c[1:]) for c in RAW_CASES.values()],
                         ids=list(RAW_CASES))
def test_refuses_unparsable_file(tmp_path: Path, content: bytes, parts: tuple[str, ...]) -> None:
    refuse(tmp_path, content, "", *parts)


E = [{"id": "backend"}]  # one epic, for slice.epic cases

CASES: dict[str, tuple[Any, str, tuple[str, ...]]] = {
    # top level
    "top_array": ([], "", ("the document must be a JSON object, got an array",)),
    "missing_version": ({"run_id": "r", "slices": []}, "version", ('missing; add "version": 1',)),
    "missing_run_id": ({"version": 1, "slices": []}, "run_id", ("missing; it is required",)),
    "missing_slices": ({"version": 1, "run_id": "r"}, "slices",
                       ('missing; add "slices": [] (it may be empty)',)),
    "version_2": (doc(version=2), "version", ("unsupported version 2", "only 1 is known")),
    "version_str": (doc(version="1"), "version", ("unsupported version '1'",)),
    "version_bool": (doc(version=True), "version", ("unsupported version true",)),
    "run_id_number": (doc(run_id=7), "run_id", ("expected a non-empty string, got a number",)),
    "run_id_empty": (doc(run_id=""), "run_id", ("expected a non-empty string",)),
    "template_number": (doc(template=3), "template",
                        ("expected a template name (string), got a number",)),
    "status_number": (doc(status=3), "status", ("3 is not a status of the template's run lane",
                                                f"use one of {EXECUTOR_RUN}")),
    "facts_array": (doc(facts=[]), "facts", ("expected a JSON object, got an array",)),
    "meta_string": (doc(meta="x"), "meta", ("expected a JSON object, got a string",)),
    "epics_object": (doc(epics={}), "epics", ("expected an array, got an object",)),
    "slices_object": (doc(slices={}), "slices", ("expected an array, got an object",)),
    "run_key_typo": (doc(slice=[]), "slice", (
        "unknown key in a run; did you mean 'slices'? allowed keys are version, run_id, "
        "template, status, abandoned, identity, facts, meta, epics, slices",
        '(put free-form data under "meta")')),
    "run_key_unknown": (doc(owner="me"), "owner", ("unknown key in a run; allowed keys are",)),
    # slice level
    "slice_number": (doc(1), "slices[0]", ("a slice must be an object, got a number",)),
    "slice_missing_id": (doc({"depends_on": []}), "slices[0].id", ("missing; it is required",)),
    "slice_id_number": (doc({"id": 5}), "slices[0].id",
                        ("expected a non-empty string, got a number",)),
    "slice_id_empty": (doc({"id": ""}), "slices[0].id", ("expected a non-empty string",)),
    "slice_id_space": (doc({"id": "a b"}), "slices[0].id", ("invalid id 'a b'", ID_HINT)),
    "slice_id_colon": (doc({"id": "x:y"}), "slices[0].id", ("invalid id 'x:y'", ID_HINT)),
    "slice_id_129": (doc({"id": "a" * 129}), "slices[0].id", (f"invalid id '{'a' * 40}'",
                                                              ID_HINT)),
    "slice_title_number": (doc({"id": "a", "title": 5}), "slices[0].title",
                           ("expected a string, got a number",)),
    "slice_epic_number": (doc({"id": "a", "epic": 5}), "slices[0].epic",
                          ("expected an epic id (string), got a number",)),
    "depends_on_string": (doc({"id": "a", "depends_on": "b"}), "slices[0].depends_on",
                          ("expected an array of ids, got a string",)),
    "depends_on_number_item": (doc({"id": "a"}, {"id": "b", "depends_on": ["a", 1]}),
                               "slices[1].depends_on[1]",
                               ("expected an id (string), got a number",)),
    "slice_status_number": (doc({"id": "a", "status": 1}), "slices[0].status",
                            ("1 is not a status of the template's slice lane",)),
    "slice_facts_string": (doc({"id": "a", "facts": "x"}), "slices[0].facts",
                           ("expected a JSON object, got a string",)),
    "slice_meta_array": (doc({"id": "a", "meta": []}), "slices[0].meta",
                         ("expected a JSON object, got an array",)),
    "slice_key_typo": (doc({"id": "a", "depend_on": []}), "slices[0].depend_on", (
        "unknown key in a slice; did you mean 'depends_on'? allowed keys are id, title, epic, "
        "depends_on, status, facts, meta", '(put free-form data under "meta")')),
    # epic level
    "epic_string": (doc(epics=["x"]), "epics[0]", ("an epic must be an object, got a string",)),
    "epic_missing_id": (doc(epics=[{"depends_on": []}]), "epics[0].id", ("missing",)),
    "epic_bad_id": (doc(epics=[{"id": "back end"}]), "epics[0].id",
                    ("invalid id 'back end'", ID_HINT)),
    "epic_key_typo": (doc(epics=[{"id": "e", "depend_on": []}]), "epics[0].depend_on",
                      ("unknown key in a", "did you mean 'depends_on'?",
                       "allowed keys are id, depends_on")),
    "epic_deps_string": (doc(epics=[{"id": "e", "depends_on": "f"}]), "epics[0].depends_on",
                         ("expected an array of ids, got a string",)),
    "epic_deps_item": (doc(epics=[{"id": "e", "depends_on": [None]}]), "epics[0].depends_on[0]",
                       ("expected an id (string), got null",)),
    # duplicates
    "dup_slice_id": (doc({"id": "a"}, {"id": "b"}, {"id": "a"}), "slices[2].id",
                     ("duplicate slice id 'a' (also slices[0])",)),
    "dup_epic_id": (doc(epics=[{"id": "e"}, {"id": "e"}]), "epics[1].id",
                    ("duplicate epic id 'e' (also epics[0])",)),
    "dup_dep": (doc({"id": "a"}, {"id": "b", "depends_on": ["a", "a"]}), "slices[1].depends_on[1]",
                ("'a' is listed twice; remove one",)),
    "dup_epic_dep": (doc(epics=[{"id": "e"}, {"id": "f", "depends_on": ["e", "e"]}]),
                     "epics[1].depends_on[1]", ("'e' is listed twice; remove one",)),
    # references
    "unknown_dep_close": (doc({"id": "api"}, {"id": "b"}, {"id": "c"}, {"id": "ui",
                                                                       "depends_on": ["apx"]}),
                          "slices[3].depends_on[0]", ("unknown slice 'apx'; did you mean 'api'?",)),
    "unknown_dep_far": (doc({"id": "api"}, {"id": "ui", "depends_on": ["api", "zzzz"]}),
                        "slices[1].depends_on[1]",
                        ("unknown slice 'zzzz'; declare the slice or remove it",)),
    "self_dep": (doc({"id": "a", "depends_on": ["a"]}), "slices[0].depends_on[0]",
                 ("slice 'a' depends on itself; remove it",)),
    "unknown_epic_on_slice": (doc({"id": "a", "epic": "backnd"}, epics=E), "slices[0].epic",
                              ("unknown epic 'backnd'; did you mean 'backend'?",)),
    "unknown_epic_no_epics": (doc({"id": "a", "epic": "qqq"}), "slices[0].epic",
                              ("unknown epic 'qqq'; declare the epic or remove it",)),
    "unknown_epic_in_epic": (doc(epics=[{"id": "backend"}, {"id": "ui", "depends_on": ["bakend"]}]),
                             "epics[1].depends_on[0]",
                             ("unknown epic 'bakend'; did you mean 'backend'?",)),
    # cycles
    "cycle_2": (doc({"id": "a", "depends_on": ["b"]}, {"id": "b", "depends_on": ["a"]}),
                "slices[0].depends_on",
                ("dependency cycle a -> b -> a; remove one of these dependencies",)),
    "cycle_3": (doc({"id": "a", "depends_on": ["b"]}, {"id": "b", "depends_on": ["c"]},
                    {"id": "c", "depends_on": ["a"]}), "slices[0].depends_on",
                ("dependency cycle a -> b -> c -> a",)),
    "cycle_not_first": (doc({"id": "x"}, {"id": "a", "depends_on": ["x", "b"]},
                            {"id": "b", "depends_on": ["a"]}), "slices[1].depends_on",
                        ("dependency cycle a -> b -> a",)),
    "epic_cycle_2": (doc(epics=[{"id": "x", "depends_on": ["y"]},
                                {"id": "y", "depends_on": ["x"]}]), "epics[0].depends_on",
                     ("epic dependency cycle x -> y -> x; remove one of these dependencies",)),
    "epic_cycle_3": (doc(epics=[{"id": "x", "depends_on": ["y"]}, {"id": "y", "depends_on": ["z"]},
                                {"id": "z", "depends_on": ["x"]}]), "epics[0].depends_on",
                     ("epic dependency cycle x -> y -> z -> x",)),
    "epic_self": (doc(epics=[{"id": "x", "depends_on": ["x"]}]), "epics[0].depends_on",
                  ("epic dependency cycle x -> x",)),
    "cycle_via_epics": (doc({"id": "s0", "epic": "E1"}, {"id": "s1", "epic": "E2",
                                                         "depends_on": ["s0"]},
                            epics=[{"id": "E1", "depends_on": ["E2"]}, {"id": "E2"}]),
                        "slices[0].depends_on", ("dependency cycle s0 -> s1 -> s0",)),
    # statuses and templates
    "run_status_unknown": (doc(status="bogus"), "status", (
        "'bogus' is not a status of the template's run lane; use one of " + EXECUTOR_RUN,)),
    "run_status_typo": (doc(status="create"), "status", ("did you mean 'created'?",)),
    "slice_status_typo": (doc({"id": "a", "status": "complete"}), "slices[0].status", (
        "'complete' is not a status of the template's slice lane; did you mean 'completed'? "
        "use one of " + EXECUTOR_SLICE,)),
    "slice_status_other_template": (doc({"id": "a", "status": "started"}, template="minimal"),
                                    "slices[0].status", ("use one of pending, done",)),
    "unknown_template": (doc(template="nope"), "template", (
        "no template 'nope'", "known templates: executor, minimal",
        "--template-dir DIR (template_dirs=[DIR] in Python) or PETRI_EXEC_TEMPLATE_PATH")),
    "template_path": (doc(template="../etc/x"), "template", ("is not a plain name",)),
    # states
    "started_dep_pending": (doc({"id": "a"}, {"id": "b", "depends_on": ["a"], "status": "started"},
                                status="reports_initialized"), "slices[1].status", (
        "slice 'b' is 'started' but its dependency 'a' is 'pending', not 'completed'; "
        "reset 'b' to 'pending' or complete 'a'",)),
    "started_epic_dep_pending": (doc({"id": "a", "epic": "x"}, {"id": "b", "epic": "y",
                                                                "status": "started"},
                                     epics=[{"id": "x"}, {"id": "y", "depends_on": ["x"]}],
                                     status="reports_initialized"), "slices[1].status",
                                 ("its dependency 'a' is 'pending'",)),
    "started_before_frontier": (doc({"id": "a", "status": "started"}, status="source_copied"),
                                "slices[0].status", (
        "slice 'a' is 'started' but the run is still 'source_copied', before "
        "'reports_initialized' where slices may start; reset the slice to 'pending' or "
        "advance the run",)),
    "run_past_frontier": (doc({"id": "a", "status": "completed"}, {"id": "b", "status": "started"},
                              status="run_completed"), "slices[1].status", (
        "the run is 'run_completed', past 'reports_initialized', but slice 'b' is 'started', "
        "not 'completed'; complete the slice or move the run back",)),
    "minimal_done_slice_pending": (doc({"id": "a"}, template="minimal", status="done"),
                                   "slices[0].status", ("past 'running'", "not 'done'")),
}


@pytest.mark.parametrize("content,json_path,parts", list(CASES.values()), ids=list(CASES))
def test_refuses(tmp_path: Path, content: Any, json_path: str, parts: tuple[str, ...]) -> None:
    refuse(tmp_path, content, json_path, *parts)


def test_parse_run_without_file_names_the_run() -> None:
    with pytest.raises(pe.RunFileError) as ei:
        parse_run(doc({"id": "a", "depends_on": ["a"]}))
    assert ei.value.file is None
    assert str(ei.value).startswith("<run>: slices[0].depends_on[0]: ")


# --- regressions: strict JSON, full-match ids, messages ---------------------------------


@pytest.mark.parametrize("content,json_path,part", [
    pytest.param(doc({"id": "api\n"}), "slices[0].id", "invalid id", id="id_trailing_newline"),
    pytest.param(b'{"version": 1, "run_id": "r", "facts": {"x": NaN}, "slices": []}', "",
                 "JSON", id="nan"),
    pytest.param(b'{"version": 1, "run_id": "r", "slices": [{"id": "a"}], "slices": []}',
                 "slices", "duplicate", id="duplicate_json_keys"),
    pytest.param(doc(epics=[{"id": "e", "x": 1}]), "epics[0].x", "unknown key in an epic",
                 id="epic_grammar"),
])
def test_strict_json_and_id_refusals(
    tmp_path: Path, content: Any, json_path: str, part: str
) -> None:
    refuse(tmp_path, content, json_path, part)


def test_empty_id_message(tmp_path: Path) -> None:
    e = refuse(tmp_path, doc({"id": ""}), "slices[0].id")
    assert "got a string" not in str(e)


def test_lone_surrogate_is_refused_and_a_pair_round_trips(tmp_path: Path) -> None:
    p = tmp_path / "run.json"
    raw = b'{"version": 1, "run_id": "r", "facts": {"x": "\\ud800"}, "slices": []}'
    p.write_bytes(raw)
    with pytest.raises(pe.RunFileError) as e:
        pe.load_run(p)
    assert str(e.value) == (f"{p}: a string holds a lone surrogate escape (like \\ud800), "
                            "which is not valid Unicode; fix or remove that string")
    assert p.read_bytes() == raw  # nothing modified
    # an escaped surrogate pair is one valid character: it loads and round-trips
    p.write_bytes(b'{"version": 1, "run_id": "r", "facts": {"x": "\\ud83d\\ude00"}, '
                  b'"slices": []}')
    run = pe.load_run(p)
    assert run.facts == {"x": "\U0001f600"}
    pe.save_run(run, p)
    assert pe.load_run(p) == run


# --- accepted documents and defaults -------------------------------------------------


def test_defaults(tmp_path: Path) -> None:
    p = tmp_path / "run.json"
    p.write_text(json.dumps(doc({"id": "a"}, {"id": "b", "depends_on": ["a"]})))
    run = pe.load_run(p)
    assert (run.template, run.status, run.version) == ("executor", "created", 1)
    assert run.facts == {} and run.meta is None and run.epics == ()
    assert [(s.id, s.status, s.depends_on, s.title, s.epic, s.facts, s.meta)
            for s in run.slices] == [("a", "pending", (), None, None, {}, None),
                                     ("b", "pending", ("a",), None, None, {}, None)]


def test_defaults_follow_the_template_lanes(tmp_path: Path) -> None:
    (tmp_path / "nets").mkdir()
    (tmp_path / "nets" / "odd.toml").write_text(
        'name = "odd"\n[run]\ninitial = "new"\nfrontier = "new"\nend = "old"\n'
        '[[run.steps]]\nname = "age"\nfrom = "new"\nto = "old"\n'
        '[slice]\ninitial = "todo"\ndone = "ok"\n'
        '[[slice.steps]]\nname = "do"\nfrom = "todo"\nto = "ok"\n')
    p = tmp_path / "run.json"
    p.write_text(json.dumps(doc({"id": "a"}, template="odd")))
    run = pe.load_run(p, template_dirs=[tmp_path / "nets"])
    assert (run.template, run.status, run.slices[0].status) == ("odd", "new", "todo")


def test_contract_example_meta_and_facts(tmp_path: Path) -> None:
    meta = {"cmd": ["make", "-j", 4], "nested": {"z": None, "a": [1.5, True]}}
    d = doc({"id": "api", "title": "Cart API", "epic": "backend", "depends_on": [],
             "status": "pending", "facts": {"k": {"v": [1, 2]}}, "meta": meta},
            {"id": "ui", "depends_on": ["api"]},
            run_id="checkout-redesign", template="executor", status="created",
            facts={"b": 1, "a": "x"}, meta={"owner": "me"}, epics=[{"id": "backend",
                                                                    "depends_on": []}])
    p = tmp_path / "run.json"
    p.write_text(json.dumps(d))
    run = pe.load_run(p)
    assert run.meta == {"owner": "me"} and run.facts == {"b": 1, "a": "x"}
    assert run.slices[0].meta == meta and run.slices[0].facts == {"k": {"v": [1, 2]}}
    assert run.slices[0].title == "Cart API" and run.slices[0].epic == "backend"
    assert run.epics == (pe.Epic("backend", ()),)
    pe.save_run(run, p)
    assert pe.load_run(p) == run


@pytest.mark.parametrize("d", [
    doc({"id": "a" * 128}, {"id": "A-b_c.9", "depends_on": ["a" * 128]}),
    doc({"id": "a", "status": "completed"}, {"id": "b", "depends_on": ["a"], "status": "started"},
        {"id": "c", "status": "agent_result_ingested"}, status="reports_initialized"),
    doc({"id": "a", "status": "completed"}, status="promoted"),
    doc({"id": "a", "epic": "x", "status": "completed"}, {"id": "b", "epic": "y",
                                                          "status": "started"},
        epics=[{"id": "x"}, {"id": "y", "depends_on": ["x"]}], status="reports_initialized"),
    doc(status="run_completed"),
    doc({"id": "a", "status": "done"}, template="minimal", status="done"),
], ids=["long_ids", "at_frontier", "promoted", "epic_done", "empty_past_frontier", "minimal"])
def test_accepts_valid_states(tmp_path: Path, d: dict[str, Any]) -> None:
    p = tmp_path / "run.json"
    p.write_text(json.dumps(d))
    run = pe.load_run(p)
    assert run.status == d.get("status", "created")


# --- saving ---------------------------------------------------------------------------


def sample_run() -> pe.Run:
    return pe.Run(
        run_id="r", status="reports_initialized", facts={"zeta": 1, "alpha": {"y": 2, "x": [{
            "b": 1, "a": 2}]}}, meta={"m2": 0, "m1": 0}, epics=(pe.Epic("e"),),
        slices=(pe.Slice("a", status="completed", epic="e", title="T", facts={"z": 1, "a": 1}),
                pe.Slice("b", depends_on=("a",), meta={"cmd": "true"})))


def test_save_format(tmp_path: Path) -> None:
    p = tmp_path / "run.json"
    pe.save_run(sample_run(), p)
    raw = p.read_bytes()
    assert raw == dump_run(sample_run())
    text = raw.decode("utf-8")
    assert text.endswith("}\n") and not text.endswith("\n\n")
    data = json.loads(text)
    assert text == json.dumps(data, indent=2, ensure_ascii=False) + "\n"  # two-space indent
    assert list(data) == ["version", "run_id", "template", "status", "facts", "meta", "epics",
                          "slices"]
    assert list(data["slices"][0]) == ["id", "title", "epic", "depends_on", "status", "facts"]
    assert list(data["slices"][1]) == ["id", "depends_on", "status", "facts", "meta"]
    assert list(data["facts"]) == ["alpha", "zeta"]
    assert list(data["facts"]["alpha"]) == ["x", "y"]
    assert list(data["facts"]["alpha"]["x"][0]) == ["a", "b"]
    assert list(data["meta"]) == ["m1", "m2"]
    assert list(data["slices"][0]["facts"]) == ["a", "z"]
    assert os.listdir(tmp_path) == ["run.json"]


def test_save_is_deterministic_and_a_fixed_point(tmp_path: Path) -> None:
    p, q = tmp_path / "a.json", tmp_path / "b.json"
    pe.save_run(sample_run(), p)
    first = p.read_bytes()
    pe.save_run(sample_run(), p)
    assert p.read_bytes() == first
    pe.save_run(pe.load_run(p), q)
    assert q.read_bytes() == first
    pe.save_run(pe.load_run(q), q)
    assert q.read_bytes() == first
    assert b"time" not in first and b"saved" not in first


def test_equal_states_are_byte_identical() -> None:
    r1 = sample_run()
    r2 = attrs.evolve(r1, facts={"alpha": {"x": [{"a": 2, "b": 1}], "y": 2}, "zeta": 1},
                      meta={"m1": 0, "m2": 0})
    r2 = attrs.evolve(r2, slices=(attrs.evolve(r1.slices[0], facts={"a": 1, "z": 1}),
                                  r1.slices[1]))
    assert r1 == r2 and list(r1.facts) != list(r2.facts)
    assert dump_run(r1) == dump_run(r2)


def test_save_keeps_unicode_readable(tmp_path: Path) -> None:
    run = pe.Run(run_id="r", facts={"note": "café ✓"})
    pe.save_run(run, tmp_path / "run.json")
    assert "café ✓".encode() in (tmp_path / "run.json").read_bytes()
    assert pe.load_run(tmp_path / "run.json") == run


@pytest.mark.parametrize("fail_at", ["replace", "fsync"])
def test_failed_write_keeps_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     fail_at: str) -> None:
    p = tmp_path / "run.json"
    p.write_bytes(b"old content\n")

    def boom(*args: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, fail_at, boom)
    with pytest.raises(OSError, match="No space left"):
        pe.save_run(sample_run(), p)
    monkeypatch.undo()
    assert p.read_bytes() == b"old content\n"
    assert os.listdir(tmp_path) == ["run.json"]


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                    reason="root can write into a read-only directory")
def test_read_only_directory_keeps_old_file(tmp_path: Path) -> None:
    d = tmp_path / "ro"
    d.mkdir()
    p = d / "run.json"
    p.write_bytes(b"old\n")
    d.chmod(0o555)
    try:
        with pytest.raises(OSError):
            pe.save_run(sample_run(), p)
        assert p.read_bytes() == b"old\n" and os.listdir(d) == ["run.json"]
    finally:
        d.chmod(0o755)


def test_file_mode_preserved_and_default_mode(tmp_path: Path) -> None:
    p = tmp_path / "run.json"
    p.write_text("{}")
    p.chmod(0o640)
    pe.save_run(sample_run(), p)
    assert p.stat().st_mode & 0o7777 == 0o640
    umask = os.umask(0o022)
    try:
        pe.save_run(sample_run(), tmp_path / "new.json")
    finally:
        os.umask(umask)
    assert (tmp_path / "new.json").stat().st_mode & 0o7777 == 0o644
    assert sorted(os.listdir(tmp_path)) == ["new.json", "run.json"]


# --- property: dump -> parse -> dump is a fixed point --------------------------------

IDS = st.text(string.ascii_letters + string.digits + "_.-", min_size=1, max_size=10)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8)
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda ch: st.lists(ch, max_size=3) | st.dictionaries(st.text(max_size=6), ch, max_size=3),
    max_leaves=8)
OBJ = st.dictionaries(st.text(max_size=8), JSON, max_size=4)
TEMPLATE = pe.load_template("executor")


@st.composite
def valid_runs(draw: st.DrawFn) -> pe.Run:
    n = draw(st.integers(0, 30))
    sids = draw(st.lists(IDS, min_size=n, max_size=n, unique=True))
    eids = draw(st.lists(IDS, max_size=4, unique=True))
    epics = [pe.Epic(e, draw(st.lists(st.sampled_from(eids[:i]), unique=True)) if i else ())
             for i, e in enumerate(eids)]
    # epics assigned in non-decreasing order: epic deps (to earlier epics) point backwards
    picks = sorted(draw(st.lists(st.integers(0, len(eids) - 1), min_size=n, max_size=n))
                   ) if eids else []
    slices = []
    for i, sid in enumerate(sids):
        deps = draw(st.lists(st.sampled_from(sids[:i]), unique=True, max_size=4)) if i else []
        slices.append(pe.Slice(
            sid, depends_on=deps, epic=eids[picks[i]] if eids and draw(st.booleans()) else None,
            title=draw(st.none() | st.text(max_size=10)), facts=draw(OBJ),
            meta=draw(st.none() | OBJ)))
    run = pe.Run(run_id=draw(IDS), slices=slices, epics=epics, facts=draw(OBJ),
                 meta=draw(st.none() | OBJ))
    rlane, slane = TEMPLATE.run, TEMPLATE.slice
    status = draw(st.sampled_from(rlane.statuses))
    pos, front = rlane.position(status), rlane.position(rlane.frontier or "")
    states: list[str] = []
    for ds in dependencies(run):
        if pos > front or (pos == front and all(states[d] == slane.end for d in ds)):
            states.append(slane.end if pos > front else draw(st.sampled_from(slane.statuses)))
        else:
            states.append(slane.initial)
    return attrs.evolve(run, status=status, slices=[
        attrs.evolve(s, status=st_) for s, st_ in zip(run.slices, states, strict=True)])


@settings(max_examples=60, deadline=None)
@given(valid_runs())
def test_property_round_trip(run: pe.Run) -> None:
    b1 = dump_run(run)
    again = parse_run(json.loads(b1))
    assert dump_run(again) == b1
    assert again == run
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "run.json"
        pe.save_run(run, p)
        assert p.read_bytes() == b1
        assert pe.load_run(p) == run
        assert os.listdir(d) == ["run.json"]


# --- epic expansion ---------------------------------------------------------------------


def test_dependencies_expand_epics() -> None:
    run = parse_run(doc(
        {"id": "a", "epic": "x"}, {"id": "b", "epic": "x"}, {"id": "free"},
        {"id": "c", "epic": "y"}, {"id": "d", "epic": "y", "depends_on": ["free"]},
        {"id": "e", "epic": "z"}, {"id": "f", "depends_on": ["e"]},
        epics=[{"id": "x"}, {"id": "y", "depends_on": ["x"]},
               {"id": "z", "depends_on": ["y", "x"]}]))
    assert dependencies(run) == [(), (), (), (0, 1), (0, 1, 2), (0, 1, 3, 4), (5,)]


def test_dependencies_skip_unknown_ids_and_empty_epics() -> None:
    run = pe.Run("r", slices=[pe.Slice("a", epic="y", depends_on=["ghost"])],
                 epics=[pe.Epic("x"), pe.Epic("y", ["x"])])
    assert dependencies(run) == [()]
