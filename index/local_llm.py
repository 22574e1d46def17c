"""LocalLlamaCPP: a GGUF model run in-process by llama.cpp, as a LlamaIndex FunctionCallingLLM.

Prompts go through the model's own chat template (read from the GGUF), but tools, tool calls and tool
results are written as plain text inside the system / assistant / user turns (`<tools>`, `<tool_call>`,
`<tool_response>`), so every template works and each turn of a conversation is rendered the same way.

Tool calls: with `tool_choice="auto"` the model writes them itself and the reply is parsed (tags, a fenced
JSON block or bare JSON; Python literals tolerated). When a tool is required, or a written call cannot be
parsed, or the model writes a `<tool_response>` of its own, generation is constrained by a JSON-schema
grammar to `{"name": <tool>, "arguments": {...}}`. A call that repeats one already answered in the same
turn is dropped for a plain answer. Short reminders on the newest user turn and after tool results keep a
1.5B model from answering from memory or echoing the question (both seen with Qwen).
Structured output (`structured_predict`) is constrained to the output class's JSON schema, then validated.
Output that still does not fit raises `MalformedOutputError`; llama.cpp failures raise `LocalLLMError`.

`shared_local_llm` loads a model once per file per process; every llama.cpp call holds the instance's
lock, so concurrent chat sessions can share it. Async methods run the sync path in a worker thread, and
cancelling them stops generation at the next token.
"""

from __future__ import annotations

import ast
import asyncio
import json
import re
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Collection, Iterator, Sequence, Type, TypeVar

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
    TextBlock,
    ToolCallBlock,
)
from llama_index.core.bridge.pydantic import BaseModel, Field, PrivateAttr, ValidationError
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.events.llm import (
    LLMStructuredPredictEndEvent,
    LLMStructuredPredictStartEvent,
)
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.llms.llm import LLM, ToolSelection
from llama_index.core.prompts import BasePromptTemplate
from llama_index.core.types import PydanticProgramMode

dispatcher = get_dispatcher(__name__)
Model = TypeVar("Model", bound=BaseModel)
T = TypeVar("T")

SAMPLING_KEYS = frozenset({"temperature", "top_p", "top_k", "min_p", "repeat_penalty", "presence_penalty",
                           "frequency_penalty", "seed", "max_tokens", "stop"})
MIN_ROOM = 32  # tokens a reply needs at least; less than that left in the context is an error, not a stub

TOOLS_PROMPT = """# Tools
You can call these functions; their JSON signatures are inside <tools></tools>:
<tools>
{signatures}
</tools>
To call one, reply with nothing but:
<tool_call>
{{"name": <function name>, "arguments": <JSON object of arguments>}}
</tool_call>
Each result comes back inside <tool_response></tool_response>. When the results answer the request, \
reply to the user in plain text; never repeat a call you already made."""

# Small models copy the last few turns: after two plain answers Qwen 1.5B stops calling tools (0 of 4
# samples) unless the newest user turn reminds it (3 of 4).
TOOL_REMINDER = "(If a function can answer this, call it.)"
# Without it small models often echo the question back after a <tool_response> turn (seen with Qwen 1.5B).
RESULTS_REMINDER = "Answer the user with these results, or call another function if you need more."

_TAG = re.compile(r"<tool_call>(.*?)(?:</tool_call>|$)", re.S)
_FENCE = re.compile(r"```[\w-]*[ \t]*\n?(.*?)(?:```|$)", re.S)
# A model that writes <tool_response> itself is inventing a result it wanted: it gets a real call instead.
_MARKERS = ("<tool_call>", "```", "<tool_response>")


class LocalLLMError(RuntimeError):
    """llama.cpp could not answer (prompt too long for the context, a failed generation)."""


class MalformedOutputError(LocalLLMError, ValueError):
    """The model's output is not the tool call or JSON object that was asked for; `text` is what it wrote."""

    def __init__(self, message: str, text: str = ""):
        super().__init__(message)
        self.text = text


# -- parsing the model's replies ---------------------------------------------------------------------------

@dataclass(frozen=True)
class ParsedCall:
    name: str
    arguments: dict[str, Any]


