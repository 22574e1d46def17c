"""LocalLlamaCPP: a GGUF model run in-process by llama.cpp, as a LlamaIndex FunctionCallingLLM.

Tools, calls and results travel as text in the prompt (index/llm/rendering.py, turns.py); structured output
(`structured_predict`) is constrained to the output class's JSON schema, then validated. Output that still
does not fit raises `MalformedOutputError`; llama.cpp failures raise `LocalLLMError`.
`shared_local_llm` loads a model once per file per process and every copy shares its runtime and lock.
Async methods run the sync path in a worker thread; cancelling them stops generation at the next token.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, AsyncIterator, Iterator, Sequence, Type

from llama_index.core.base.llms.generic_utils import (
    achat_to_completion_decorator,
    astream_chat_to_completion_decorator,
    chat_to_completion_decorator,
    stream_chat_to_completion_decorator,
)
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseAsyncGen,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseAsyncGen,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
    ToolCallBlock,
)
from llama_index.core.bridge.pydantic import Field, PrivateAttr
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.llms.llm import ToolSelection
from llama_index.core.program.utils import FlexibleModel
from llama_index.core.prompts import BasePromptTemplate
from llama_index.core.types import PydanticProgramMode

from index.llm.errors import MalformedOutputError
from index.llm.prompt_cache import MAX_HEADS
from index.llm.rendering import TOOL_REMINDER, tool_specs
from index.llm.runtime import LlamaRuntime
from index.llm.structured import Model, aschema_predict, astream_schema_predict, schema_predict
from index.llm.toolcalls import tool_arguments
from index.llm.turns import Turn, assistant_turn, iterate_in_thread, last_response, run_in_thread

dispatcher = get_dispatcher(__name__)

SAMPLING_KEYS = frozenset({"temperature", "top_p", "top_k", "min_p", "repeat_penalty", "presence_penalty",
                           "frequency_penalty", "seed", "max_tokens", "stop"})


class LocalLlamaCPP(FunctionCallingLLM):
    """A GGUF chat model in this process, with tool calling and schema-constrained structured output."""

    model_path: str = Field(description="the GGUF file")
    context_window: int = Field(default=4096, gt=0, description="n_ctx: prompt plus reply, in tokens")
    n_threads: int = Field(default=2, gt=0, description="CPU threads for llama.cpp")
    max_new_tokens: int = Field(default=512, gt=0, description="reply length cap unless a call passes max_tokens")
    temperature: float = Field(default=0.2, ge=0.0)
    generate_kwargs: dict[str, Any] = Field(default_factory=dict,
                                            description="other llama.cpp sampling options (top_p, seed, ...)")
    retry_malformed_tool_calls: bool = Field(default=True,
                                             description="re-ask with a grammar when a written call does not parse")
    tool_reminder: str | None = Field(default=TOOL_REMINDER,
                                      description="appended to the newest user turn when tools are offered")
    prompt_heads: int = Field(default=MAX_HEADS, ge=0,
                              description="llama.cpp states kept, one per prompt head (system turn); 0: none")
    head_store: str | None = Field(default=None, description="a folder keeping head-only states for later runs "
                                                             "(index/llm/prompt_cache.py); None: not kept")

    _runtime: LlamaRuntime = PrivateAttr()

    def __init__(self, model_path: str | Path, llama: Any = None, **kwargs: Any) -> None:
        """`llama`: an already loaded `llama_cpp.Llama` (or a stand-in in tests) instead of loading the file."""
        super().__init__(model_path=str(model_path), **kwargs)
        self._runtime = (LlamaRuntime(llama, self.prompt_heads) if llama is not None else
                         LlamaRuntime.load(self.model_path, self.context_window, self.n_threads, self.prompt_heads,
                                           self.head_store))

    @classmethod
    def class_name(cls) -> str:
        return "LocalLlamaCPP"

    @property
    def streams_partial_json(self) -> bool:
        """`astream_structured_predict` yields partial objects as the JSON is generated."""
        return self.pydantic_program_mode == PydanticProgramMode.DEFAULT

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(context_window=self.context_window, num_output=self.max_new_tokens,
                           is_chat_model=True, is_function_calling_model=True,
                           model_name=Path(self.model_path).name)

    # -- chat ----------------------------------------------------------------------------------------------

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        return last_response(self._reply(messages, kwargs))

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        return self._reply(messages, kwargs)

    @llm_chat_callback()
    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        return await run_in_thread(lambda cancel: last_response(self._reply(messages, kwargs, cancel)))

    @llm_chat_callback()
    async def astream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseAsyncGen:
        return iterate_in_thread(lambda cancel: self._reply(messages, kwargs, cancel))

    # Completion is chat with one user turn: the chat template is always applied.
    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return chat_to_completion_decorator(lambda m, **kw: last_response(self._reply(m, kw)))(prompt, **kwargs)

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        return stream_chat_to_completion_decorator(lambda m, **kw: self._reply(m, kw))(prompt, **kwargs)

    @llm_completion_callback()
    async def acomplete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        async def achat(messages: Sequence[ChatMessage], **kw: Any) -> ChatResponse:
            return await run_in_thread(lambda cancel: last_response(self._reply(messages, kw, cancel)))
        return await achat_to_completion_decorator(achat)(prompt, **kwargs)

    @llm_completion_callback()
    async def astream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseAsyncGen:
        async def astream(messages: Sequence[ChatMessage], **kw: Any) -> ChatResponseAsyncGen:
            return iterate_in_thread(lambda cancel: self._reply(messages, kw, cancel))
        return await astream_chat_to_completion_decorator(astream)(prompt, **kwargs)

    # -- tools ---------------------------------------------------------------------------------------------

    def _prepare_chat_with_tools(self, tools: Sequence[Any], user_msg: str | ChatMessage | None = None,
                                 chat_history: list[ChatMessage] | None = None, verbose: bool = False,
                                 allow_parallel_tool_calls: bool = False, tool_required: bool = False,
                                 tool_choice: str | dict | None = None, **kwargs: Any) -> dict[str, Any]:
        messages = list(chat_history or [])
        if user_msg is not None:
            messages.append(ChatMessage(role=MessageRole.USER, content=user_msg) if isinstance(user_msg, str)
                            else user_msg)
        return {"messages": messages, "tools": tool_specs(tools),
                "tool_choice": tool_choice if tool_choice is not None else "required" if tool_required else "auto",
                "allow_parallel_tool_calls": allow_parallel_tool_calls, **kwargs}

    def _validate_chat_with_tools_response(self, response: ChatResponse, tools: Sequence[Any],
                                           allow_parallel_tool_calls: bool = False, **kwargs: Any) -> ChatResponse:
        calls = [b for b in response.message.blocks if isinstance(b, ToolCallBlock)]
        if not allow_parallel_tool_calls and len(calls) > 1:
            response.message.blocks = [b for b in response.message.blocks
                                       if not isinstance(b, ToolCallBlock) or b is calls[0]]
        return response

    def get_tool_calls_from_response(self, response: ChatResponse, error_on_no_tool_call: bool = True,
                                     **kwargs: Any) -> list[ToolSelection]:
        selections = []
        for block in response.message.blocks:
            if isinstance(block, ToolCallBlock):
                arguments = tool_arguments(block.tool_kwargs)
                if not isinstance(arguments, dict):
                    raise MalformedOutputError(f"arguments of {block.tool_name} are not a JSON object", str(arguments))
                selections.append(ToolSelection(tool_id=block.tool_call_id or block.tool_name,
                                                tool_name=block.tool_name, tool_kwargs=arguments))
        if not selections and error_on_no_tool_call:
            raise MalformedOutputError("expected a tool call, but the model answered in text",
                                       response.message.content or "")
        return selections

    # -- structured output -----------------------------------------------------------------------------------

    @dispatcher.span
    def structured_predict(self, output_cls: Type[Model], prompt: BasePromptTemplate,
                           llm_kwargs: dict[str, Any] | None = None, **prompt_args: Any) -> Model:
        if self.pydantic_program_mode != PydanticProgramMode.DEFAULT:
            return super().structured_predict(output_cls, prompt, llm_kwargs, **prompt_args)
        return schema_predict(self, output_cls, prompt, llm_kwargs, prompt_args)

    @dispatcher.span
    async def astructured_predict(self, output_cls: Type[Model], prompt: BasePromptTemplate,
                                  llm_kwargs: dict[str, Any] | None = None, **prompt_args: Any) -> Model:
        if self.pydantic_program_mode != PydanticProgramMode.DEFAULT:
            return await super().astructured_predict(output_cls, prompt, llm_kwargs, **prompt_args)
        return await aschema_predict(self, output_cls, prompt, llm_kwargs, prompt_args)

    @dispatcher.span
    async def astream_structured_predict(self, output_cls: Type[Model], prompt: BasePromptTemplate,
                                         llm_kwargs: dict[str, Any] | None = None,
                                         **prompt_args: Any) -> AsyncIterator[Model | FlexibleModel]:
        if self.pydantic_program_mode != PydanticProgramMode.DEFAULT:
            return await super().astream_structured_predict(output_cls, prompt, llm_kwargs, **prompt_args)
        return astream_schema_predict(self, output_cls, prompt, llm_kwargs, prompt_args)

    # -- generation ----------------------------------------------------------------------------------------

    def _reply(self, messages: Sequence[ChatMessage], kwargs: dict[str, Any],
               cancel: threading.Event | None = None) -> Iterator[ChatResponse]:
        options = {**self.generate_kwargs, **{k: v for k, v in kwargs.items() if k in SAMPLING_KEYS}}
        return assistant_turn(messages, kwargs, self._generate, Turn(options, cancel),
                              reminder=self.tool_reminder, retry=self.retry_malformed_tool_calls)

    def _generate(self, prompt: list[dict[str, str]], turn: Turn,
                  schema: dict[str, Any] | None = None) -> Iterator[str]:
        return self._runtime.generate(prompt, turn, schema, context_window=self.context_window,
                                      max_tokens=self.max_new_tokens, temperature=self.temperature)


_shared: dict[Path, LocalLlamaCPP] = {}
_shared_lock = threading.Lock()


def shared_local_llm(path: Path, head_store: Path | None = None) -> LocalLlamaCPP:
    """The model at `path`, loaded on first use and then shared by every caller in this process; the first
    caller's `head_store` folder keeps its prompt heads for later runs."""
    key = Path(path).expanduser().resolve()
    with _shared_lock:
        if key not in _shared:
            _shared[key] = LocalLlamaCPP(model_path=key, head_store=str(head_store) if head_store else None)
        return _shared[key]
