"""Docs that cannot drift: every example in README.md and docs/*.md runs here.

The conventions (docs/testing.md, "Examples that run"): each page runs in a fresh directory
that starts as a copy of the checkout's ``nets/`` and ``tests/nets/``. In page order, a
```python block runs in the page's one Python session (and a ```text block right after it
is its exact output); a ```console block runs its ``$ command`` lines in bash, each
followed by its exact output; a ```sh block runs in bash and must exit 0.
``<!-- file: PATH -->`` before a block writes the block to PATH instead of running it;
``<!-- doc-test: skip REASON -->`` leaves a block out, saying why;
``<!-- doc-test: needs PROGRAM -->`` runs it only where PROGRAM is on PATH;
``<!-- doc-test: after PAGE -->`` starts a page where PAGE ended. In expected output,
``...`` matches any text (a line of its own: any lines), and durations (``0.03s``) and
timestamps match any value.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = ["README.md", *sorted(f"docs/{p.name}" for p in (ROOT / "docs").glob("*.md"))]
RUNNABLE = ("python", "console", "sh")
MARK = "@@doc-test-mark@@"

_FENCE = re.compile(r"^```([\w-]*)\s*$")
_DIRECTIVE = re.compile(r"^<!--\s*(file|doc-test):\s*(.*?)\s*-->\s*$")


@dataclass
class Block:
    """One fenced block: its language, text, first line, directives and shown output."""

    lang: str
    body: str
    line: int
    file: str | None = None
    skip: str | None = None
    output: str | None = None
    needs: tuple[str, ...] = ()


@dataclass
class Page:
    """A page's blocks and the page it continues, if any."""

    name: str
    blocks: list[Block] = field(default_factory=list)
    after: str | None = None


def parse(name: str, text: str) -> Page:
    """Split a Markdown page into its fenced blocks, with their directives."""
    page = Page(name)
    lines = text.splitlines()
    pending: list[tuple[str, str]] = []
    last_close = -2
    i = 0
    while i < len(lines):
        m, d = _FENCE.match(lines[i]), _DIRECTIVE.match(lines[i])
        if d:
            kind, value = d.groups()
            if kind == "doc-test" and value.startswith("after "):
                page.after = value.removeprefix("after ").strip()
            else:
                pending.append((kind, value))
        elif m:
            start = i
            i += 1
            while i < len(lines) and lines[i].rstrip() != "```":
                i += 1
            body = "\n".join(lines[start + 1:i]) + "\n"
            prev = page.blocks[-1] if page.blocks else None
            between = lines[last_close + 1:start]
            if (m.group(1) == "text" and not pending and prev is not None
                    and prev.lang == "python" and prev.output is None and prev.file is None
                    and prev.skip is None and all(not x.strip() for x in between)):
                prev.output = body
            else:
                block = Block(m.group(1), body, start + 1)
                for kind, value in pending:
                    if kind == "file":
                        block.file = value
                    elif value.startswith("skip"):
                        block.skip = value.removeprefix("skip").strip()
                    elif value.startswith("needs "):
                        block.needs = tuple(value.removeprefix("needs ").split())
                    else:
                        raise AssertionError(f"{name}:{i}: unknown directive {value!r}")
                page.blocks.append(block)
            pending = []
            last_close = i
        elif lines[i].strip():
            pending = []
        i += 1
    return page


def normalise(text: str) -> str:
    """Trailing spaces and blank lines off; durations and timestamps made equal."""
    text = re.sub(r"\b\d+\.\d+s\b", "<secs>", text)
    text = re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", "<time>", text)
    return "\n".join(x.rstrip() for x in text.rstrip().splitlines())


def matches(expected: str, actual: str) -> bool:
    """Whether ``actual`` is ``expected``, where ``...`` matches anything."""
    parts = []
    for line in normalise(expected).split("\n"):
        if line.strip() == "...":
            parts.append(r"(?:[^\n]*(?:\n|\Z))*?")
        else:
            parts.append(r"[^\n]*?".join(map(re.escape, line.split("..."))) + r"(?:\n|\Z)")
    return re.fullmatch("".join(parts), normalise(actual) + "\n") is not None \
        or re.fullmatch("".join(parts), normalise(actual)) is not None