@dataclass
class ParsedReply:
    text: str  # what the user should see: the whole reply, or the prose before the first tool call
    calls: list[ParsedCall] = field(default_factory=list)
    attempted: bool = False  # something looked like a tool call but did not parse or named no known tool


def parse_reply(text: str, tool_names: Collection[str]) -> ParsedReply:
    """Tool calls in a free-form reply: `<tool_call>` tags, else fenced JSON blocks, else a bare JSON reply.
    A reply that writes a `<tool_response>` itself counts as an attempted call."""
    for pattern, sure in ((_TAG, True), (_FENCE, False)):
        matches = list(pattern.finditer(text))
        calls: list[ParsedCall] = []
        attempted = False
        for match in matches:
            found, bad = _calls_in(match.group(1), tool_names, sure)
            calls += found
            attempted |= bad
        if calls or attempted:
            return ParsedReply(text[: matches[0].start()].strip(), calls, attempted and not calls)
    if (invented := text.find("<tool_response>")) >= 0:
        return ParsedReply(text[:invented].strip(), [], attempted=True)
    if text.lstrip().startswith(("{", "[")):
        calls, attempted = _calls_in(text, tool_names, sure=False)
        if calls or attempted:
            return ParsedReply("", calls, attempted and not calls)
    return ParsedReply(text.strip())


def _calls_in(payload: str, tool_names: Collection[str], sure: bool) -> tuple[list[ParsedCall], bool]:
    """(calls naming known tools, whether something call-like failed) in one tag or fence body."""
    payload = payload.strip()
    if payload.startswith("```"):  # a fence inside the tags
        payload = _FENCE.sub(lambda m: m.group(1), payload).strip()
    try:
        value, _ = json.JSONDecoder().raw_decode(payload)
    except ValueError:
        value = _python_literal(payload)  # Qwen writes `None` in calls now and then (seen in a real session)
        if value is None:
            return [], sure or '"name"' in payload
    calls, bad = [], False
    for item in value if isinstance(value, list) else [value]:
        call = _as_call(item)
        if call is not None and call.name in tool_names:
            calls.append(call)
        else:
            bad |= sure or (isinstance(item, dict) and ("name" in item or "function" in item))
    return calls, bad


def _python_literal(payload: str) -> dict | list | None:
    try:
        value = ast.literal_eval(payload)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    return value if isinstance(value, (dict, list)) else None


def _as_call(item: Any) -> ParsedCall | None:
    if isinstance(item, dict) and isinstance(item.get("function"), dict):  # the OpenAI wire shape
        item = item["function"]
    if not isinstance(item, dict) or not isinstance(item.get("name"), str):
        return None
    arguments = item.get("arguments", item.get("parameters", {}))
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments or "{}")
        except ValueError:
            return None
    return ParsedCall(item["name"], arguments) if isinstance(arguments, dict) else None


