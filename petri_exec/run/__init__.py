"""Run files and the values they hold: the model (``Run``, ``Slice``, ``Epic``), net
templates (TOML lanes), the rules a run file must follow, strict JSON decoding, the
deterministic writer and the JSON Schema.

Imports: only ``petri_exec.errors`` and ``petri_exec._gc`` (and the standard library, attrs).
Nothing here knows about nets, journals or ports.
"""

from __future__ import annotations

from .checks import check_run, validate_checked, validate_run
from .facts import MAX_FACTS_BYTES, MAX_NESTING, json_problem
from .indentjson import dumps_indented
from .jsonio import decode_run_file, dump_run, run_to_json, write_atomic
from .model import Epic, Run, Slice, dependencies, topological_order
from .runfile import load_checked, parse_checked, parse_run, run_schema, save_run
from .templates import (
    BUILTIN_HANDLERS,
    Lane,
    Step,
    Template,
    load_template,
    parse_template,
    positions,
    template_dirs,
)

__all__ = [
    "BUILTIN_HANDLERS",
    "Epic",
    "Lane",
    "MAX_FACTS_BYTES",
    "MAX_NESTING",
    "Run",
    "Slice",
    "Step",
    "Template",
    "check_run",
    "decode_run_file",
    "dependencies",
    "dump_run",
    "dumps_indented",
    "json_problem",
    "load_checked",
    "load_template",
    "parse_checked",
    "parse_run",
    "parse_template",
    "positions",
    "run_schema",
    "run_to_json",
    "save_run",
    "template_dirs",
    "topological_order",
    "validate_checked",
    "validate_run",
    "write_atomic",
]
