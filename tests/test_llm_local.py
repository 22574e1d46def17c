"""The in-process llama.cpp LLM with real models (make test-llm): SmolLM2 for structure, Qwen for an agent."""

import asyncio
import threading

import pytest
from llama_index.core.agent.workflow import FunctionAgent, ToolCallResult
from llama_index.core.bridge.pydantic import BaseModel, Field
from llama_index.core.memory import Memory
from llama_index.core.prompts import PromptTemplate
from llama_index.core.tools import FunctionTool

from agent.session import ChatSession
from index.build import build_baseline
from index.store import BASELINE
from index.workspace import Workspace
from tools.rerank import JustifiedRerank
from tools.search import recommend
from tools.services import MovieServices
from tools.session import ToolSession

pytestmark = pytest.mark.llm


class Pick(BaseModel):
    id: int = Field(description="a candidate id from the list")
    reason: str = Field(description="one sentence on why it fits", max_length=160)


class Picks(BaseModel):
    # Bounded: the grammar enforces it, and unbounded lists let a 135M model repeat items up to max_tokens.
    picks: list[Pick] = Field(min_length=1, max_length=3)


RERANK_LIKE = PromptTemplate(
    "Candidates (id | title):\n3 | Heat (1995)\n8 | Alien (1979)\n12 | Fargo (1996)\n"
    "The person wants {wish}. Pick the 2 best candidates, each with one sentence why.")


def search_movies(query: str, limit: int = 5) -> str:
    """Search the movie catalog for films matching a free-text query."""
    return "no results"


def test_smollm2_structured_output_is_a_valid_object(smollm2_llm):
    picks = smollm2_llm.structured_predict(Picks, RERANK_LIKE, wish="a tense crime film")
    assert isinstance(picks, Picks) and all(isinstance(p.id, int) and isinstance(p.reason, str) for p in picks.picks)
    again = asyncio.run(smollm2_llm.astructured_predict(Picks, RERANK_LIKE, wish="science fiction"))
    assert isinstance(again, Picks)


def test_smollm2_forced_tool_calls_are_well_formed(smollm2_llm, catalog_tool):
    lookup, _ = catalog_tool
    tools = [lookup, FunctionTool.from_defaults(search_movies)]
    for kwargs, expected in [({"tool_required": True}, {"lookup_movie", "search_movies"}),
                             ({"tool_choice": "search_movies"}, {"search_movies"})]:
        response = smollm2_llm.chat_with_tools(tools, user_msg="Who directed The Glass Orchard?", **kwargs)
        [call] = smollm2_llm.get_tool_calls_from_response(response)
        assert call.tool_name in expected
        tool = next(t for t in tools if t.metadata.name == call.tool_name)
        tool.metadata.fn_schema.model_validate(call.tool_kwargs)  # arguments fit the tool's signature
        assert isinstance(tool(**call.tool_kwargs).content, str)


