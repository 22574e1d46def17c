"""The sentence-transformers embedder every collection and query shares, as a LlamaIndex embedding."""

from __future__ import annotations

import os
from functools import lru_cache
from typing import TYPE_CHECKING

from index.config import embedder_path

if TYPE_CHECKING:
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

BATCH_SIZE = 64


@lru_cache(maxsize=1)
def load_embedder() -> "HuggingFaceEmbedding":
    """Loaded once per process, and only when something is embedded: importing torch costs ~5 s."""
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    path = embedder_path()
    if os.path.isdir(path):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    return HuggingFaceEmbedding(model_name=path, embed_batch_size=BATCH_SIZE, device="cpu")
