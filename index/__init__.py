"""The catalog and its stores: loading, titles, Chroma collections, embeddings, collaborative models, LLM backends
(index/llm/) and enrichment (index/enrich/). The bottom layer: imports no other package of movierec."""