def call_schema(tools: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """JSON schema of exactly one call to one of `tools`, for grammar-constrained generation."""
    defs: dict[str, Any] = {}
    options = []
    for tool in tools:
        parameters = dict(tool.get("parameters") or {"type": "object", "properties": {}})
        defs.update(parameters.pop("$defs", {}))  # `$ref`s point at the root, so nested `$defs` move there
        options.append({"type": "object", "additionalProperties": False, "required": ["name", "arguments"],
                        "properties": {"name": {"const": tool["name"]}, "arguments": parameters}})
    schema: dict[str, Any] = options[0] if len(options) == 1 else {"anyOf": options}
    return {**schema, "$defs": defs} if defs else schema


# -- rendering a LlamaIndex conversation for a chat template -----------------------------------------------

def tool_specs(tools: Sequence[Any]) -> list[dict[str, Any]]:
    """Name, description and JSON parameters of LlamaIndex tools."""
    return [{"name": t.metadata.get_name(), "description": t.metadata.description,
             "parameters": t.metadata.get_parameters_dict()} for t in tools]


def render_messages(messages: Sequence[ChatMessage], tools: Sequence[dict[str, Any]] = (),
                    reminder: str | None = None) -> list[dict[str, str]]:
    """system/user/assistant turns for any chat template: tools in the system turn, calls and results as text."""
    system = [m.content for m in messages if m.role == MessageRole.SYSTEM and m.content]
    if tools:
        system.append(TOOLS_PROMPT.format(signatures="\n".join(json.dumps(t, ensure_ascii=False) for t in tools)))
    turns = [{"role": "system", "content": "\n\n".join(system)}] if system else []
    for message in messages:
        if message.role == MessageRole.SYSTEM:
            continue
        if message.role in (MessageRole.TOOL, MessageRole.FUNCTION):
            role, text = "user", f"<tool_response>\n{message.content or ''}\n</tool_response>"
        elif message.role == MessageRole.USER:
            role, text = "user", message.content or ""
        else:
            role, text = "assistant", _assistant_text(message)
            if not text:  # nothing to show, and some servers' templates break on an empty turn
                continue
        if turns and turns[-1]["role"] == role != "system":  # templates may insist on alternating turns
            turns[-1]["content"] += "\n" + text
        else:
            turns.append({"role": role, "content": text})
    for turn in turns:
        if turn["role"] == "user" and turn["content"].endswith("</tool_response>"):
            turn["content"] += "\n" + RESULTS_REMINDER
    if tools and reminder and messages and messages[-1].role == MessageRole.USER:
        turns[-1]["content"] += "\n\n" + reminder
    return turns


def _assistant_text(message: ChatMessage) -> str:
    parts = [b.text for b in message.blocks if isinstance(b, TextBlock) and b.text]
    for block in message.blocks:
        if isinstance(block, ToolCallBlock):
            call = {"name": block.tool_name, "arguments": _kwargs(block.tool_kwargs)}
            parts.append(f"<tool_call>\n{json.dumps(call, ensure_ascii=False)}\n</tool_call>")
    return "\n".join(parts)


def _kwargs(value: dict[str, Any] | str) -> Any:
    if isinstance(value, dict):
        return value
    try:
        return json.loads(value or "{}")
    except ValueError:
        return value


class _Holdback:
    """Splits streamed text into what can be shown at once and what may be the start of a tool call."""

    def __init__(self) -> None:
        self.shown, self.pending, self.capturing = "", "", False

    @property
    def text(self) -> str:
        return self.shown + self.pending

    def feed(self, delta: str) -> str:
        self.pending += delta
        if self.capturing:
            return ""
        if not self.shown and self.pending.lstrip().startswith(("{", "[")):
            self.capturing = True
            return ""
        starts = [i for i in (self.pending.find(m) for m in _MARKERS) if i >= 0]
        if starts:
            self.capturing = True
            cut = min(starts)
        elif not self.shown and not self.pending.strip():
            cut = 0  # leading whitespace: wait to see whether bare JSON follows
        else:
            cut = len(self.pending) - _marker_prefix(self.pending)
        out, self.pending = self.pending[:cut], self.pending[cut:]
        self.shown += out
        return out


def _marker_prefix(text: str) -> int:
    """Length of the longest end of `text` that could begin a marker."""
    return max((n for m in _MARKERS for n in range(1, len(m)) if text.endswith(m[:n])), default=0)


# -- the LLM ----------------------------------------------------------------------------------------------

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

    _llama: Any = PrivateAttr()
    _formatter: Any = PrivateAttr()
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def __init__(self, model_path: str | Path, llama: Any = None, **kwargs: Any) -> None:
        """`llama`: an already loaded `llama_cpp.Llama` (or a stand-in in tests) instead of loading the file."""
        super().__init__(model_path=str(model_path), **kwargs)
        self._llama = llama if llama is not None else self._load()
        from llama_cpp.llama_chat_format import CHATML_CHAT_TEMPLATE, Jinja2ChatFormatter

        special = lambda token: self._llama.detokenize([token], special=True).decode() if token >= 0 else ""  # noqa: E731
        self._formatter = Jinja2ChatFormatter(
            template=self._llama.metadata.get("tokenizer.chat_template") or CHATML_CHAT_TEMPLATE,
            eos_token=special(self._llama.token_eos()), bos_token=special(self._llama.token_bos()))

    def _load(self) -> Any:
        from llama_cpp import Llama

        from index.backends import BackendError

        try:
            return Llama(model_path=self.model_path, n_ctx=self.context_window, n_threads=self.n_threads,
                         verbose=False)
        except (ValueError, RuntimeError, OSError) as exc:
            raise BackendError(f"cannot load the GGUF model {self.model_path}: {exc}") from exc

    @classmethod
    def class_name(cls) -> str:
        return "LocalLlamaCPP"

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
                arguments = _kwargs(block.tool_kwargs)
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

    # -- generation ----------------------------------------------------------------------------------------

    def _reply(self, messages: Sequence[ChatMessage], kwargs: dict[str, Any],
               cancel: threading.Event | None = None) -> Iterator[ChatResponse]:
        options = {**self.generate_kwargs, **{k: v for k, v in kwargs.items() if k in SAMPLING_KEYS}}
        return assistant_turn(messages, kwargs, self._generate, Turn(options, cancel),
                              reminder=self.tool_reminder, retry=self.retry_malformed_tool_calls)

    def _generate(self, prompt: list[dict[str, str]], turn: Turn, schema: dict[str, Any] | None = None) -> Iterator[str]:
        """Text pieces of one completion; the model lock is held until they are exhausted or closed."""
        from llama_cpp import LlamaGrammar, StoppingCriteriaList

        with self._lock:
            try:
                rendered = self._formatter(messages=prompt)
                tokens = self._llama.tokenize(rendered.prompt.encode("utf-8"), add_bos=not rendered.added_special,
                                              special=True)
                room = self.context_window - len(tokens)
                if room < MIN_ROOM:
                    raise LocalLLMError(f"the prompt ({len(tokens)} tokens) does not fit the "
                                        f"{self.context_window}-token context")
                options = dict(turn.options)
                stop = _as_list(rendered.stop) + _as_list(options.pop("stop", None))
                grammar = LlamaGrammar.from_json_schema(json.dumps(schema), verbose=False) if schema else None
                turn.usage["prompt_tokens"] += len(tokens)
                chunks = self._llama.create_completion(
                    prompt=tokens, stream=True, grammar=grammar, stop=stop,
                    max_tokens=min(options.pop("max_tokens", None) or self.max_new_tokens, room),
                    temperature=options.pop("temperature", self.temperature),
                    stopping_criteria=StoppingCriteriaList([turn.on_token]), **options)
                try:
                    for chunk in chunks:
                        yield chunk["choices"][0]["text"]
                finally:
                    chunks.close()
            except (ValueError, RuntimeError) as exc:
                if isinstance(exc, LocalLLMError):
                    raise
                raise LocalLLMError(f"llama.cpp failed: {exc}") from exc


Generate = Callable[[list[dict[str, str]], "Turn", "dict[str, Any] | None"], Iterator[str]]


@dataclass
class Turn:
    """One assistant turn: sampling options, cancellation, token counts and the text streamed so far."""

    options: dict[str, Any]
    cancel: threading.Event | None = None
    usage: dict[str, int] = field(default_factory=lambda: {"prompt_tokens": 0, "completion_tokens": 0})
    text: str = ""

    @property
    def cancelled(self) -> bool:
        return self.cancel is not None and self.cancel.is_set()

    def on_token(self, _ids: Any, _logits: Any) -> bool:
        """llama.cpp's stopping criterion, called once per sampled token: count it, stop if cancelled."""
        self.usage["completion_tokens"] += 1
        return self.cancelled

    def stream(self, pieces: Iterator[str] | list[str]) -> Iterator[ChatResponse]:
        for piece in pieces:
            if piece:
                self.text += piece
                yield ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content=self.text), delta=piece)

    def final(self, calls: Sequence[ParsedCall]) -> ChatResponse:
        """The last response: all the text streamed, the tool calls, the token counts."""
        blocks: list[Any] = [TextBlock(text=self.text)]
        blocks += [ToolCallBlock(tool_call_id=f"call_{uuid.uuid4().hex[:12]}", tool_name=c.name,
                                 tool_kwargs=c.arguments) for c in calls]
        usage = {**self.usage, "total_tokens": sum(self.usage.values())} if any(self.usage.values()) else {}
        return ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, blocks=blocks), delta="",
                            raw={"usage": usage} if usage else None, additional_kwargs=usage)


