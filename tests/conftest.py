"""Shared fixtures: run files built in tmp_path."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

# Machine speed is not a property of the code: no per-example deadline and no "too slow"
# health check anywhere (a loaded CI machine stalls threads for whole seconds). A test
# that sets its own settings keeps them.
settings.register_profile(
    "petri-exec", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("petri-exec")

# Mutation runs (python -m tests.mutation): mutmut's first pass records which tests run which
# function, in this process (its own copy of the mode survives this). A subprocess would
# inherit the mode from the environment and try to record too, which fails where it starts
# in another directory (mutmut reads its settings from the working directory): there it
# runs the code unrecorded. Mutants themselves still reach subprocesses.
if os.environ.get("MUTANT_UNDER_TEST") == "stats":
    del os.environ["MUTANT_UNDER_TEST"]


def write_run(path: Path, slices: list[dict[str, Any]], **extra: Any) -> Path:
    """Write a version-1 run file and return its path."""
    doc: dict[str, Any] = {"version": 1, "run_id": extra.pop("run_id", "test-run")}
    doc.update(extra)
    doc["slices"] = slices
    path.write_text(json.dumps(doc, indent=2) + "\n")
    return path


@pytest.fixture
def make_run(tmp_path: Path) -> Callable[..., Path]:
    """``make_run(slices, name="run.json", **top_level_fields)`` -> path of a new run file."""

    def make(slices: list[dict[str, Any]], name: str = "run.json", **extra: Any) -> Path:
        return write_run(tmp_path / name, slices, **extra)

    return make


@pytest.fixture
def two_slices(make_run: Callable[..., Path]) -> Path:
    """The reference two-slice executor run: ui depends on api."""
    return make_run(
        [
            {"id": "api", "title": "Cart API", "depends_on": []},
            {"id": "ui", "title": "Cart UI", "depends_on": ["api"]},
        ],
        run_id="checkout-redesign",
    )


def state_of(path: Path) -> bytes:
    """run.json's content without the ``identity`` its first drive stamps, canonically
    encoded: the run's state, comparable across runs driven separately (each mints its own
    identity) and across formatting (the stamp rewrites a hand-written file canonically)."""
    import attrs

    import petri_exec as pe

    run = pe.parse_run(json.loads(path.read_bytes()))
    return pe.dump_run(attrs.evolve(run, identity=None))


#: CI runs ``.ci/run`` with CI=true, and ``.ci/run`` installs every tool the suite needs
#: (system Graphviz, Chromium): a missing tool there is a failure, not a skip.
IN_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def need(condition: bool, reason: str) -> None:
    """Skip the calling test when ``condition`` is false; in CI, fail it instead."""
    if not condition:
        if IN_CI:
            pytest.fail(f"CI must provide this: {reason}")
        pytest.skip(reason)
