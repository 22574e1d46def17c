"""LocalLlamaCPP without a model: reply parsing, prompt rendering, the tool-call turn logic, structured output,
errors, streaming and cancellation, the prompt-head cache, driven by a scripted stand-in for llama_cpp.Llama."""

import asyncio
import json
import threading
from types import SimpleNamespace

import numpy as np

import pytest
from llama_index.core.agent.workflow import FunctionAgent
from llama_index.core.base.llms.types import ChatResponse, ToolCallBlock
from llama_index.core.bridge.pydantic import BaseModel
from llama_index.core.llms import ChatMessage
from llama_index.core.memory import Memory
from llama_index.core.prompts import PromptTemplate
from llama_index.core.tools import FunctionTool

from index.llm.errors import LocalLLMError, MalformedOutputError
from index.llm.local import LocalLlamaCPP
from index.llm.rendering import RESULTS_REMINDER, TOOL_REMINDER, render_messages
from index.llm.toolcalls import Holdback, call_schema, parse_reply

pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (pip install -e '.[local]')")
from llama_cpp.llama_chat_format import CHATML_CHAT_TEMPLATE  # noqa: E402

TOOLS = {"lookup_movie", "search_movies"}


class ScriptedLlama:
    """Enough of llama_cpp.Llama for LocalLlamaCPP: renders nothing itself, answers from a script and records
    each prompt, whether a grammar constrained it, and how many tokens the caller let it write."""

    def __init__(self, *replies: str, chunk: int = 3):
        self.replies = list(replies)
        self.chunk = chunk
        self.metadata = {"tokenizer.chat_template": CHATML_CHAT_TEMPLATE}
        self.prompts: list[str] = []
        self.grammars: list[bool] = []
        self.active = 0  # completions running at once; the model lock must keep this at 1
        self.vocabulary: dict[str, int] = {}
        self.input_ids, self.n_tokens, self.loads = np.zeros(0, dtype=np.intc), 0, 0
        self.evaluated: list[int] = []  # prompt tokens each completion had to evaluate, as llama.cpp counts them

    def token_eos(self):
        return 2

    def token_bos(self):
        return 1

    def detokenize(self, tokens, prev_tokens=None, special=False):
        return {1: b"<s>", 2: b"<|im_end|>"}[tokens[0]]

    def tokenize(self, text: bytes, add_bos=True, special=False):
        self.prompts.append(text.decode())
        return [self.vocabulary.setdefault(word, len(self.vocabulary)) for word in text.split()]  # a word a token

    # what llama.cpp's KV cache holds, as Llama keeps it: input_ids[:n_tokens]
    def save_state(self):
        return SimpleNamespace(input_ids=self.input_ids.copy(), n_tokens=self.n_tokens, scores=np.zeros((4, 2)))

    def load_state(self, state):
        self.input_ids, self.n_tokens = state.input_ids.copy(), state.n_tokens
        self.loads += 1

    def reset(self):
        self.n_tokens = 0

    def eval(self, tokens):
        self.input_ids = np.concatenate([self.input_ids[: self.n_tokens], np.array(tokens, dtype=np.intc)])
        self.n_tokens = len(self.input_ids)

    def create_completion(self, prompt, stream=True, grammar=None, stop=(), max_tokens=16,
                          stopping_criteria=None, **options):
        self.grammars.append(grammar is not None)
        text = self.replies.pop(0)
        held = list(self.input_ids[: self.n_tokens])
        same = next((i for i, (a, b) in enumerate(zip(held, prompt)) if a != b), min(len(held), len(prompt)))
        self.evaluated.append(len(prompt) - min(same, len(prompt) - 1))
        self.input_ids, self.n_tokens = np.array(prompt, dtype=np.intc), len(prompt)

        def chunks():
            self.active += 1
            try:
                assert self.active == 1, "two completions ran at once"
                for i in range(0, len(text), self.chunk):
                    if stopping_criteria is not None and stopping_criteria([], []):
                        return
                    yield {"choices": [{"text": text[i:i + self.chunk]}]}
            finally:
                self.active -= 1
        return chunks()


def scripted_llm(*replies: str, **fields) -> tuple[LocalLlamaCPP, ScriptedLlama]:
    fake = ScriptedLlama(*replies)
    return LocalLlamaCPP(model_path="scripted.gguf", llama=fake, **fields), fake


def lookup_movie(title: str) -> str:
    """Look up a movie in the catalog by title."""
    return f"{title}: directed by Zelda Okonkwo in 1987"


