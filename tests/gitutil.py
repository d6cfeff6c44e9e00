"""Helpers for tests over real git repositories (not a test module).

Every git test runs with an empty global git configuration (``GIT_CONFIG_GLOBAL`` points at
an empty file, the system configuration is off, ``HOME`` is a temporary directory), so no
developer's ``~/.gitconfig`` changes what happens; commits the tests make themselves pass
their identity explicitly.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
AGENT_SCRIPT = ROOT / "nets" / "examples" / "scripted_agent.py"
#: The scripted stand-in agent as an agent command line.
AGENT = f'"{sys.executable}" "{AGENT_SCRIPT}"'
IDENTITY = ("-c", "user.name=Test", "-c", "user.email=test@example.com")


@pytest.fixture(autouse=True)
def isolated_git(tmp_path_factory: pytest.TempPathFactory,
                 monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """An empty global git configuration and a temporary HOME for the test."""
    home = tmp_path_factory.mktemp("home")
    (home / "gitconfig").write_text("")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / "gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for var in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_AUTHOR_NAME",
                "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"):
        monkeypatch.delenv(var, raising=False)
    yield


def git(repo: Path, *args: str, ok: tuple[int, ...] = (0,)) -> str:
    """Run git in ``repo`` and return its stdout (stripped)."""
    proc = subprocess.run(["git", "-C", str(repo), *IDENTITY, *args], capture_output=True,
                          text=True, check=False)
    assert proc.returncode in ok, f"git {' '.join(args)}: {proc.stderr}"
    return proc.stdout.strip()


def make_repo(path: Path, files: Mapping[str, str] | None = None, *,
              branch: str = "main") -> Path:
    """A repository at ``path`` with one commit holding ``files``."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", branch)
    for name, text in (files or {"README.md": "# project\n"}).items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text)
    git(path, "add", "--all")
    git(path, "commit", "-q", "-m", "initial commit")
    return path


def write_git_run(path: Path, slices: list[dict[str, Any]], run_id: str = "feature",
                  **extra: Any) -> Path:
    """An executor run file."""
    doc = {"version": 1, "run_id": run_id, "template": "executor", **extra, "slices": slices}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2) + "\n")
    return path


def task(*lines: str, verify: str | None = None, title: str | None = None) -> dict[str, Any]:
    """A slice's ``meta`` for the scripted agent (``lines`` are its instructions)."""
    meta: dict[str, Any] = {"prompt": "Do as follows.\n" + "\n".join(lines)}
    if verify is not None:
        meta["verify"] = verify
    return meta


def first_parents(repo: Path, tip: str, since: str) -> list[str]:
    """The commits on ``tip``'s first-parent chain after ``since``, oldest first."""
    out = git(repo, "rev-list", "--first-parent", "--reverse", f"{since}..{tip}")
    return out.split() if out else []


def trailer(repo: Path, commit: str, key: str) -> str:
    """One trailer's value in a commit message."""
    return git(repo, "log", "-1", f"--format=%(trailers:key={key},valueonly)", commit)


def host_files(repo: Path, skip: tuple[str, ...] = ()) -> dict[str, bytes]:
    """Every file of the host checkout (not .git, not petri-exec's own files) by path."""
    out: dict[str, bytes] = {}
    for dirpath, dirnames, filenames in os.walk(repo):
        rel = Path(dirpath).relative_to(repo)
        dirnames[:] = [d for d in dirnames if d != ".git" and not d.endswith(".work")]
        for name in filenames:
            p = rel / name
            if not any(str(p).startswith(s) for s in skip):
                out[str(p)] = (Path(dirpath) / name).read_bytes()
    return out
