"""What a value needs to be saved in run.json and read back as it is (facts and meta).

The loader's rules for free-form JSON, as one linear, non-recursive check that the engine
applies to whatever a port returns before anything is written.
"""

from __future__ import annotations

from typing import Any

__all__ = ["MAX_FACTS_BYTES", "MAX_NESTING", "json_problem"]


#: How deeply ``facts`` and ``meta`` may nest (writing them back must never hit Python's
#: recursion limit).
MAX_NESTING = 64
#: The most bytes of JSON one step's facts may take.
MAX_FACTS_BYTES = 16 * 1024 * 1024


def json_problem(value: object, path: str = "facts") -> str | None:
    """What keeps ``value`` from being saved in run.json and read back as it is, or None.

    The same rules the loader applies: JSON types only (objects with string keys, arrays,
    strings, finite numbers, booleans, null), valid Unicode (no lone surrogates), at most
    :data:`MAX_NESTING` levels deep, at most :data:`MAX_FACTS_BYTES` when encoded. Linear
    in the value's size; never recursive.

    Args:
        value: The value (typically a step's facts).
        path: Its name, for the message (``facts``).

    Returns:
        ``"<key path>: <broken rule>"``, or None when the value is fine.
    """
    stack: list[tuple[Any, str, int]] = [(value, path, 1)]
    while stack:
        v, where, depth = stack.pop()
        t = type(v)
        if t is str:
            if not _encodable(v):
                return f"{where}: a string holds a lone surrogate (not valid Unicode)"
        elif t is float:
            if v != v or v in (_INF, -_INF):
                return f"{where}: {v!r} is not a finite number (JSON has no NaN/Infinity)"
        elif t is int or t is bool or v is None:
            continue
        elif t is dict or t is list or t is tuple:
            if depth > MAX_NESTING:
                return f"{where}: nested more than {MAX_NESTING} levels deep"
            if t is dict:
                for k, x in v.items():
                    if type(k) is not str:
                        return (f"{where}: key {k!r} is a {type(k).__name__}, not a string "
                                "(JSON object keys are strings)")
                    if not _encodable(k):
                        return f"{where}: a key holds a lone surrogate (not valid Unicode)"
                    stack.append((x, f"{where}.{k}", depth + 1))
            else:
                stack.extend((x, f"{where}[{i}]", depth + 1) for i, x in enumerate(v))
        else:
            return f"{where}: a {t.__name__} is not a JSON value"
    return None


_INF = float("inf")


def _encodable(s: str) -> bool:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