def search_movies(query: str, limit: int = 5) -> str:
    """Search the catalog."""
    return "nothing"


TOOL_OBJECTS = [FunctionTool.from_defaults(lookup_movie), FunctionTool.from_defaults(search_movies)]


# -- parsing ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("reply", [
    '<tool_call>\n{"name": "lookup_movie", "arguments": {"title": "Heat"}}\n</tool_call>',
    '```json\n{"name": "lookup_movie", "arguments": {"title": "Heat"}}\n```',
    '```\n{"name": "lookup_movie", "parameters": {"title": "Heat"}}\n```',
    '{"name": "lookup_movie", "arguments": "{\\"title\\": \\"Heat\\"}"}',
    '  {"type": "function", "function": {"name": "lookup_movie", "arguments": {"title": "Heat"}}}',
    '<tool_call>\n```json\n{"name": "lookup_movie", "arguments": {"title": "Heat"}}\n```\n</tool_call>',
    '<tool_call>{"name": "lookup_movie", "arguments": {"title": "Heat"}}',  # cut before the closing tag
    '{"name": "lookup_movie", "arguments": {"title": "Heat", "year": None}}',  # Python's None
])
def test_the_call_shapes_small_models_write_all_parse(reply):
    parsed = parse_reply(reply, TOOLS)
    assert parsed.calls[0].name == "lookup_movie" and parsed.calls[0].arguments["title"] == "Heat"
    assert len(parsed.calls) == 1 and parsed.text == "" and not parsed.attempted


def test_prose_before_a_call_is_kept_as_text_and_several_calls_are_read():
    reply = ('Let me check both.\n<tool_call>\n{"name": "lookup_movie", "arguments": {"title": "Heat"}}\n'
             '</tool_call>\n<tool_call>\n{"name": "search_movies", "arguments": {"query": "heists"}}\n</tool_call>')
    parsed = parse_reply(reply, TOOLS)
    assert parsed.text == "Let me check both."
    assert [c.name for c in parsed.calls] == ["lookup_movie", "search_movies"]


@pytest.mark.parametrize("reply", [
    '<tool_call>\n{"name": "lookup_movie", "arguments": {"title": "Heat"\n</tool_call>',  # broken JSON
    '<tool_call>\nlookup_movie(title="Heat")\n</tool_call>',
    '```json\n{"name": "Heat", "arguments": {"title": "Heat"}}\n```',  # a name that is no tool
    '{"name": "lookup_movie", "arguments": {"title": ',
    "<tool_response>\nHeat (1995), directed by someone\n</tool_response>",  # a result it made up
])
def test_call_attempts_that_do_not_parse_are_flagged_not_shown_as_calls(reply):
    parsed = parse_reply(reply, TOOLS)
    assert parsed.calls == [] and parsed.attempted


@pytest.mark.parametrize("reply", [
    "Heat (1995) is a tense crime film; want something similar?",
    'Here is the data:\n```json\n{"year": 1995}\n```',
    "Use `lookup_movie` if you like.",
])
def test_plain_answers_are_text(reply):
    parsed = parse_reply(reply, TOOLS)
    assert parsed.calls == [] and not parsed.attempted and parsed.text == reply.strip()


def test_call_schema_names_each_tool_and_moves_nested_defs_to_the_root():
    class Window(BaseModel):
        start: int
        end: int

    def by_years(window: Window) -> str:
        """Movies in a year window."""
        return ""

    tools = [{"name": t.metadata.name, "description": "", "parameters": t.metadata.get_parameters_dict()}
             for t in (FunctionTool.from_defaults(lookup_movie), FunctionTool.from_defaults(by_years))]
    schema = call_schema(tools)
    assert [o["properties"]["name"] for o in schema["anyOf"]] == [{"const": "lookup_movie"}, {"const": "by_years"}]
    assert "Window" in schema["$defs"] and all("$defs" not in o["properties"]["arguments"] for o in schema["anyOf"])
    from llama_cpp import LlamaGrammar

    LlamaGrammar.from_json_schema(json.dumps(schema), verbose=False)  # llama.cpp accepts it
    single = call_schema(tools[:1])
    assert "anyOf" not in single and single["required"] == ["name", "arguments"]


# -- rendering -------------------------------------------------------------------------------------------

