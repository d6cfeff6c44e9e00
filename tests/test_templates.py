"""Net templates: the packaged lanes (contract section 3), refusals with pinned messages, and
lookup through explicit directories, PETRI_EXEC_TEMPLATE_PATH and the package."""

from __future__ import annotations

import copy
import json
import os
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import petri_exec as pe
from petri_exec.run.templates import BUILTIN_HANDLERS, parse_template

MINI = (
    'name = "{name}"\ndescription = "{desc}"\n'
    '[run]\ninitial = "created"\nfrontier = "running"\nend = "done"\n'
    '[[run.steps]]\nname = "start"\nfrom = "created"\nto = "running"\n'
    '[[run.steps]]\nname = "finish"\nfrom = "running"\nto = "done"\n'
    '[slice]\ninitial = "pending"\ndone = "done"\n'
    '[[slice.steps]]\nname = "execute"\nfrom = "pending"\nto = "done"\nport = "runner"\n'
)


def write_template(d: Path, name: str, desc: str = "custom", text: str | None = None) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    p = d / f"{name}.toml"
    p.write_text(text if text is not None else MINI.format(name=name, desc=desc))
    return p


@pytest.fixture(autouse=True)
def _no_env_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PETRI_EXEC_TEMPLATE_PATH", raising=False)


def steps(lane: pe.Lane) -> list[tuple[Any, ...]]:
    return [(s.name, s.source, s.target, s.port, s.handler, s.manual) for s in lane.steps]


# --- the packaged templates ------------------------------------------------------------


def test_executor_template_matches_contract() -> None:
    t = pe.load_template("executor")
    assert t.name == "executor" and t.description
    assert t.run.statuses == (
        "created", "worktree_created", "worktree_populated", "source_policy_selected",
        "source_copied", "reports_initialized", "run_completed", "petri_exported",
        "promotion_prepared", "promoted")
    assert (t.run.initial, t.run.frontier, t.run.end) == (
        "created", "reports_initialized", "promotion_prepared")
    assert steps(t.run) == [
        ("worktree_create", "created", "worktree_created", "workspace", None, False),
        ("populate", "worktree_created", "worktree_populated", "workspace", None, False),
        ("source_policy", "worktree_populated", "source_policy_selected", None, None, False),
        ("source_copy", "source_policy_selected", "source_copied", "workspace", None, False),
        ("report_init", "source_copied", "reports_initialized", None, None, False),
        ("run_complete", "reports_initialized", "run_completed", None, "verify_slices", False),
        ("petri_export", "run_completed", "petri_exported", None, "export_pnml", False),
        ("promotion", "petri_exported", "promotion_prepared", "land", "promote", False),
        ("host_promotion", "promotion_prepared", "promoted", "host_land", None, True),
    ]
    assert t.slice.statuses == (
        "pending", "started", "execution_requested", "agent_result_ingested",
        "test_result_ingested", "completed")
    assert (t.slice.initial, t.slice.end, t.slice.frontier) == ("pending", "completed", None)
    assert steps(t.slice) == [
        ("slice_start", "pending", "started", None, None, False),
        ("slice_execute", "started", "execution_requested", None, None, False),
        ("agent_result", "execution_requested", "agent_result_ingested", "agent_runner", None,
         False),
        ("test_result", "agent_result_ingested", "test_result_ingested", "test_runner", None,
         False),
        ("slice_complete", "test_result_ingested", "completed", None, None, False),
    ]
    assert t.run.position("reports_initialized") == 5
    assert {s.handler for s in t.run.steps} - {None} <= BUILTIN_HANDLERS


def test_minimal_template_matches_contract() -> None:
    t = pe.load_template("minimal")
    assert t.name == "minimal"
    assert t.run.statuses == ("created", "running", "done")
    assert (t.run.initial, t.run.frontier, t.run.end) == ("created", "running", "done")
    assert steps(t.run) == [("start", "created", "running", None, None, False),
                            ("finish", "running", "done", None, None, False)]
    assert t.slice.statuses == ("pending", "done")
    assert (t.slice.initial, t.slice.end) == ("pending", "done")
    assert steps(t.slice) == [("execute", "pending", "done", "runner", None, False)]


