"""Where the installed package and the checkout keep their data files.

One place resolves the package root, so modules in subpackages never count ``parent``
hops from their own ``__file__`` (a wheel ships ``nets/`` and ``run.schema.json`` inside
the package; a checkout or editable install keeps them beside it).
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["CHECKOUT", "PACKAGE", "data_file"]

#: The ``petri_exec`` package directory, resolved once.
PACKAGE = Path(__file__).resolve().parent
#: The directory holding the package (a checkout's root in development).
CHECKOUT = PACKAGE.parent


def data_file(wheel_name: str, checkout_name: str) -> Path | None:
    """The first existing copy of a data file: inside the package, else in the checkout.

    Args:
        wheel_name: The path below the package directory (installed wheel).
        checkout_name: The path below the checkout's root (checkout / editable install).

    Returns:
        The path of the file or directory that exists, or None when neither does.
    """
    for candidate in (PACKAGE / wheel_name, CHECKOUT / checkout_name):
        if candidate.exists():
            return candidate
    return None
