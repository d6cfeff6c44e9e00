"""Ports: the protocol a step's side effect goes through (``StepContext`` in, ``StepResult``
out, and how a callable's return value or exception becomes one), the built-in handlers of
the templates, and the built-in port sets (``ShellPorts``, ``GitPorts``).

Public namespace. Imports: ``core``, ``run``, ``interchange``, ``errors``; never the engine
(a handler gets narrow capabilities through ``HandlerEnv``, never the driver).
"""

from __future__ import annotations

from .git import GitPorts
from .gitcheck import Preflight
from .gitclean import Cleaned
from .handlers import HANDLERS, HandlerEnv
from .protocol import (
    PortCaller,
    StepContext,
    StepResult,
    exception_result,
    missing_port_reason,
    normalise_result,
    resolve_port,
    timeout_result,
)
from .shell import ShellPorts

__all__ = [
    "Cleaned",
    "GitPorts",
    "HANDLERS",
    "HandlerEnv",
    "PortCaller",
    "Preflight",
    "ShellPorts",
    "StepContext",
    "StepResult",
    "exception_result",
    "missing_port_reason",
    "normalise_result",
    "resolve_port",
    "timeout_result",
]
