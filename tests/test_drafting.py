"""Prompt-lookup drafting (index/llm/drafting.py): what it proposes, and on a real model that it keeps to the
grammar in fewer forward passes.

Greedy output is not compared token for token with undrafted decoding: llama.cpp computes a batch of tokens with
other kernels than a single one (on SmolLM2 the logits differ by up to 1.4), so near ties can fall either way."""

import json

import numpy as np
import pytest

pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (pip install -e '.[local]')")

from index.llm.drafting import PromptLookup  # noqa: E402


def test_the_latest_earlier_occurrence_is_continued():
    ids = np.array([1, 2, 3, 9, 9, 1, 2, 3, 7, 8, 5, 1, 2, 3], dtype=np.intc)
    assert PromptLookup(draft_tokens=2, min_match=3)(ids).tolist() == [7, 8]


def test_a_match_shorter_than_the_minimum_proposes_nothing():
    ids = np.array([4, 2, 3, 9, 9, 1, 2, 3], dtype=np.intc)
    assert PromptLookup(min_match=3)(ids).size == 0
    assert PromptLookup(min_match=2)(ids).tolist() == [9, 9, 1, 2, 3]


def test_the_draft_stops_at_the_end_of_what_is_known():
    ids = np.array([5, 6, 7, 5, 6, 7], dtype=np.intc)
    assert PromptLookup(draft_tokens=8, min_match=3)(ids).tolist() == [5, 6, 7]


PROMPT = ("<|im_start|>user\nCandidates:\n12 | Alien (1979)\n345 | Heat (1995)\n6789 | Fargo (1996)\n"
          "Pick all three in order, as JSON with id and reason.<|im_end|>\n<|im_start|>assistant\n")
SCHEMA = {"type": "object", "required": ["picks"], "properties": {"picks": {
    "type": "array", "minItems": 3, "maxItems": 3, "items": {"type": "object", "required": ["id", "reason"],
                                                             "properties": {"id": {"type": "integer"},
                                                                            "reason": {"type": "string",
                                                                                       "maxLength": 40}}}}}}


@pytest.mark.llm
def test_drafting_keeps_to_the_grammar_in_fewer_forward_passes(smollm2_gguf):
    from index.llm.drafting import DraftingLlama
    from index.llm.sampling import ResamplingLlama, json_grammar

    results = []
    for cls in (ResamplingLlama, DraftingLlama):
        llama = cls(model_path=str(smollm2_gguf), n_ctx=1024, n_threads=2, verbose=False)
        passes = []
        evaluate = llama.eval
        llama.eval = lambda tokens, evaluate=evaluate: (passes.append(len(tokens)), evaluate(tokens))[1]
        text = llama.create_completion(PROMPT, max_tokens=200, temperature=0.0,
                                       grammar=json_grammar(SCHEMA))["choices"][0]["text"]
        results.append((text, len(passes)))
    (plain, plain_passes), (drafted, drafted_passes) = results
    picks = json.loads(drafted)["picks"]
    assert [p["id"] for p in picks] == [p["id"] for p in json.loads(plain)["picks"]] == [12, 345, 6789]
    assert all(len(p["reason"]) <= 40 for p in picks)
    assert drafted_passes < plain_passes