def test_packaged_templates_are_data_files() -> None:
    for name in ("executor", "minimal"):
        t = pe.load_template(name)
        assert Path(t.source).name == f"{name}.toml" and Path(t.source).is_file()
        assert pe.load_template(name) == t


# --- refusals ---------------------------------------------------------------------------


def base() -> dict[str, Any]:
    return tomllib.loads(MINI.format(name="t", desc="d"))


def run_step(i: int, **kw: Any) -> Callable[[dict[str, Any]], None]:
    return lambda d: d["run"]["steps"][i].update(kw)


def slice_step(**kw: Any) -> Callable[[dict[str, Any]], None]:
    return lambda d: d["slice"]["steps"][0].update(kw)


LOOP = {"name": "again", "from": "done", "to": "running"}
REFUSALS: dict[str, tuple[Callable[[dict[str, Any]], Any], tuple[str, ...]]] = {
    "unknown_top_key": (lambda d: d.update(extra=1), (
        "x.toml: extra: unknown key; allowed keys are description, name, run, slice",)),
    "unknown_lane_key": (lambda d: d["run"].update(start="created"), (
        "x.toml: run.start: unknown key; allowed keys are end, frontier, initial, steps",)),
    "unknown_slice_lane_key": (lambda d: d["slice"].update(frontier="x"), (
        "x.toml: slice.frontier: unknown key; allowed keys are done, initial, steps",)),
    "unknown_step_key": (run_step(0, prot="x"), (
        "x.toml: run.steps[0].prot: unknown key; allowed keys are from, handler, manual, name, "
        "optional_port, port, retries, retry_backoff_s, timeout_s, to",)),
    "port_and_optional_port": (slice_step(optional_port="other"), (
        "x.toml: slice.steps[0].optional_port: the step also names port 'runner'; keep one of "
        "port (required) and optional_port (called only when supplied)",)),
    "optional_port_not_name": (run_step(0, optional_port="a b"), (
        "run.steps[0].optional_port: expected a name",)),
    "optional_port_with_portless_handler": (run_step(1, handler="verify_slices",
                                                     optional_port="hook"), (
        "x.toml: run.steps[1].optional_port: handler 'verify_slices' never calls a port",)),
    "missing_run": (lambda d: d.pop("run"), (
        "x.toml: [run]: missing table; declare the run lane",)),
    "missing_slice": (lambda d: d.pop("slice"), ("[slice]: missing table",)),
    "missing_name": (lambda d: d.pop("name"), ("x.toml: name: expected a name",)),
    "bad_name": (lambda d: d.update(name="a b"), ("name: expected a name (letters, digits",
                                                   "got 'a b'")),
    "description_type": (lambda d: d.update(description=3), ("description: must be a string",)),
    "empty_steps": (lambda d: d["run"].update(steps=[]), (
        "x.toml: run.steps: must be a non-empty array of tables ([[run.steps]])",)),
    "step_not_table": (lambda d: d["slice"].update(steps=["execute"]), (
        "x.toml: slice.steps[0]: must be a table",)),
    "not_chaining": (run_step(1, **{"from": "created"}), (
        "x.toml: run.steps[1].from: 'created' does not continue the chain at 'running'; lanes "
        "are linear: list steps in order",)),
    "first_not_initial": (slice_step(**{"from": "todo"}), (
        "slice.steps[0].from: 'todo' does not continue the chain at 'pending'",)),
    "loop_back": (lambda d: d["run"]["steps"].append(LOOP), (
        "x.toml: run.steps[2].to: status 'running' already appears in the lane; lanes are "
        "linear chains without loops",)),
    "self_loop": (run_step(0, to="created"), ("run.steps[0].to: status 'created' already",)),
    "unknown_handler": (run_step(0, handler="eval"), (
        "x.toml: run.steps[0].handler: unknown handler 'eval'; built-in handlers are "
        "export_pnml, promote, verify_slices",)),
    "duplicate_step": (run_step(1, name="start"), ("run.steps[1].name: duplicate step 'start'",)),
    "manual_not_bool": (run_step(0, manual="yes"), (
        "run.steps[0].manual: expected true or false, got 'yes'",)),
    "port_not_name": (run_step(0, port=""), ("run.steps[0].port: expected a name",)),
    "frontier_missing": (lambda d: d["run"].pop("frontier"), ("run.frontier: expected a name",)),
    "frontier_equals_end": (lambda d: d["run"].update(frontier="done"), (
        "x.toml: run.frontier: 'done' must come before run.end 'done', so that a step leaves "
        "the frontier once every slice is done",)),
    "frontier_after_end": (lambda d: d["run"].update(frontier="running", end="created"), (
        "run.frontier: 'running' must come before run.end 'created'",)),
    "frontier_unknown": (lambda d: d["run"].update(frontier="runing"), (
        "x.toml: run.frontier: 'runing' is not a status of the run lane (created, running, "
        "done)",)),
    "end_unknown": (lambda d: d["run"].update(end="finished"), (
        "run.end: 'finished' is not a status of the run lane",)),
    "done_unknown": (lambda d: d["slice"].update(done="finished"), (
        "x.toml: slice.done: 'finished' is not a status of the slice lane (pending, done)",)),
    "manual_slice_step": (slice_step(manual=True), (
        "x.toml: slice.steps: step 'execute' is manual; only run steps may be manual gates",)),
    "slice_step_named_like_run_step": (slice_step(name="start"), (
        "x.toml: slice.steps: step name 'start' is also a run step; give slice steps their own "
        "names",)),
}


