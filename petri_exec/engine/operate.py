"""Operating a run over days: ``retry`` (clear a slice or a run step) and ``amend`` (a new
plan supersedes the old one).

Both run under the run's lock (refused while a driver holds it), change nothing unless
every rule holds, and record what they did in the journal (``slice_reset``,
``plan_amended``) with the digest of the run.json they write, so the facts they drop from
run.json stay in the journal and readers never see half an operation.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

from ..errors import PortError, RunFileError, UsageError
from ..run.jsonio import decode_run_file, read_regular, run_to_json
from ..run.model import Run, Slice, dependencies
from ..run.runfile import parse_checked
from ..run.templates import Template
from .durable import Durable, load_durable
from .journal import journal_path, read_journal
from .lock import run_lock
from .writer import RunWriter

__all__ = ["amend", "retry"]


def _downstream(run: Run, start: Iterable[int]) -> set[int]:
    """``start`` and every slice that depends on one of them, transitively."""
    deps = dependencies(run)
    users: list[list[int]] = [[] for _ in run.slices]
    for k, ds in enumerate(deps):
        for d in ds:
            users[d].append(k)
    seen = set(start)
    todo = list(seen)
    while todo:
        for u in users[todo.pop()]:
            if u not in seen:
                seen.add(u)
                todo.append(u)
    return seen


def _history(path: Path, steps: set[str]) -> tuple[set[str], dict[str, int]]:
    """From the whole journal: the run-fact keys the run steps ``steps`` recorded, and the
    attempts so far of every transition (so a retried step's attempts go on counting)."""
    events, _ = read_journal(journal_path(path))
    keys: set[str] = set()
    attempts: dict[str, int] = {}
    for e in events:
        if e.kind == "transition_fired" and e.transition in steps and e.facts:
            keys.update(e.facts)
        elif e.kind == "transition_started" and e.transition is not None:
            attempts[e.transition] = max(attempts.get(e.transition, 0), e.attempt or 1)
    return keys, attempts


def retry(
    path: str | os.PathLike[str],
    target: str,
    *,
    only: bool = False,
    ports: Any = None,
    template_dirs: Iterable[str | os.PathLike[str]] = (),
) -> Run:
    """Put a slice (or a run step) back so that the next drive runs it again.

    A slice goes back to its lane's initial status with no facts, and so does every slice
    downstream of it that had started (unless ``only``); the run lane goes back to the
    frontier if it had gone past it, dropping the facts its later steps recorded. A run
    step at or after the frontier goes back the same way; ``run_complete`` also resets the
    slices whose ``facts.verdict`` is ``"failed"`` (why it failed) and their downstream.
    The dropped facts stay in the journal (a ``slice_reset`` event). A ports object with a
    ``reset_slices(run_path, run, slice_ids)`` method (the git ports) is called first, so
    that a retried slice starts from a fresh branch.

    Args:
        path: The run file.
        target: A slice id, or a run step's name (``run_complete``).
        only: Reset only that slice; refused when a slice that depends on it has started.
        ports: The run's ports, for their ``reset_slices`` hook (optional).
        template_dirs: Extra template directories.

    Returns:
        The run as written.

    Raises:
        UsageError: Unknown target, nothing to reset, or a rule would break (the message
            says what to do instead).
        RunLockedError: A driver holds the run.
        RunFileError, JournalError: The run or its journal is invalid.
    """
    with run_lock(path) as lock:
        durable = load_durable(lock.path, template_dirs=template_dirs)
        run, template = durable.run, durable.template
        first = template.slice.initial
        ids = {s.id: k for k, s in enumerate(run.slices)}
        run_steps = {st.name: st for st in template.run.steps}
        if target in ids:
            seeds = {ids[target]}
        elif target in run_steps:
            seeds = _run_step_seeds(run, template, target)
        else:
            raise UsageError(f"{lock.path}: {target!r} is neither a slice of run "
                             f"{run.run_id!r} nor a step of its run lane; name a slice id or "
                             f"a run step ({', '.join(run_steps)})")
        reset = _downstream(run, seeds) if not only else set(seeds)
        reset = {k for k in reset if run.slices[k].status != first}
        if only:
            late = sorted(k for k in _downstream(run, seeds) - set(seeds)
                          if run.slices[k].status != first)
            if late:
                raise UsageError(f"{lock.path}: slice {run.slices[late[0]].id!r} depends on "
                                 f"{target!r} and has started; retry without --only to "
                                 "reset it too")
        new_status = _rewound_status(run, template, target, bool(reset))
        if not reset and new_status == run.status:
            raise UsageError(f"{lock.path}: nothing to retry: {target!r} has not run yet "
                             "(drive again to run it)")
        reset_ids = [run.slices[k].id for k in sorted(reset)]
        hook = getattr(ports, "reset_slices", None) if ports is not None else None
        if callable(hook) and reset_ids:
            try:
                hook(lock.path, run, reset_ids)
            except Exception as e:
                raise PortError(f"{lock.path}: the ports' reset_slices hook failed for "
                                f"{', '.join(reset_ids)} ({type(e).__name__}: {e}); nothing "
                                "was reset") from None
        rl = template.run
        dropped_steps = {st.name for st in rl.steps
                         if rl.position(st.source) >= rl.position(new_status)
                         and rl.position(st.target) <= rl.position(run.status)}
        drop_keys, tried = _history(lock.path, dropped_steps)
        undone = {f"{st.name}:{run.slices[k].id}" for k in reset
                  for st in template.slice.steps} | dropped_steps
        attempts = {**durable.attempts, **{t: n for t, n in tried.items() if t in undone}}
        slices = tuple(
            attrs.evolve(s, status=first, facts={}) if k in reset else s
            for k, s in enumerate(run.slices))
        new = attrs.evolve(run, slices=slices, status=new_status,
                           facts={k: v for k, v in run.facts.items() if k not in drop_keys})
        change = {"target": target, "run_status": [run.status, new_status],
                  "slice_facts": {run.slices[k].id: dict(run.slices[k].facts)
                                  for k in sorted(reset)},
                  "run_facts": {k: run.facts[k] for k in sorted(drop_keys)
                                if k in run.facts}}
        _write(durable, lock, new, "slice_reset", slices=tuple(reset_ids), change=change,
               reason=f"retry {target}", attempts=attempts or None)
        return new


def _run_step_seeds(run: Run, template: Template, step: str) -> set[int]:
    rl = template.run
    st = next(s for s in rl.steps if s.name == step)
    frontier = rl.frontier or rl.initial
    if rl.position(st.source) < rl.position(frontier):
        if any(s.status != template.slice.initial for s in run.slices):
            raise UsageError(f"run step {step!r} comes before the frontier {frontier!r} and "
                             "slices have started: retry the slices instead")
        return set()
    if step == "run_complete":
        return {k for k, s in enumerate(run.slices) if s.facts.get("verdict") == "failed"}
    return set()


def _rewound_status(run: Run, template: Template, target: str, slices_reset: bool) -> str:
    rl = template.run
    now = rl.position(run.status)
    step = next((s for s in rl.steps if s.name == target), None)
    if step is not None:
        back = rl.position(step.source)
    elif slices_reset and rl.frontier is not None:
        back = rl.position(rl.frontier)
    else:
        return run.status
    return rl.statuses[back] if now > back else run.status


def _write(durable: Durable, lock: Any, new: Run, kind: str, **fields: Any) -> None:
    writer = RunWriter(durable, lock)
    try:
        new = attrs.evolve(new, identity=writer.identity)
        parse_checked(run_to_json(new), file=os.fspath(durable.path),
                      template=durable.template)  # never write a run the loader refuses
        writer.checkpoint(new, kind, **fields)
    finally:
        writer.close()


def amend(
    path: str | os.PathLike[str],
    plan: str | os.PathLike[str] | Mapping[str, Any],
    *,
    template_dirs: Iterable[str | os.PathLike[str]] = (),
) -> Run:
    """Let a new plan supersede the run's plan.

    ``plan`` has the run file's shape (at least ``slices``; ``epics`` too when given).
    Slices only in the plan are added (at their initial status); slices missing from it
    that have not started, and that no remaining slice depends on, are removed; a slice
    that has not started takes the plan's title, epic, meta and dependencies. A slice that
    has started (or is done) cannot be changed or removed: retry it first. Validated like a
    run file (cycles, unknown ids), journaled as ``plan_amended``.

    Args:
        path: The run file.
        plan: The new plan: a PLAN.json path or its parsed document.
        template_dirs: Extra template directories.

    Returns:
        The run as written.

    Raises:
        RunFileError: The plan is invalid (the message names the plan file and the JSON
            path).
        UsageError: The plan changes or removes a started slice, or the run is past its
            frontier.
        RunLockedError: A driver holds the run.
    """
    if isinstance(plan, Mapping):
        plan_doc: Any = dict(plan)
        plan_file = "<plan>"
    else:
        plan_file = os.fspath(plan)
        try:
            raw = read_regular(plan_file)
        except OSError as e:
            raise RunFileError(f"cannot read the plan ({e.strerror})", file=plan_file) from None
        plan_doc = decode_run_file(raw, plan_file)
    if not isinstance(plan_doc, dict) or "slices" not in plan_doc:
        raise RunFileError('a plan is a JSON object with "slices" (the run file\'s shape); '
                           "add the slices", file=plan_file)
    with run_lock(path) as lock:
        durable = load_durable(lock.path, template_dirs=template_dirs)
        run, template = durable.run, durable.template
        rl = template.run
        if rl.frontier is not None and rl.position(run.status) > rl.position(rl.frontier):
            raise UsageError(f"{lock.path}: the run is past {rl.frontier!r} (status "
                             f"{run.status!r}): its plan is closed; 'petri-exec retry RUN "
                             "run_complete' reopens it")
        doc = run_to_json(run)
        proposed = {**doc, **{k: v for k, v in plan_doc.items()
                              if k in ("slices", "epics")}}
        # a plan's facts are not the run's: dropped unchecked, from copies (the caller's
        # plan stays as it was); a "slices" that is no list is refused by the parse below
        if isinstance(slices := proposed["slices"], list):
            proposed["slices"] = [{k: v for k, v in s.items() if k != "facts"}
                                  if isinstance(s, dict) else s for s in slices]
        plan_run = parse_checked(proposed, file=plan_file, template=template)[0]
        new, change = _merge(run, plan_run, template.slice.initial, lock.path)
        if not any(change.values()):
            raise UsageError(f"{lock.path}: the plan changes nothing")
        _write(durable, lock, new, "plan_amended", change=change,
               attempts=durable.attempts or None,
               reason=f"amend: {len(change['added'])} added, {len(change['removed'])} "
               f"removed, {len(change['changed'])} changed")
        return new


def _merge(run: Run, plan: Run, initial: str, path: Path) -> tuple[Run, dict[str, list[str]]]:
    old = {s.id: s for s in run.slices}
    wanted = {s.id for s in plan.slices}
    added: list[str] = []
    changed: list[str] = []
    slices: list[Slice] = []
    for p in plan.slices:
        cur = old.get(p.id)
        if cur is None:
            if p.status != initial:
                raise UsageError(f"{path}: new slice {p.id!r} must start at {initial!r}, "
                                 f"not {p.status!r}")
            slices.append(p)  # amend() dropped the plan's facts before parsing it
            added.append(p.id)
            continue
        same = (p.title, p.epic, p.meta, p.depends_on) == (cur.title, cur.epic, cur.meta,
                                                              cur.depends_on)
        if cur.status != initial:
            if not same:
                raise UsageError(f"{path}: slice {p.id!r} has started (status "
                                 f"{cur.status!r}): it cannot be changed; 'petri-exec retry "
                                 f"RUN {p.id}' first")
            slices.append(cur)
            continue
        if not same:
            changed.append(p.id)
        slices.append(attrs.evolve(cur, title=p.title, epic=p.epic, meta=p.meta,
                                   depends_on=p.depends_on))
    removed = [s.id for s in run.slices if s.id not in wanted]
    for sid in removed:
        if old[sid].status != initial:
            raise UsageError(f"{path}: slice {sid!r} has started (status "
                             f"{old[sid].status!r}): it cannot be removed; 'petri-exec retry "
                             f"RUN {sid}' first")
    new = attrs.evolve(run, slices=tuple(slices), epics=plan.epics)
    return new, {"added": added, "removed": removed, "changed": changed}
