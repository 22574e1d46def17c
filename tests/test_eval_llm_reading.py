"""The evaluation's `llm-read+rerank` pipeline: the agent's tool path with each turn read by the LLM."""

import json

from llama_index.core.base.llms.types import ToolCallBlock
from llama_index.core.llms import ChatMessage
from llama_index.core.llms.mock import MockFunctionCallingLLM

from eval.pipelines import EvalContext, resolve, run_pipeline
from eval.transcripts.files import Transcript


def _call(name, kwargs):
    return ChatMessage(role="assistant", blocks=[ToolCallBlock(tool_call_id=f"c-{name}", tool_name=name,
                                                               tool_kwargs=kwargs)])


def test_it_needs_an_llm(eval_workspace):
    runnable, skipped = resolve(["llm-read+rerank", "fused"], EvalContext(eval_workspace, use_llm=False))
    assert runnable == ["fused"] and "needs an LLM backend" in skipped["llm-read+rerank"]


def test_each_turn_is_read_by_the_llm_and_its_reading_drives_the_search(eval_workspace):
    read = []

    def respond(messages, **kwargs):
        tool = [t.metadata.name for t in kwargs.get("tools", [])]
        content = messages[-1].content
        if tool == ["Reading"]:
            message, draft = content.split("Message: ", 1)[1].split("\nDraft: ", 1)
            read.append(message)
            draft = json.loads(draft)
            # the rules read "not a fan of Heat" as nothing; the LLM's reading dislikes it
            return _call("Reading", {**draft, "disliked": ["Heat (1995)"]} if "Heat" in message else draft)
        ids = [int(line.split(" | ")[0]) for line in content.splitlines() if line.split(" | ")[0].isdigit()]
        return _call("Picks", {"picks": [{"id": i, "reason": "Scripted reason for it."} for i in ids[:5]]})

    ctx = EvalContext(eval_workspace, use_llm=False)
    ctx.services.reranker.llm = MockFunctionCallingLLM(response_generator=respond)
    heat = ctx.services.matcher.match("Heat (1995)").movie.movie_id
    turns = ("Heat (1995) was too slow for me", "a tense crime film from the 90s", "subtitles are fine")
    conversation = ctx.conversation(Transcript("x1", -1, turns, (heat,)))
    ranking = run_pipeline("llm-read+rerank", ctx, conversation)
    assert read == list(turns)
    assert len(ranking.movie_ids) == 10 and heat not in ranking.movie_ids
    assert all(ranking.reasons[m] for m in ranking.movie_ids)