@pytest.mark.parametrize("mutate,parts", list(REFUSALS.values()), ids=list(REFUSALS))
def test_parse_template_refusals(mutate: Callable[[dict[str, Any]], Any],
                                 parts: tuple[str, ...]) -> None:
    d = base()
    parse_template(copy.deepcopy(d), source="x.toml")  # the base is valid
    mutate(d)
    with pytest.raises(pe.TemplateError) as ei:
        parse_template(d, source="x.toml")
    assert isinstance(ei.value, ValueError) and isinstance(ei.value, pe.PetriExecError)
    msg = str(ei.value)
    assert msg.startswith("x.toml: ") and "\n" not in msg
    for part in parts:
        assert part in msg, f"{part!r} not in {msg!r}"


def test_end_defaults_to_last_status() -> None:
    d = base()
    del d["run"]["end"]
    assert parse_template(d).run.end == "done"


def test_name_with_trailing_newline_refused() -> None:
    d = base()
    d["run"]["steps"][0]["name"] = "start\n"
    with pytest.raises(pe.TemplateError):
        parse_template(d, source="x.toml")


def test_bad_toml_via_dirs_and_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = write_template(tmp_path / "a", "broken", text='name = "broken"\n[run\n')
    for kwargs in ({"dirs": [tmp_path / "a"]}, {}):
        if not kwargs:
            monkeypatch.setenv("PETRI_EXEC_TEMPLATE_PATH", str(tmp_path / "a"))
        with pytest.raises(pe.TemplateError) as ei:
            pe.load_template("broken", **kwargs)
        msg = str(ei.value)
        assert msg.startswith(f"{p.resolve()}: invalid TOML (") and msg.endswith("fix the syntax")
        assert isinstance(ei.value, ValueError)


def test_invalid_template_file_names_the_file(tmp_path: Path) -> None:
    text = MINI.format(name="bad", desc="d").replace('frontier = "running"', 'frontier = "done"')
    p = write_template(tmp_path, "bad", text=text)
    with pytest.raises(pe.TemplateError, match=r"must come before run\.end") as ei:
        pe.load_template("bad", [tmp_path])
    assert str(ei.value).startswith(f"{p.resolve()}: run.frontier: ")


