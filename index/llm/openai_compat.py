"""CompatibleOpenAILike: `--llm openai-like`, including llama-cpp-python's own OpenAI-compatible server.

Checked against `python -m llama_cpp.server` 0.3.36, with the GGUF's chat template and with
`--chat_format chatml-function-calling`:
- `response_format={"type": "json_schema", ...}` answers HTTP 500; it wants `{"type": "json_object", "schema": ...}`.
- `tool_choice="required"` answers 500 (chatml-function-calling) or is ignored (GGUF template), so LlamaIndex's
  `structured_predict`, which forces a tool call, fails either way.
- An assistant message with `content: null` (LlamaIndex sends that next to `tool_calls`) answers 500.
- chatml-function-calling's template has no `tool` role, so tool results never reach the model; it cannot
  stream tool calls; with the GGUF template no tool call is ever parsed out of the reply.
So a multi-turn FunctionAgent fails on the second request of its first turn.

With quirks on, this class uses the server as a plain chat endpoint and handles tools itself, the same way as
the in-process model (index/llm/local.py): tools described in the system turn, calls and results written as
text, forced calls and structured output constrained by `json_object` + `schema`. With quirks off it is
`OpenAILike` unchanged, native tool calling included (OpenAI, vLLM, Ollama, llama.cpp's C++ llama-server).

`MOVIEREC_LLM_QUIRKS` (or the `quirks` field): `llama-cpp-python` on, `none` off, `auto` (default) on when
`GET {api_base}/models` lists a model `owned_by: "me"`, which is how llama-cpp-python's server answers.
With quirks on, replies are capped at QUIRK_MAX_TOKENS unless `max_tokens` is set (the server's default is
unlimited). Run that server with the GGUF's own chat template: `chatml-function-calling` HTML-escapes every
message (`"` becomes `&#34;`), which no client can undo.
"""

from __future__ import annotations

import asyncio
import os
import threading
from typing import Any, AsyncIterator, Iterator, Literal, Sequence, Type

import httpx
from llama_index.core.base.llms.types import ChatMessage, ChatResponse, ChatResponseAsyncGen, ChatResponseGen
from llama_index.core.bridge.pydantic import Field, PrivateAttr
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.program.utils import FlexibleModel
from llama_index.core.prompts import BasePromptTemplate
from llama_index.llms.openai_like import OpenAILike

from index.llm.rendering import TOOL_REMINDER
from index.llm.structured import Model, aschema_predict, astream_schema_predict, schema_predict
from index.llm.turns import Turn, assistant_turn, iterate_in_thread, last_response, run_in_thread

QUIRKS_ENV = "MOVIEREC_LLM_QUIRKS"
LLAMA_CPP_PYTHON = "llama-cpp-python"
Quirks = Literal["auto", "llama-cpp-python", "none"]
DETECT_TIMEOUT = 5.0
QUIRK_MAX_TOKENS = 1024  # its chat endpoint otherwise writes until the context is full
TOOL_KEYS = ("tools", "tool_choice", "parallel_tool_calls", "response_format")

dispatcher = get_dispatcher(__name__)


