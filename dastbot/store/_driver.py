"""sqlite-utils, imported without numpy: the package imports this module before any other.

sqlite-utils imports numpy, when it is installed, only to give numpy's number types a column
type. The store never writes numpy values, and numpy costs every dastbot command a tenth of a
second and some 15 MB. A ``None`` in ``sys.modules`` makes that one import fail as if numpy
were not installed; numpy stays importable for whatever needs it later (the report's chart).
"""

from __future__ import annotations

import sys


def import_sqlite_utils() -> None:
    if "sqlite_utils" in sys.modules or "numpy" in sys.modules:
        return
    sys.modules["numpy"] = None  # type: ignore[assignment]
    try:
        import sqlite_utils  # noqa: F401
    finally:
        del sys.modules["numpy"]


import_sqlite_utils()
