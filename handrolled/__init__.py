"""The same recommender without LlamaIndex, for comparison: ingest, retrieval, rerank, chat.
Imports index/ (catalog, collab), tools/preferences and agent/guards; never llama_index; nothing imports it."""