def test_invalid_template_via_run_file(tmp_path: Path) -> None:
    write_template(tmp_path / "nets", "bad", text='name = "bad"\n[run\n')
    run = tmp_path / "run.json"
    run.write_text(json.dumps({"version": 1, "run_id": "r", "template": "bad", "slices": []}))
    before = run.read_bytes()
    with pytest.raises(pe.RunFileError) as ei:
        pe.load_run(run, template_dirs=[tmp_path / "nets"])
    assert ei.value.json_path == "template"
    assert "invalid TOML" in str(ei.value) and str(run) in str(ei.value)
    assert run.read_bytes() == before


# --- lookup -----------------------------------------------------------------------------


def test_unknown_template_lists_known_ones(tmp_path: Path) -> None:
    write_template(tmp_path, "custom")
    with pytest.raises(pe.TemplateError) as ei:
        pe.load_template("nope", [tmp_path, tmp_path / "missing"])
    msg = str(ei.value)
    assert isinstance(ei.value, ValueError)
    assert msg.startswith("no template 'nope' in ")
    assert str(tmp_path) in msg and "missing" not in msg
    assert "known templates: custom, executor, minimal;" in msg
    assert msg.endswith("add its directory with --template-dir DIR (template_dirs=[DIR] in "
                        "Python) or PETRI_EXEC_TEMPLATE_PATH")


@pytest.mark.parametrize("name", ["../executor", "nets/executor", "", "a b", "x\\y"])
def test_template_name_must_be_plain(name: str) -> None:
    with pytest.raises(pe.TemplateError, match="is not a plain name"):
        pe.load_template(name)


def test_lookup_via_dirs_argument(tmp_path: Path) -> None:
    p = write_template(tmp_path, "custom", desc="from dirs")
    t = pe.load_template("custom", [tmp_path])
    assert (t.name, t.description, t.source) == ("custom", "from dirs", str(p.resolve()))
    assert pe.load_template("custom", [str(tmp_path)]) == t
    with pytest.raises(pe.TemplateError):
        pe.load_template("custom")


def test_lookup_via_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_template(tmp_path / "two", "custom", desc="from env")
    monkeypatch.setenv("PETRI_EXEC_TEMPLATE_PATH",
                       os.pathsep.join([str(tmp_path / "one"), "", str(tmp_path / "two")]))
    assert pe.load_template("custom").description == "from env"
    assert pe.load_template("minimal").name == "minimal"  # packaged still found


def test_precedence_dirs_then_env_then_package(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    write_template(tmp_path / "explicit", "executor", desc="explicit")
    write_template(tmp_path / "env", "executor", desc="env")
    packaged = pe.load_template("executor")
    assert pe.load_template("executor", [tmp_path / "explicit"]).description == "explicit"
    monkeypatch.setenv("PETRI_EXEC_TEMPLATE_PATH", str(tmp_path / "env"))
    assert pe.load_template("executor").description == "env"
    assert pe.load_template("executor", [tmp_path / "explicit"]).description == "explicit"
    monkeypatch.delenv("PETRI_EXEC_TEMPLATE_PATH")
    assert pe.load_template("executor") == packaged


def test_run_file_uses_custom_template(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_template(tmp_path / "nets", "custom")
    run = tmp_path / "run.json"
    run.write_text(json.dumps({"version": 1, "run_id": "r", "template": "custom",
                               "status": "running", "slices": [{"id": "a", "status": "done"}]}))
    with pytest.raises(pe.RunFileError, match="known templates: executor, minimal"):
        pe.load_run(run)
    assert pe.load_run(run, template_dirs=[tmp_path / "nets"]).template == "custom"
    monkeypatch.setenv("PETRI_EXEC_TEMPLATE_PATH", str(tmp_path / "nets"))
    assert pe.load_run(run).slices[0].status == "done"


def test_edited_template_is_reloaded(tmp_path: Path) -> None:
    p = write_template(tmp_path, "custom", desc="v1")
    assert pe.load_template("custom", [tmp_path]).description == "v1"
    st = p.stat()
    write_template(tmp_path, "custom", desc="v2")
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert pe.load_template("custom", [tmp_path]).description == "v2"
