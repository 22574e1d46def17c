"""The enrichment pass and the `enriched` collection: enrichers, their prompts, the enriched.jsonl cache, the command.

Builds on index's catalog, store and LLM backends; imported by ui (the command line) and eval, never by them.
"""