class CompatibleOpenAILike(OpenAILike):
    """OpenAILike that does tools and structured output client-side on servers that cannot."""

    quirks: Quirks = Field(default_factory=lambda: os.environ.get(QUIRKS_ENV, "auto") or "auto",
                           description=f"auto | {LLAMA_CPP_PYTHON} | none (env {QUIRKS_ENV})")
    tool_reminder: str | None = Field(default=TOOL_REMINDER,
                                      description="with quirks on: appended to the newest user turn when tools are offered")

    _detected: bool | None = PrivateAttr(default=None)
    _detect_lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @classmethod
    def class_name(cls) -> str:
        return "CompatibleOpenAILike"

    @property
    def quirky(self) -> bool:
        """Whether the server needs the client-side handling; `auto` asks the server once."""
        if self.quirks != "auto":
            return self.quirks == LLAMA_CPP_PYTHON
        with self._detect_lock:
            if self._detected is None:
                self._detected = self._looks_like_llama_cpp_python()
            return self._detected

    def _looks_like_llama_cpp_python(self) -> bool:
        try:
            response = httpx.get(self.api_base.rstrip("/") + "/models", timeout=DETECT_TIMEOUT,
                                 headers={"Authorization": f"Bearer {self.api_key}"})
            models = response.json().get("data", [])
        except (httpx.HTTPError, ValueError, AttributeError):
            return False  # nothing to go on: behave like a standard server
        return any(isinstance(m, dict) and m.get("owned_by") == "me" for m in models)

    @property
    def streams_partial_json(self) -> bool:
        """With quirks on, `astream_structured_predict` yields partial objects as the JSON streams in."""
        return self.quirky

    async def _aquirky(self) -> bool:
        if self.quirks != "auto" or self._detected is not None:
            return self.quirky
        return await asyncio.to_thread(lambda: self.quirky)  # the first check is a blocking HTTP request

    # -- chat: the public methods (events, callbacks) stay OpenAI's; these are what they call ---------------

    def _chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        if not self.quirky:
            return super()._chat(messages, **kwargs)
        return last_response(self._reply(messages, kwargs, stream=False))

    def _stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        if not self.quirky:
            return super()._stream_chat(messages, **kwargs)
        return self._reply(messages, kwargs, stream=True)

    async def _achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        if not await self._aquirky():
            return await super()._achat(messages, **kwargs)
        return await run_in_thread(lambda cancel: last_response(self._reply(messages, kwargs, False, cancel)))

    async def _astream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseAsyncGen:
        if not await self._aquirky():
            return await super()._astream_chat(messages, **kwargs)
        return iterate_in_thread(lambda cancel: self._reply(messages, kwargs, True, cancel))

    def _reply(self, messages: Sequence[ChatMessage], kwargs: dict[str, Any], stream: bool,
               cancel: threading.Event | None = None) -> Iterator[ChatResponse]:
        tools = [_plain_spec(t) for t in kwargs.get("tools") or []]
        request = {"tools": tools, "tool_choice": kwargs.get("tool_choice"),
                   "allow_parallel_tool_calls": kwargs.get("parallel_tool_calls", True),
                   "response_format": kwargs.get("response_format")}
        options = {k: v for k, v in kwargs.items() if k not in TOOL_KEYS}
        if self.max_tokens is None:
            options.setdefault("max_tokens", QUIRK_MAX_TOKENS)

        def generate(turns: list[dict[str, str]], turn: Turn, schema: dict[str, Any] | None) -> Iterator[str]:
            plain = [ChatMessage(role=t["role"], content=t["content"]) for t in turns]
            extra = {"response_format": {"type": "json_object", "schema": schema}} if schema is not None else {}
            if not stream:
                response = OpenAILike._chat(self, plain, **turn.options, **extra)
                for key in turn.usage:
                    turn.usage[key] += int(response.additional_kwargs.get(key, 0) or 0)
                yield response.message.content or ""
                return
            for chunk in OpenAILike._stream_chat(self, plain, **turn.options, **extra):
                if turn.cancelled:
                    break
                yield chunk.delta or ""

        return assistant_turn(messages, request, generate, Turn(options, cancel), reminder=self.tool_reminder)

    # -- structured output ---------------------------------------------------------------------------------

    def _should_use_structure_outputs(self) -> bool:
        # OpenAI's streaming structured path then sends a json_schema response_format, rewritten by _reply.
        return self.quirky or super()._should_use_structure_outputs()

    @dispatcher.span
    def structured_predict(self, output_cls: Type[Model], prompt: BasePromptTemplate,
                           llm_kwargs: dict[str, Any] | None = None, **prompt_args: Any) -> Model:
        if not self.quirky:
            return super().structured_predict(output_cls, prompt, llm_kwargs, **prompt_args)
        return schema_predict(self, output_cls, prompt, llm_kwargs, prompt_args)

    @dispatcher.span
    async def astructured_predict(self, output_cls: Type[Model], prompt: BasePromptTemplate,
                                  llm_kwargs: dict[str, Any] | None = None, **prompt_args: Any) -> Model:
        if not await self._aquirky():
            return await super().astructured_predict(output_cls, prompt, llm_kwargs, **prompt_args)
        return await aschema_predict(self, output_cls, prompt, llm_kwargs, prompt_args)

    @dispatcher.span
    async def astream_structured_predict(self, output_cls: Type[Model], prompt: BasePromptTemplate,
                                         llm_kwargs: dict[str, Any] | None = None,
                                         **prompt_args: Any) -> AsyncIterator[Model | FlexibleModel]:
        if not await self._aquirky():
            return await super().astream_structured_predict(output_cls, prompt, llm_kwargs, **prompt_args)
        return astream_schema_predict(self, output_cls, prompt, llm_kwargs, prompt_args)


def _plain_spec(tool: dict[str, Any]) -> dict[str, Any]:
    """{"type": "function", "function": {...}} as LlamaIndex's OpenAI class sends it → name/description/parameters."""
    function = tool.get("function", tool)
    return {"name": function["name"], "description": function.get("description", ""),
            "parameters": function.get("parameters") or {"type": "object", "properties": {}}}