def conversation_with_a_tool_round():
    return [ChatMessage(role="system", content="You recommend movies."),
            ChatMessage(role="user", content="Who directed Heat?"),
            ChatMessage(role="assistant", blocks=[ToolCallBlock(tool_call_id="c1", tool_name="lookup_movie",
                                                               tool_kwargs={"title": "Heat"})]),
            ChatMessage(role="tool", content="Heat: directed by Michael Mann", additional_kwargs={"tool_call_id": "c1"}),
            ChatMessage(role="tool", content="second result", additional_kwargs={"tool_call_id": "c2"})]


def test_tool_calls_and_results_become_plain_turns_any_template_accepts():
    specs = [{"name": "lookup_movie", "description": "Look up", "parameters": {"type": "object"}}]
    turns = render_messages(conversation_with_a_tool_round(), specs, TOOL_REMINDER)
    assert [t["role"] for t in turns] == ["system", "user", "assistant", "user"]
    assert turns[0]["content"].startswith("You recommend movies.\n\n# Tools") and '"name": "lookup_movie"' in turns[0]["content"]
    assert json.loads(turns[2]["content"].split("\n")[1]) == {"name": "lookup_movie", "arguments": {"title": "Heat"}}
    results = turns[3]["content"]
    assert results.count("<tool_response>") == 2 and "Heat: directed by Michael Mann" in results
    assert results.endswith(RESULTS_REMINDER)
    assert TOOL_REMINDER not in results  # the reminder is for a user's own turn, not for results
    assert turns[1]["content"] == "Who directed Heat?\n\n" + TOOL_REMINDER  # every one, so a prefix stays a prefix


def test_user_turns_carry_the_reminder_only_when_tools_are_offered():
    messages = [ChatMessage(role="user", content="Hi"), ChatMessage(role="assistant", content=""),
                ChatMessage(role="user", content="Who directed Heat?")]
    specs = [{"name": "lookup_movie", "description": "", "parameters": {}}]
    with_tools = render_messages(messages, specs, TOOL_REMINDER)
    assert [t["role"] for t in with_tools] == ["system", "user"]  # empty assistant turn dropped, users merged
    assert with_tools[-1]["content"] == f"Hi\n\n{TOOL_REMINDER}\nWho directed Heat?\n\n{TOOL_REMINDER}"
    assert render_messages(messages) == [{"role": "user", "content": "Hi\nWho directed Heat?"}]


def test_holdback_never_shows_a_tool_call_even_when_the_tag_arrives_in_pieces():
    holdback = Holdback()
    shown = "".join(holdback.feed(p) for p in ["Sure, checking.", "\n<to", "ol_c", 'all>\n{"name": "x"}'])
    assert shown == "Sure, checking.\n" and holdback.pending.startswith("<tool_call>")
    bare = Holdback()
    assert "".join(bare.feed(p) for p in ["  ", '{"na', 'me": 1}']) == "" and bare.text == '  {"name": 1}'


# -- the turn logic, against the scripted model ----------------------------------------------------------

CALL = '<tool_call>\n{"name": "lookup_movie", "arguments": {"title": "Heat"}}\n</tool_call>'


def test_a_written_call_becomes_a_tool_call_block_and_a_selection():
    llm, fake = scripted_llm(CALL)
    response = llm.chat_with_tools(TOOL_OBJECTS, user_msg="Who directed Heat?")
    [selection] = llm.get_tool_calls_from_response(response)
    assert (selection.tool_name, selection.tool_kwargs) == ("lookup_movie", {"title": "Heat"})
    assert selection.tool_id.startswith("call_")
    assert fake.grammars == [False]
    assert "<tools>" in fake.prompts[0] and '"name": "search_movies"' in fake.prompts[0]
    assert response.additional_kwargs["prompt_tokens"] == len(fake.prompts[0].split())
    assert response.additional_kwargs["completion_tokens"] > 0


@pytest.mark.parametrize("replies", [
    ['{"name": "lookup_movie", "arguments": {"title": "Heat", "year": None}}'],  # parsed as written
    ['<tool_call>\n{"name": "lookup_movie", "arguments": {title: Heat}}', '{"name": "lookup_movie", "arguments": {"title": "Heat"}}'],  # forced
])
def test_a_call_comes_back_in_the_next_prompt_exactly_as_the_model_wrote_it(replies):
    llm, fake = scripted_llm(*replies, "Michael Mann.")
    question = ChatMessage(role="user", content="Who directed Heat?")
    call = llm.chat_with_tools(TOOL_OBJECTS, chat_history=[question]).message
    result = ChatMessage(role="tool", content="Heat: Michael Mann", additional_kwargs={"tool_call_id": "c1"})
    llm.chat_with_tools(TOOL_OBJECTS, chat_history=[question, call, result])
    before, after = fake.prompts[-2], fake.prompts[-1]
    assert after.startswith(before + replies[-1])  # so llama.cpp reuses every token of the call
    assert [s.tool_kwargs["title"] for s in llm.get_tool_calls_from_response(ChatResponse(message=call))] == ["Heat"]


