"""One assistant turn over a plain-text chat endpoint: tools handled in the prompt, calls parsed from the
reply or forced by a grammar, streamed to the caller; shared by the in-process model and quirky servers.

With `tool_choice="auto"` the model writes calls itself and the reply is parsed. When a tool is required,
or a written call cannot be parsed, or the model writes a `<tool_response>` of its own, generation is
constrained to `{"name": <tool>, "arguments": {...}}`. A call that repeats one already answered in the same
turn is dropped for a plain answer. Async callers drive the blocking generation in a worker thread, and
cancelling them stops it at the next token.
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Callable, Iterator, Sequence, TypeVar

from llama_index.core.base.llms.types import ChatMessage, ChatResponse, MessageRole, TextBlock, ToolCallBlock

from index.llm.errors import MalformedOutputError
from index.llm.rendering import TOOL_REMINDER, render_messages
from index.llm.toolcalls import Holdback, ParsedCall, call_schema, parse_reply, tool_arguments

T = TypeVar("T")

Generate = Callable[[list[dict[str, str]], "Turn", "dict[str, Any] | None"], Iterator[str]]


@dataclass
class Turn:
    """One assistant turn: sampling options, cancellation, token counts and the text streamed so far."""

    options: dict[str, Any]
    cancel: threading.Event | None = None
    # cached_tokens: prompt tokens llama.cpp did not evaluate again (OpenAI reports them the same way)
    usage: dict[str, int] = field(default_factory=lambda: {"prompt_tokens": 0, "completion_tokens": 0,
                                                           "cached_tokens": 0})
    text: str = ""
    written: str | None = None  # the model's own text of its tool calls, rendered back as it is in history

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
        total = self.usage["prompt_tokens"] + self.usage["completion_tokens"]
        usage = {**self.usage, "total_tokens": total} if total else {}
        # Rendered back verbatim in later prompts: re-rendering the calls canonically would differ from the
        # tokens llama.cpp holds for this turn, and everything after the difference would be evaluated again.
        written = {"written": self.written} if calls and self.written is not None else {}
        return ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, blocks=blocks, additional_kwargs=written),
                            delta="", raw={"usage": usage} if usage else None, additional_kwargs=usage)


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
    holdback = Holdback()
    for piece in generate(prompt, turn, None):
        yield from turn.stream([holdback.feed(piece)])
    parsed = parse_reply(holdback.text, {t["name"] for t in tools})
    calls = parsed.calls if kwargs.get("allow_parallel_tool_calls", True) else parsed.calls[:1]
    turn.written = holdback.text
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
    turn.written = text
    calls = parse_reply(text, {t["name"] for t in tools}).calls
    if not calls:
        raise MalformedOutputError(f"the constrained tool call did not parse: {text[:200]!r}", text)
    return calls[:1]


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
        made |= {(b.tool_name, _canonical(tool_arguments(b.tool_kwargs))) for b in message.blocks if isinstance(b, ToolCallBlock)}
    return all((c.name, _canonical(c.arguments)) in made for c in calls)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


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
