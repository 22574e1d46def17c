"""Where movierec keeps its files, and the few defaults shared by every command."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_LIMIT = 5000
DEFAULT_SOURCE = "bundled"


def data_dir(explicit: str | os.PathLike | None = None) -> Path:
    """`--data-dir`, else `$MOVIEREC_DATA_DIR`, else `.movierec/` in the working directory; created on demand."""
    path = Path(explicit or os.environ.get("MOVIEREC_DATA_DIR") or ".movierec").expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path