def assistant_turn(messages: Sequence[ChatMessage], kwargs: dict[str, Any], generate: Generate, turn: Turn, *,
                   reminder: str | None = TOOL_REMINDER, retry: bool = True) -> Iterator[ChatResponse]:
    """The assistant's reply as a stream of responses, tools handled in the prompt; the last response
    carries the tool calls and token counts. `generate(turns, turn, schema)` yields text pieces."""
    tools = list(kwargs.get("tools") or [])
    choice = kwargs.get("tool_choice") or "auto"
    schema = response_schema(kwargs)
    if schema is not None or not tools or choice == "none":
        yield from turn.stream(generate(render_messages(messages), turn, schema))
        yield turn.final([])
        return
    prompt = render_messages(messages, tools, reminder)
    if choice != "auto":  # "required", "any", a tool name or {"function": {"name": ...}}
        yield turn.final(forced_call(prompt, _chosen(tools, choice), generate, turn))
        return
    holdback = _Holdback()
    for piece in generate(prompt, turn, None):
        yield from turn.stream([holdback.feed(piece)])
    parsed = parse_reply(holdback.text, {t["name"] for t in tools})
    calls = parsed.calls if kwargs.get("allow_parallel_tool_calls", True) else parsed.calls[:1]
    if parsed.attempted:
        if not retry:
            raise MalformedOutputError("the model wrote a tool call that does not parse, or a tool result of its own",
                                       holdback.text)
        calls = forced_call(prompt, tools, generate, turn)
    if calls and _repeats(calls, messages):
        calls = []
        holdback.pending = ""
        yield from turn.stream(generate(render_messages(messages), turn, None))
    if not calls:
        yield from turn.stream([holdback.pending])
    yield turn.final(calls)