def test_a_malformed_call_is_asked_again_under_the_grammar():
    llm, fake = scripted_llm('<tool_call>\n{"name": "lookup_movie", "arguments": {title: Heat}}\n</tool_call>',
                             '{"name": "lookup_movie", "arguments": {"title": "Heat"}}')
    response = llm.chat_with_tools(TOOL_OBJECTS, user_msg="Who directed Heat?")
    assert [s.tool_kwargs for s in llm.get_tool_calls_from_response(response)] == [{"title": "Heat"}]
    assert fake.grammars == [False, True]


def test_a_tool_result_the_model_invents_is_hidden_and_replaced_by_a_real_call():
    llm, fake = scripted_llm("Checking.\n<tool_response>\nHeat (2000), by nobody\n</tool_response>",
                             '{"name": "lookup_movie", "arguments": {"title": "Heat"}}')
    responses = list(llm.stream_chat_with_tools(TOOL_OBJECTS, user_msg="When was Heat made?"))
    assert "".join(r.delta or "" for r in responses) == "Checking.\n"
    assert llm.get_tool_calls_from_response(responses[-1])[0].tool_kwargs == {"title": "Heat"}
    assert fake.grammars == [False, True]


def test_without_retry_a_malformed_call_is_a_clear_error():
    llm, _ = scripted_llm("<tool_call>\nnot json\n</tool_call>", retry_malformed_tool_calls=False)
    with pytest.raises(MalformedOutputError) as caught:
        llm.chat_with_tools(TOOL_OBJECTS, user_msg="Who directed Heat?")
    assert "not json" in caught.value.text


def test_required_and_named_tool_choices_are_generated_under_the_grammar():
    llm, fake = scripted_llm('{"name": "search_movies", "arguments": {"query": "heist", "limit": 3}}',
                             '{"name": "lookup_movie", "arguments": {"title": "Alien"}}')
    required = llm.chat_with_tools(TOOL_OBJECTS, user_msg="anything", tool_required=True)
    named = llm.chat_with_tools(TOOL_OBJECTS, user_msg="anything", tool_choice="lookup_movie")
    assert llm.get_tool_calls_from_response(required)[0].tool_kwargs == {"query": "heist", "limit": 3}
    assert llm.get_tool_calls_from_response(named)[0].tool_name == "lookup_movie"
    assert fake.grammars == [True, True]
    with pytest.raises(ValueError, match="not among the tools"):
        llm.chat_with_tools(TOOL_OBJECTS, user_msg="x", tool_choice="delete_everything")


def test_a_constrained_call_that_still_does_not_parse_raises():
    llm, _ = scripted_llm('{"name": "lookup_movie", "arguments": {"title": ')  # cut at max_tokens
    with pytest.raises(MalformedOutputError, match="did not parse"):
        llm.chat_with_tools(TOOL_OBJECTS, user_msg="x", tool_required=True)


def test_repeating_a_call_already_answered_this_turn_gets_a_plain_answer_instead():
    llm, fake = scripted_llm(CALL, "Michael Mann directed Heat.")
    history = conversation_with_a_tool_round()[:4]
    response = llm.chat_with_tools(TOOL_OBJECTS, chat_history=history)
    assert llm.get_tool_calls_from_response(response, error_on_no_tool_call=False) == []
    assert response.message.content == "Michael Mann directed Heat."
    assert "<tools>" not in fake.prompts[1]  # the second try is offered no tools


def test_no_call_where_one_is_required_is_a_clear_error():
    llm, _ = scripted_llm("Heat was directed by Michael Mann.")
    response = llm.chat_with_tools(TOOL_OBJECTS, user_msg="Who directed Heat?")
    with pytest.raises(MalformedOutputError, match="expected a tool call"):
        llm.get_tool_calls_from_response(response)


