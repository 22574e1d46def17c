"""The per-turn LLM meter (agent/usage.py), driven by the instrumentation events LlamaIndex dispatches."""

from llama_index.core.base.llms.types import ChatResponse
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.events.llm import LLMChatEndEvent, LLMStructuredPredictStartEvent
from llama_index.core.llms import ChatMessage
from llama_index.core.prompts import PromptTemplate

from agent.usage import metered
from tools.preferences.llm_reader import Reading

dispatcher = get_dispatcher(__name__)


def chat_ended(prompt_tokens, cached_tokens, completion_tokens=5):
    response = ChatResponse(message=ChatMessage(role="assistant", content="Which era?"),
                            additional_kwargs={"prompt_tokens": prompt_tokens, "cached_tokens": cached_tokens,
                                               "completion_tokens": completion_tokens})
    dispatcher.event(LLMChatEndEvent(messages=[], response=response))


def structured_started():
    dispatcher.event(LLMStructuredPredictStartEvent(output_cls=Reading, template=PromptTemplate("x"),
                                                    template_args={}))


def test_inner_meters_add_to_the_turn_and_a_call_cut_off_inside_one_leaves_the_rest_counted():
    with metered() as turn:
        with metered() as reading:
            structured_started()  # the reading times out: its end event never comes
            chat_ended(700, 600)
        chat_ended(1200, 1000)  # the agent's own call, after it
    assert (reading.calls, reading.tokens_evaluated) == (1, 100)
    assert (turn.calls, turn.tokens_in, turn.tokens_evaluated, turn.tokens_out) == (2, 1900, 300, 10)

