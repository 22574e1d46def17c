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


@lru_cache(maxsize=1)
def one_thread_per_query() -> None:
    """For servers: each query embedding runs on one torch thread, so concurrent requests share the cores.

    By default torch gives every short query a team of OpenMP threads, one per core, that spin while they wait
    for each other; with several requests at once on 2 cores they spin against each other. On a busy 2-core
    machine one query embedding took 1-2 s that way and 0.1-0.2 s on one thread.
    """
    import torch

    torch.set_num_threads(1)
