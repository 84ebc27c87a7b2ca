"""Writing a file whole: the bytes go to a temporary file beside it, renamed over it once
complete, so a reader (or the next start) never sees half of it."""

from __future__ import annotations

import os
from pathlib import Path


def write_whole(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data``. On OSError no temporary file is left behind and ``path``
    is as it was."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        partial.write_bytes(data)
        os.replace(partial, path)
    except OSError:
        partial.unlink(missing_ok=True)
        raise
