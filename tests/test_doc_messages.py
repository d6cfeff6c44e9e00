"""The messages docs/run-json.md and docs/templates.md list are the ones the code gives:
each listed message is produced by some input here, and each input's message is listed."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

import petri_exec as pe
from petri_exec.run.templates import parse_template

ROOT = Path(__file__).resolve().parent.parent


def _shown(page: str, pattern: str) -> set[str]:
    return set(re.findall(pattern, (ROOT / "docs" / page).read_text(), re.M))


def _doc(**fields: object) -> dict[str, object]:
    return {"version": 1, "run_id": "r", "slices": [], **fields}


#: A run file for each message docs/run-json.md shows (its ```text lists of messages).
RUN_FILE_MESSAGES: list[bytes | dict[str, object] | None] = [
    None, b"\xff", b'{\n  "version": 1,}', b'{"version": 1, "x": NaN}',
    b'{"version": 1, "run_id": "r", "slices": [{"id": "a", "id": "b"}]}',
    b'{"version": 1, "run_id": "\\ud800", "slices": []}', b"[]",
    {"run_id": "r", "slices": []}, _doc(version=2), {"version": 1, "slices": []},
    _doc(run_id=3), _doc(run_id=""), _doc(template=3), _doc(template="nets/executor.toml"),
    _doc(template="executer"), _doc(status="creatd"),
    _doc(slices=[{"id": "a", "status": "done"}]), _doc(facts=[]),
    {"version": 1, "run_id": "r"}, _doc(slices={}), _doc(epics={}),
    _doc(slices=[{"id": "a"}, {"id": "b"}, "c"]), _doc(slices=[{"id": "a", "title": 1}]),
    _doc(slices=[{"id": "a", "epic": 1}]), _doc(slices=[{"id": "a"}, {"id": "b",
                                                                      "depends_on": "a"}]),
    _doc(slices=[{"id": "a"}, {"id": "b", "depends_on": [1]}]),
    _doc(slices=[{"id": "a"}, {"id": "b"}, {}]),
    _doc(slices=[{"id": "a"}, {"id": "user interface"}]),
    _doc(slices=[{"id": "api"}, {"id": "api"}]),
    _doc(epics=[{"id": "backend"}, {"id": "backend"}]),
    _doc(slices=[{"id": "api"}, {"id": "ui", "depends_on": ["apj"]}]),
    _doc(slices=[{"id": "api"}, {"id": "ui", "depends_on": ["search"]}]),
    _doc(slices=[{"id": "api"}, {"id": "ui", "depends_on": ["api", "api"]}]),
    _doc(slices=[{"id": "api"}, {"id": "ui", "depends_on": ["ui"]}]),
    _doc(epics=[{"id": "backend"}], slices=[{"id": "a", "epic": "backnd"}]),
    _doc(epics=[{"id": "backend", "depends_on": ["frontend"]}]),
    _doc(epics=[{"id": "backend", "depends_on": ["frontend"]},
                {"id": "frontend", "depends_on": ["backend"]}]),
    _doc(slices=[{"id": "api", "depends_on": ["ui"]}, {"id": "ui", "depends_on": ["api"]}]),
    _doc(slices=[{"id": "api", "status": "started"}]),
    _doc(status="reports_initialized", slices=[
        {"id": "api"}, {"id": "ui", "depends_on": ["api"], "status": "started"}]),
    _doc(status="run_completed", slices=[
        {"id": "api", "status": "completed"}, {"id": "ui", "depends_on": ["api"]}]),
    _doc(stauts="x"), _doc(slices=[{"id": "a"}, {"id": "b", "depends": []}]),
    _doc(epics=[{"id": "e", "title": "x"}]),
]


def test_the_run_file_messages_of_run_json_md_are_the_loaders(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shown = _shown("run-json.md", r"^run\.json: .*$")
    given = set()
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PETRI_EXEC_TEMPLATE_PATH", raising=False)
    for content in RUN_FILE_MESSAGES:
        path = tmp_path / "run.json"
        path.unlink(missing_ok=True)
        if content is not None:
            path.write_bytes(content if isinstance(content, bytes)
                             else json.dumps(content).encode())
        with pytest.raises(pe.RunFileError) as e:
            pe.load_run("run.json")
        message = re.sub(r" in /\S+/nets;", " in /.../nets;", str(e.value))
        message = message.replace(f"{tmp_path.resolve()}/", "")  # the loader's full path
        assert message in shown, message
        given.add(message)
    assert shown == given, shown - given


_BASE: dict[str, Any] = {
    "name": "t",
    "run": {"initial": "a", "frontier": "b", "end": "c",
            "steps": [{"name": "s1", "from": "a", "to": "b"},
                      {"name": "s2", "from": "b", "to": "c"}]},
    "slice": {"initial": "p", "done": "d", "steps": [{"name": "w", "from": "p", "to": "d"}]},
}


def _template(**changes: Any) -> dict[str, Any]:
    """The base template with ``lane__key=value`` changes (``None`` deletes the key)."""
    doc = json.loads(json.dumps(_BASE))
    for path, value in changes.items():
        *parents, key = path.split("__")
        target = doc
        for p in parents:
            target = target[int(p)] if p.isdigit() else target[p]
        if value is None:
            del target[key]
        else:
            target[key] = value
    return doc


#: A template for each message of the table in docs/templates.md ("What is refused").
TEMPLATE_MESSAGES: list[dict[str, Any]] = [
    _template(slice__steps__0__run="x"),
    _template(run__frontier=None),
    _template(slice=None),
    _template(slice__steps=[]),
    _template(run__steps__1__from="a"),
    _template(run__steps__1__to="a"),
    _template(run__steps__1__name="s1"),
    _template(slice__steps__0__name="s1"),
    _template(run__steps__1__handler="shell"),
    _template(run__steps__1__manual="yes"),
    _template(run__steps__1__retries=1.5),
    _template(run__steps__1__retry_backoff_s="x"),
    _template(run__steps__1__timeout_s=0),
    _template(slice__steps__0__name="x", slice__steps__0__manual=True),
    _template(run__end="z"),
    _template(run__frontier="c"),
    _template(slice__done="q"),
]


def test_the_template_messages_of_templates_md_are_the_parsers(tmp_path: Path) -> None:
    shown = _shown("templates.md", r"^\| [^|]+ \| `([^`]+)` \|$")
    given = set()
    for doc in TEMPLATE_MESSAGES:
        with pytest.raises(pe.TemplateError) as e:
            parse_template(doc, source=".../t.toml")
        given.add(str(e.value))
    (tmp_path / "review.toml").write_text(
        'name = "other"\n[run]\ninitial = "a"\nfrontier = "a"\n[[run.steps]]\nname = "s"\n'
        'from = "a"\nto = "b"\n[slice]\ninitial = "p"\ndone = "d"\n[[slice.steps]]\n'
        'name = "w"\nfrom = "p"\nto = "d"\n')
    (tmp_path / "broken.toml").write_text("name = !\n")
    for name in ("review", "broken", "../x"):
        with pytest.raises(pe.TemplateError) as e:
            pe.load_template(name, [tmp_path])
        given.add(str(e.value).replace(str(tmp_path), "..."))
    assert given == shown, (given - shown, shown - given)
