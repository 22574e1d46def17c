"""Benchmarks, run by hand (not timed tests): `python -m eval.bench <command>`, one module per command.

`index`: embedding throughput and retrieval latency of the index layer (index_layer.py).
`enrich`: LLM pass throughput, token cost and grounded-enricher time (enrich.py).
`turns`: seconds, tokens and validity per chat turn on a backend (turns.py).
`compare --against PATH`: `turns` of this checkout and another, interleaved, as ratios (compare.py).
`ease`: EASE fit time and peak memory, bundled catalog and a synthetic 60k-film one (ease.py).
`guard`: what the input screen costs per turn without an LLM (guard.py).
`load`: many simultaneous sessions against `movierec ui --llm none` (load.py).
`llama`: prompt and generation speed of the installed llama.cpp build (llama_speed.py).
"""