def test_streaming_shows_the_prose_and_hides_the_call():
    llm, _ = scripted_llm("Let me look that up.\n" + CALL)
    responses = list(llm.stream_chat_with_tools(TOOL_OBJECTS, user_msg="Who directed Heat?"))
    shown = "".join(r.delta or "" for r in responses)
    assert shown == "Let me look that up.\n" and "tool_call" not in shown
    assert responses[-1].message.content == shown
    assert llm.get_tool_calls_from_response(responses[-1])[0].tool_kwargs == {"title": "Heat"}


def test_a_prompt_too_long_for_the_context_is_a_local_llm_error():
    llm, _ = scripted_llm("unused", context_window=64)
    with pytest.raises(LocalLLMError, match="does not fit"):
        llm.chat([ChatMessage(role="user", content="word " * 100)])


# -- structured output -------------------------------------------------------------------------------------

class Pick(BaseModel):
    id: int
    reason: str


class Picks(BaseModel):
    picks: list[Pick]


PROMPT = PromptTemplate("Pick films for: {mood}")


def test_structured_output_is_grammar_constrained_and_validated():
    llm, fake = scripted_llm('{"picks": [{"id": 7, "reason": "Tense."}]}')
    picks = llm.structured_predict(Picks, PROMPT, mood="tense")
    assert picks == Picks(picks=[Pick(id=7, reason="Tense.")])
    assert fake.grammars == [True] and "Pick films for: tense" in fake.prompts[0]
    assert '"picks"' in fake.prompts[0]  # the schema is in the prompt too
    assert "<tools>" not in fake.prompts[0]  # not through tool calling


@pytest.mark.parametrize("reply", ['{"picks": [{"id": "seven", "reason": "x"}]}', '{"picks": [{"id": 7, "rea'])
def test_structured_output_that_does_not_fit_raises_malformed_output(reply):
    llm, _ = scripted_llm(reply)
    with pytest.raises(MalformedOutputError, match="does not fit Picks") as caught:
        llm.structured_predict(Picks, PROMPT, mood="tense")
    assert caught.value.text == reply


async def test_async_structured_output():
    llm, _ = scripted_llm('{"picks": []}')
    assert await llm.astructured_predict(Picks, PROMPT, mood="calm") == Picks(picks=[])


# -- sharing and async -----------------------------------------------------------------------------------

