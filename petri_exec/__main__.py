"""``python -m petri_exec``."""

from .cli import main

raise SystemExit(main())