def environment() -> dict[str, str]:
    """The environment of the examples: this checkout's petri-exec first on PATH."""
    env = {k: v for k, v in os.environ.items() if k != "PETRI_EXEC_TEMPLATE_PATH"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update(NO_COLOR="1", COLUMNS="100", PYTHONHASHSEED="0")
    return env


class Session:
    """A page's Python session: one interpreter running tests/doc_session.py."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self.proc: subprocess.Popen[str] | None = None

    def run(self, code: str, name: str) -> tuple[str, str | None]:
        if self.proc is None:
            self.proc = subprocess.Popen(
                [sys.executable, str(Path(__file__).with_name("doc_session.py"))],
                cwd=self.cwd, env=environment(), text=True, stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps({"code": code, "name": name}) + "\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline()
        if not answer:
            return "", "the Python session died"
        reply = json.loads(answer)
        return reply["stdout"], reply["error"]

    def close(self) -> None:
        if self.proc is not None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            self.proc.wait(timeout=60)


def console(body: str, cwd: Path) -> tuple[list[tuple[str, str]], list[str]]:
    """Run a console block; its (command, shown output) pairs and what each printed."""
    steps: list[tuple[str, str]] = []
    for line in body.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], ""))
        elif steps and steps[-1][0].endswith("\\") and not steps[-1][1]:
            steps[-1] = (steps[-1][0] + "\n" + line, "")
        elif steps:
            steps[-1] = (steps[-1][0], steps[-1][1] + line + "\n")
    script = "exec 2>&1\n" + "".join(
        f"{command}\n__rc=$?; printf '\\n%s\\n' '{MARK}'; (exit $__rc)\n"
        for command, _ in steps)
    r = subprocess.run(["bash", "-c", script], cwd=cwd, env=environment(), text=True,
                       capture_output=True, timeout=600, check=False)
    return steps, r.stdout.split(f"\n{MARK}\n")


def run_page(page: Page, cwd: Path) -> list[str]:
    """Run every example of ``page`` in ``cwd``; one message per example that failed."""
    failures: list[str] = []
    session = Session(cwd)
    try:
        for b in page.blocks:
            where = f"{page.name}:{b.line} ```{b.lang}"
            if b.file is not None:
                target = (cwd / b.file).resolve()
                assert target.is_relative_to(cwd.resolve()), f"{where}: {b.file} is outside"
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(b.body)
            elif b.skip is not None or b.lang not in RUNNABLE:
                continue
            elif not all(shutil.which(p, path=environment()["PATH"]) for p in b.needs):
                continue  # e.g. the system Graphviz: .ci/run installs it
            elif b.lang == "python":
                out, error = session.run(b.body, where)
                if error is not None:
                    failures.append(f"{where} raised:\n{error}")
                elif b.output is not None and not matches(b.output, out):
                    failures.append(f"{where} printed:\n{out}\n--- the page shows:\n{b.output}")
            elif b.lang == "console":
                steps, outs = console(b.body, cwd)
                for k, (command, shown) in enumerate(steps):
                    got = outs[k] if k < len(outs) else "(not run: the shell stopped)"
                    if not matches(shown, got):
                        failures.append(f"{where} $ {command}\nprinted:\n{got}\n--- the page "
                                        f"shows:\n{shown}")
            else:
                r = subprocess.run(["bash", "-e", "-c", b.body], cwd=cwd, env=environment(),
                                   text=True, capture_output=True, timeout=120, check=False)
                if r.returncode != 0:
                    failures.append(f"{where} exited with {r.returncode}:\n{r.stdout}{r.stderr}")
    finally:
        session.close()
    return failures


def load(name: str) -> Page:
    return parse(name, (ROOT / name).read_text())


def prepare(tmp_path: Path) -> Path:
    cwd = tmp_path / "page"
    shutil.copytree(ROOT / "nets", cwd / "nets")
    shutil.copytree(ROOT / "tests" / "nets", cwd / "tests" / "nets")  # nets of other tools
    return cwd


@pytest.mark.parametrize("name", PAGES)
def test_the_examples_of_a_page_run_and_print_what_it_shows(name: str, tmp_path: Path) -> None:
    page = load(name)
    cwd = prepare(tmp_path)
    failures = []
    if page.after is not None:
        failures += [f"(in {page.after}, run first) {f}" for f in run_page(load(page.after),
                                                                          cwd)]
    failures += run_page(page, cwd)
    assert not failures, "\n\n".join(failures)


def test_every_example_runs_or_says_why_not() -> None:
    run = skipped = 0
    for name in PAGES:
        page = load(name)
        assert page.after is None or page.after in PAGES, (name, page.after)
        for b in page.blocks:
            if b.skip is not None:
                assert b.skip, f"{name}:{b.line}: say why the example is skipped"
                skipped += 1
            elif b.lang in RUNNABLE or b.file is not None:
                run += 1
    assert run >= 70 and skipped <= 16, (run, skipped)


def test_the_collector_fails_on_a_wrong_output(tmp_path: Path) -> None:
    page = parse("fake.md", """
<!-- file: data/x.txt -->
```text
hello
```

```python
print(open("data/x.txt").read().strip(), 1 + 1)
```

```text
hello 3
```

```console
$ echo took 0.25s; cat data/x.txt
took 9.99s
hello
$ echo one; echo two; echo three
one
...
$ false
$ echo $?
0
```

<!-- doc-test: skip (not a real command) -->
```sh
nonesuch-command
```

```sh
exit 4
```
""")
    failures = run_page(page, prepare(tmp_path))
    assert [f.split("\n")[0] for f in failures] == [
        "fake.md:7 ```python printed:", "fake.md:15 ```console $ echo $?",
        "fake.md:32 ```sh exited with 4:"]
    assert matches("a ... c\n...\nz", "a b c\nx\ny\nz") and not matches("a\nb", "a\nc")


def test_the_python_quick_start_runs(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, str(ROOT / "docs" / "examples" / "quickstart.py"),
                        str(tmp_path / "run")], capture_output=True, text=True, check=False,
                       timeout=120, env=environment())
    assert r.returncode == 0, r.stdout + r.stderr
    assert "completed" in r.stdout