def test_concurrent_callers_take_turns_on_the_model():
    llm, fake = scripted_llm(*[f'{{"picks": [{{"id": {i}, "reason": "r"}}]}}' for i in range(6)])
    results, errors = [], []

    def call():
        try:
            results.append(llm.structured_predict(Picks, PROMPT, mood="x").picks[0].id)
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)
    threads = [threading.Thread(target=call) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and sorted(results) == list(range(6))


async def test_abandoning_an_async_stream_stops_generation_and_frees_the_model():
    llm, fake = scripted_llm("word " * 200, "second reply")
    fake.chunk = 1
    stream = await llm.astream_chat([ChatMessage(role="user", content="talk")])
    async for _ in stream:
        break
    await stream.aclose()
    second = await asyncio.wait_for(llm.achat([ChatMessage(role="user", content="again")]), timeout=10)
    assert second.message.content == "second reply"


async def test_function_agent_over_two_turns_sees_tool_results_in_its_prompt():
    llm, fake = scripted_llm(CALL, "Heat was directed by Zelda Okonkwo.",
                             '```json\n{"name": "lookup_movie", "arguments": {"title": "Alien"}}\n```',
                             "Alien too: Zelda Okonkwo.")
    agent = FunctionAgent(tools=TOOL_OBJECTS, llm=llm, system_prompt="You recommend movies.")
    memory = Memory.from_defaults(session_id="t", token_limit=3000)
    first = await agent.run(user_msg="Who directed Heat?", memory=memory)
    second = await agent.run(user_msg="And Alien?", memory=memory)
    assert str(first.response.content) == "Heat was directed by Zelda Okonkwo."
    assert str(second.response.content) == "Alien too: Zelda Okonkwo."
    assert "<tool_response>\nHeat: directed by Zelda Okonkwo in 1987\n</tool_response>" in fake.prompts[1]
    # the second turn's first prompt carries the whole first turn, call and result included
    assert '{"name": "lookup_movie", "arguments": {"title": "Heat"}}' in fake.prompts[2]
    assert "Alien: directed by Zelda Okonkwo in 1987" in fake.prompts[3]


# -- the prompt-head cache ---------------------------------------------------------------------------------

def conversation(system: str, *user_turns: str) -> list[ChatMessage]:
    return [ChatMessage(role="system", content=system), *(ChatMessage(role="user", content=u) for u in user_turns)]


def test_a_second_prompt_with_the_same_head_evaluates_only_its_new_tokens():
    llm, fake = scripted_llm("one", "two", "three")
    llm.chat(conversation("You are the agent with a long fixed policy.", "first question"))
    llm.chat(conversation("You rerank candidates with other fixed rules.", "candidates here"))
    third = llm.chat(conversation("You are the agent with a long fixed policy.", "first question", "second"))
    sent, cached = third.additional_kwargs["prompt_tokens"], third.additional_kwargs["cached_tokens"]
    assert fake.loads == 1  # the agent's state came back after the rerank's prompt had replaced it
    assert 0 < sent - cached == fake.evaluated[-1] < sent  # what was reported is what the model evaluated
    assert sent - cached <= 4  # "second", the turn markers around it, and one token llama.cpp always redoes


def test_a_new_process_starts_with_the_head_an_earlier_one_evaluated_and_stored_alone(tmp_path):
    from index.llm.prompt_cache import HeadStore
    from index.llm.rendering import render_messages
    from index.llm.runtime import LlamaRuntime
    from index.llm.turns import Turn

    def run(fake, *user_turns):
        runtime = LlamaRuntime(fake, store=HeadStore(tmp_path / "heads", "scripted:n_ctx 4096"))
        turn = Turn({})
        prompt = render_messages(conversation("You are the agent with a long fixed policy.", *user_turns))
        "".join(runtime.generate(prompt, turn, None, context_window=4096, max_tokens=8, temperature=0.0))
        return turn.usage, fake.evaluated[-1]

    earlier = ScriptedLlama("one")
    first, _ = run(earlier, "my secret first question")
    assert first["cached_tokens"] == 0  # the head was evaluated here, then stored
    later = ScriptedLlama("two")
    later.vocabulary = earlier.vocabulary  # the same model: the same token ids
    second, evaluated = run(later, "another person")
    head = len("<|im_start|>system You are the agent with a long fixed policy.<|im_end|>".split())
    assert later.loads == 1 and second["cached_tokens"] == head  # the stored head came back
    assert evaluated == second["prompt_tokens"] - head
    stored = HeadStore(tmp_path / "heads", "scripted:n_ctx 4096").get("You are the agent with a long fixed policy.")
    assert stored.n_tokens == head and earlier.vocabulary[b"secret"] not in stored.input_ids  # nobody's words
    assert HeadStore(tmp_path / "heads", "another model").get("You are the agent with a long fixed policy.") is None


def test_a_folder_that_cannot_hold_heads_only_costs_the_head_again(tmp_path, caplog):
    from index.llm.prompt_cache import HeadStore
    from index.llm.runtime import LlamaRuntime

    (tmp_path / "taken").write_text("a file, not a folder")
    llm, fake = scripted_llm("fine")
    llm._runtime = LlamaRuntime(fake, store=HeadStore(tmp_path / "taken", "scripted"))
    assert llm.chat(conversation("Head.", "x")).message.content == "fine"
    assert "not kept on disk" in caplog.text


def test_a_state_of_another_head_is_not_loaded_and_heads_past_the_limit_are_dropped():
    llm, fake = scripted_llm("a", "b", "c", "d", prompt_heads=1)
    llm.chat(conversation("Head one.", "x"))
    llm.chat(conversation("Head two.", "y"))
    again = llm.chat(conversation("Head one.", "x"))  # head one's state was dropped for head two's
    assert fake.loads == 0 and again.additional_kwargs["cached_tokens"] < again.additional_kwargs["prompt_tokens"] // 2


async def test_structured_output_streams_partial_objects_then_the_validated_one():
    text = '{"picks": [{"id": 7, "reason": "Tense."}, {"id": 9, "reason": "Dark."}]}'
    llm, _ = scripted_llm(text)
    partials = [p async for p in await llm.astream_structured_predict(Picks, PROMPT, mood="tense")]
    assert partials[-1] == Picks(picks=[Pick(id=7, reason="Tense."), Pick(id=9, reason="Dark.")])
    # a reason being written is cut where it stops (the rerank shows only whole ones): its id is whole
    written = [p for partial in partials[:-1] for p in getattr(partial, "picks", None) or [] if isinstance(p, dict)]
    assert all(p.get("reason") is None or p["id"] in (7, 9) and ("Tense.", "Dark.")[p["id"] == 9].startswith(
        p["reason"]) for p in written)
    assert {p.get("reason") for p in written} - {None, "Tense.", "Dark."} and len(partials) > 3