def forced_call(prompt: list[dict[str, str]], tools: Sequence[dict[str, Any]], generate: Generate,
                turn: Turn) -> list[ParsedCall]:
    """One call to one of `tools`, generated under the call schema."""
    text = "".join(generate(prompt, turn, call_schema(tools)))
    calls = parse_reply(text, {t["name"] for t in tools}).calls
    if not calls:
        raise MalformedOutputError(f"the constrained tool call did not parse: {text[:200]!r}", text)
    return calls[:1]


def schema_predict(llm: LLM, output_cls: Type[Model], prompt: BasePromptTemplate,
                   llm_kwargs: dict[str, Any] | None, prompt_args: dict[str, Any]) -> Model:
    """Structured prediction by JSON-schema constrained chat (llama.cpp's `json_object` + `schema`)."""
    dispatcher.event(LLMStructuredPredictStartEvent(output_cls=output_cls, template=prompt, template_args=prompt_args))
    response = llm.chat(_structured_messages(llm, output_cls, prompt, prompt_args),
                        response_format=_json_format(output_cls), **(llm_kwargs or {}))
    result = validate_output(output_cls, response.message.content or "")
    dispatcher.event(LLMStructuredPredictEndEvent(output=result))
    return result


async def aschema_predict(llm: LLM, output_cls: Type[Model], prompt: BasePromptTemplate,
                          llm_kwargs: dict[str, Any] | None, prompt_args: dict[str, Any]) -> Model:
    dispatcher.event(LLMStructuredPredictStartEvent(output_cls=output_cls, template=prompt, template_args=prompt_args))
    response = await llm.achat(_structured_messages(llm, output_cls, prompt, prompt_args),
                               response_format=_json_format(output_cls), **(llm_kwargs or {}))
    result = validate_output(output_cls, response.message.content or "")
    dispatcher.event(LLMStructuredPredictEndEvent(output=result))
    return result


def _json_format(output_cls: Type[BaseModel]) -> dict[str, Any]:
    return {"type": "json_object", "schema": output_cls.model_json_schema()}


