"""The Python examples of docs/interchange.md and docs/analysis.md print what the pages say.

Every ```python block directly followed by a ```text block is run from the repository's
root and its output compared with the text, except blocks that read files the page makes
with shell commands first (run.json, run.pnml, ...): those are run by hand per the page.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BLOCK = re.compile(r"```python\n(.*?)```\s*\n```text\n(.*?)```", re.S)
#: a file the example opens that is not shipped data under tests/
OWN_FILE = re.compile(r"""["'](?!tests/)[\w./-]+\.(?:json|pnml)["']""")


def _examples() -> list[tuple[str, str, str]]:
    out = []
    for page in ("interchange.md", "analysis.md"):
        text = (ROOT / "docs" / page).read_text()
        for k, (code, expected) in enumerate(BLOCK.findall(text)):
            if not OWN_FILE.search(code):
                out.append((f"{page}#{k}", code, expected))
    return out


EXAMPLES = _examples()


def test_the_new_examples_are_among_them() -> None:
    codes = " ".join(code for _n, code, _e in EXAMPLES)
    assert "inductive-7-prom5.pnml" in codes and "Philosophers-PT-000005" in codes
    assert len(EXAMPLES) >= 6


@pytest.mark.parametrize(("name", "code", "expected"), EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_doc_example_prints_what_the_page_says(name: str, code: str, expected: str) -> None:
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout == expected, name