def test_smollm2_shared_by_concurrent_callers(smollm2_llm):
    results, errors = [], []

    def rerank(wish):
        try:
            results.append(smollm2_llm.structured_predict(Picks, RERANK_LIKE, wish=wish))
        except Exception as exc:  # noqa: BLE001 - asserted below
            errors.append(exc)
    threads = [threading.Thread(target=rerank, args=(w,)) for w in ("crime", "aliens", "snow")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(results) == 3 and all(isinstance(r, Picks) for r in results)


async def run_turn(agent, memory, text):
    handler = agent.run(user_msg=text, memory=memory)
    tools = [e.tool_name async for e in handler.stream_events() if isinstance(e, ToolCallResult)]
    return str((await handler).response.content), tools


async def test_qwen_function_agent_uses_its_tool_over_two_turns(qwen_llm, catalog_tool):
    lookup, calls = catalog_tool
    agent = FunctionAgent(tools=[lookup], llm=qwen_llm,
                          system_prompt="You are a movie assistant. Use lookup_movie for facts about a film.")
    memory = Memory.from_defaults(session_id="qwen-two-turns", token_limit=2500)
    first, first_tools = await run_turn(agent, memory, "Who directed The Glass Orchard?")
    assert first_tools == ["lookup_movie"] and "glass orchard" in calls[0].lower()
    assert "Okonkwo" in first
    second, second_tools = await run_turn(agent, memory, "And what year did Paper Lanterns come out?")
    assert second_tools == ["lookup_movie"] and "paper lanterns" in calls[-1].lower()
    assert "1993" in second


# --- the product's own LLM features on real models ---

@pytest.fixture(scope="module")
def small_index(tmp_path_factory):
    """400 bundled films in a `baseline` collection; built without an LLM."""
    ws = Workspace.open(tmp_path_factory.mktemp("llm-index"), llm_choice="none", limit=400)
    build_baseline(ws, show_progress=False)
    return ws


def test_smollm2_justified_rerank_answers_valid_json(small_index, smollm2_llm):
    services = MovieServices(workspace=small_index, reranker=JustifiedRerank(llm=smollm2_llm, max_candidates=10))
    tools = ToolSession(services, BASELINE)
    for turn in ("something tense", "the 90s", "subtitles are fine"):
        tools.note_user_turn(turn)
    result = asyncio.run(recommend(tools, query=tools.preferences.summary()))
    assert result.outcome.used_llm and not result.outcome.fallback, result.outcome.error  # the JSON parsed
    assert len(result.recommendations) == 5 and all(r.reason for r in result.recommendations)
    assert {r.movie_id for r in result.recommendations} <= {m.movie_id for m in small_index.catalog}


async def test_qwen_chat_asks_then_recommends_five_catalog_films(small_index, qwen_gguf, monkeypatch):
    monkeypatch.setenv("MOVIEREC_GGUF", str(qwen_gguf))
    ws = Workspace.open(small_index.root, llm_choice="local", limit=400)
    assert ws.backend.name == "local"
    session = ChatSession(MovieServices.from_workspace(ws), "qwen-chat", BASELINE)
    first = await session.send("I want something tense tonight")
    assert not first.recommendations and "?" in first.text and not first.fallback, first.error
    await session.send("I loved Heat")
    last = await session.send("The 90s please, and subtitles are fine")
    picks = last.recommendations
    assert len(picks) == 5, [r.text for r in session.replies]
    assert all(r.movie_id in ws.catalog and r.reason for r in picks)
    assert not any(r.movie_id == session.services.matcher.match("Heat").movie.movie_id for r in picks)
    outcome = session.tools.searches[-1].outcome
    assert outcome.used_llm and not outcome.fallback, outcome.error  # Qwen's rerank JSON was valid
    assert all(r.title in last.text for r in picks) and last.removed == []


def test_smollm2_a_second_prompt_with_the_same_head_evaluates_only_its_new_tokens(smollm2_gguf):
    import llama_cpp
    from llama_index.core.llms import ChatMessage

    from index.llm.local import LocalLlamaCPP

    # One reply token: llama.cpp counts the batches that check drafted tokens (index/llm/drafting.py) as prompt
    # evaluation too, and a one-token reply has no draft to check.
    llm = LocalLlamaCPP(model_path=smollm2_gguf, temperature=0.0, max_new_tokens=1)  # its own cache
    context = llm._runtime.llama._ctx.ctx

    def chat(system, *turns):
        before = llama_cpp.llama_perf_context(context).n_p_eval
        reply = llm.chat([ChatMessage(role="system", content=system),
                          *(ChatMessage(role="user", content=t) for t in turns)])
        return reply, llama_cpp.llama_perf_context(context).n_p_eval - before

    agent = "You are a film librarian. Ask one short question at a time about mood, era and genres. " * 4
    chat(agent, "I want something tense")
    _, rerank_evaluated = chat("You rank candidate films for one person and explain each pick. " * 4, "1 | Heat")
    reply, evaluated = chat(agent, "I want something tense", "from the 90s")
    sent, cached = reply.additional_kwargs["prompt_tokens"], reply.additional_kwargs["cached_tokens"]
    assert rerank_evaluated > 60  # the other head really replaced the model's state in between
    assert cached > 80 and evaluated == sent - cached < 20  # llama.cpp's own count: only the new turn
    fresh = LocalLlamaCPP(model_path=smollm2_gguf, temperature=0.0, max_new_tokens=1, prompt_heads=0)
    again = fresh.chat([ChatMessage(role="system", content=agent),
                        ChatMessage(role="user", content="I want something tense"),
                        ChatMessage(role="user", content="from the 90s")])
    assert again.message.content == reply.message.content  # the restored state answers as a cold model does


def test_smollm2_a_new_process_starts_with_the_prompt_head_an_earlier_one_stored(smollm2_gguf, tmp_path):
    import llama_cpp
    from llama_index.core.llms import ChatMessage

    from index.llm.local import LocalLlamaCPP

    system = "You are a film librarian. Ask one short question at a time about mood, era and genres. " * 4
    prompt = [ChatMessage(role="system", content=system), ChatMessage(role="user", content="I want something tense")]
    options = dict(temperature=0.0, max_new_tokens=8)
    LocalLlamaCPP(model_path=smollm2_gguf, head_store=str(tmp_path), **options).chat(prompt)  # stores the head
    later = LocalLlamaCPP(model_path=smollm2_gguf, head_store=str(tmp_path), **options)  # a new model, a new run
    context = later._runtime.llama._ctx.ctx
    reply = later.chat(prompt)
    evaluated = llama_cpp.llama_perf_context(context).n_p_eval
    sent, cached = reply.additional_kwargs["prompt_tokens"], reply.additional_kwargs["cached_tokens"]
    assert cached > 80 and evaluated == sent - cached < 20  # only the person's turn, by llama.cpp's own count
    cold = LocalLlamaCPP(model_path=smollm2_gguf, prompt_heads=0, **options).chat(prompt)
    assert reply.message.content == cold.message.content  # the stored state answers as a cold model does


def test_smollm2_the_reference_run_evaluates_its_whole_prompt_and_generates_64_tokens(smollm2_gguf):
    import llama_cpp

    from eval.bench.reference import load_reference_model, reference_seconds

    llama = load_reference_model(smollm2_gguf, context_window=2048, n_threads=2)
    perf = lambda: llama_cpp.llama_perf_context(llama._ctx.ctx)  # noqa: E731
    reference_seconds(llama)
    before = perf()
    reference_seconds(llama)  # again: the same prompt must not be reused from the cache
    after = perf()
    assert after.n_p_eval - before.n_p_eval == 1000
    assert after.n_eval - before.n_eval in (63, 64)  # the last sampled token needs no decode