def _structured_messages(llm: LLM, output_cls: Type[BaseModel], prompt: BasePromptTemplate,
                         prompt_args: dict[str, Any]) -> list[ChatMessage]:
    # The grammar fixes the shape; the schema in the prompt tells the model what each field means.
    schema = json.dumps(output_cls.model_json_schema(), ensure_ascii=False, separators=(",", ":"))
    hint = ChatMessage(role=MessageRole.SYSTEM,
                       content=f"Answer with one JSON object that follows this JSON schema:\n{schema}")
    return [*llm._extend_messages(prompt.format_messages(llm=llm, **prompt_args)), hint]


def validate_output(output_cls: Type[Model], text: str) -> Model:
    try:
        return output_cls.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "output"
        raise MalformedOutputError(f"the model's JSON does not fit {output_cls.__name__} ({where}: {first['msg']}); "
                                   f"it ends with {text[-80:]!r}", text) from exc


def response_schema(kwargs: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON schema of an OpenAI (`json_schema`) or llama.cpp (`json_object` + `schema`) response_format."""
    fmt = kwargs.get("response_format")
    if not isinstance(fmt, dict) or fmt.get("type") not in ("json_object", "json_schema"):
        return None
    return fmt.get("schema") or (fmt.get("json_schema") or {}).get("schema") or {"type": "object"}


def _chosen(tools: Sequence[dict[str, Any]], choice: str | dict) -> list[dict[str, Any]]:
    if choice in ("required", "any"):
        return list(tools)
    name = choice if isinstance(choice, str) else (choice.get("function") or {}).get("name") or choice.get("name")
    picked = [t for t in tools if t["name"] == name]
    if not picked:
        raise ValueError(f"tool_choice names {name!r}, which is not among the tools offered")
    return picked


def _repeats(calls: Sequence[ParsedCall], messages: Sequence[ChatMessage]) -> bool:
    """True when every call was already made (same name and arguments) since the last user message."""
    made: set[tuple[str, str]] = set()
    for message in reversed(messages):
        if message.role == MessageRole.USER:
            break
        made |= {(b.tool_name, _canonical(_kwargs(b.tool_kwargs))) for b in message.blocks if isinstance(b, ToolCallBlock)}
    return all((c.name, _canonical(c.arguments)) in made for c in calls)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _as_list(value: str | list[str] | None) -> list[str]:
    return [] if value is None else [value] if isinstance(value, str) else list(value)


def last_response(responses: Iterator[ChatResponse]) -> ChatResponse:
    last = None
    for last in responses:
        pass
    assert last is not None  # assistant_turn always ends with a final response
    return last


async def run_in_thread(call: Callable[[threading.Event], T]) -> T:
    """Run a blocking model call in a worker thread; if the caller is cancelled, so is the generation."""
    cancel = threading.Event()
    try:
        return await asyncio.to_thread(call, cancel)
    finally:
        cancel.set()


async def iterate_in_thread(make: Callable[[threading.Event], Iterator[T]]) -> AsyncIterator[T]:
    """Drive a blocking generator in a worker thread and yield its items here, in order."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[bool, Any]] = asyncio.Queue()
    cancel = threading.Event()

    def put(done: bool, item: Any) -> None:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, (done, item))
        except RuntimeError:  # the loop is gone: nobody is listening any more
            cancel.set()

    def pump() -> None:
        items = make(cancel)
        try:
            for item in items:
                if cancel.is_set():
                    break
                put(False, item)
            put(True, None)
        except BaseException as exc:  # handed to the consumer, raised there
            put(True, exc)
        finally:
            items.close()  # type: ignore[attr-defined]

    loop.run_in_executor(None, pump)
    try:
        while True:
            done, item = await queue.get()
            if done:
                if item is not None:
                    raise item
                break
            yield item
    finally:
        cancel.set()  # the worker stops at the next token and releases the model


_shared: dict[Path, LocalLlamaCPP] = {}
_shared_lock = threading.Lock()


def shared_local_llm(path: Path) -> LocalLlamaCPP:
    """The model at `path`, loaded on first use and then shared by every caller in this process."""
    key = Path(path).expanduser().resolve()
    with _shared_lock:
        if key not in _shared:
            _shared[key] = LocalLlamaCPP(model_path=key)
        return _shared[key]
