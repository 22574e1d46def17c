"""Grammar resampling (index/llm/sampling.py) against llama-cpp-python's own grammar sampling, on a real model."""

import json

import pytest

pytestmark = pytest.mark.llm

PROMPT = ("<|im_start|>user\nName one film for tonight and say why, as JSON.<|im_end|>\n"
          "<|im_start|>assistant\n")
# Free sampling starts this answer otherwise ("{\"title\"..."), so the resampling path is taken as well.
SCHEMA = {"type": "object", "required": ["mood", "picks"], "properties": {
    "mood": {"enum": ["zebra-quiet", "owl-loud"]},
    "picks": {"type": "array", "maxItems": 2, "items": {"type": "object", "required": ["id", "reason"], "properties": {
        "id": {"type": "integer"}, "reason": {"type": "string", "maxLength": 40}}}}}}


def _completion(cls, path, temperature):
    from llama_cpp import LlamaGrammar

    llama = cls(model_path=str(path), n_ctx=512, n_threads=2, verbose=False)
    grammar = LlamaGrammar.from_json_schema(json.dumps(SCHEMA), verbose=False)
    return llama.create_completion(PROMPT, max_tokens=200, temperature=temperature, grammar=grammar, seed=7)


def test_greedy_decoding_gives_the_tokens_the_whole_vocabulary_grammar_gives(smollm2_gguf):
    from llama_cpp import Llama

    from index.llm.sampling import ResamplingLlama

    plain, resampled = (_completion(cls, smollm2_gguf, 0.0)["choices"][0]["text"] for cls in (Llama, ResamplingLlama))
    assert resampled == plain
    assert json.loads(resampled)["mood"] in ("zebra-quiet", "owl-loud")


def test_sampled_output_keeps_to_the_grammar(smollm2_gguf):
    from index.llm.sampling import ResamplingLlama

    choice = _completion(ResamplingLlama, smollm2_gguf, 0.2)["choices"][0]  # the chat's temperature
    answer = json.loads(choice["text"]) if choice["finish_reason"] == "stop" else None
    assert answer is not None and answer["mood"] in ("zebra-quiet", "owl-loud")
    assert all(len(p["reason"]) <= 40 and isinstance(p["id"], int) for p in answer["picks"])


def test_strings_in_the_json_grammar_hold_no_raw_newline(smollm2_gguf):
    """llama-cpp-python's own rule lets one in, which no JSON parser accepts; a haiku asks for line breaks."""
    from llama_cpp import LlamaGrammar

    from index.llm.sampling import ResamplingLlama, json_grammar

    llama = ResamplingLlama(model_path=str(smollm2_gguf), n_ctx=512, n_threads=2, verbose=False)
    prompt = "<|im_start|>user\nWrite a haiku.<|im_end|>\n<|im_start|>assistant\nHere is a haiku:\n"
    schema = {"type": "object", "required": ["poem"], "properties": {"poem": {"type": "string"}}}
    loose = LlamaGrammar.from_json_schema(json.dumps(schema), verbose=False)
    texts = [llama.create_completion(prompt, max_tokens=60, temperature=0.0, grammar=grammar)["choices"][0]["text"]
             for grammar in (loose, json_grammar(schema))]
    assert "\n" in texts[0]  # the hole this closes
    assert "\n" not in texts[1] and texts[1].startswith('{ "poem"')
