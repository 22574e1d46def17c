"""Tool calls in a small model's free-form text: finding and parsing them, even while they stream, and the
JSON schema that constrains generation to exactly one call when a written one does not parse.

Models write calls inside `<tool_call>` tags, in a fenced JSON block or as a bare JSON reply, now and then
with Python literals; a model that writes a `<tool_response>` itself is inventing a result it wanted.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from typing import Any, Collection, Sequence

_TAG = re.compile(r"<tool_call>(.*?)(?:</tool_call>|$)", re.S)
_FENCE = re.compile(r"```[\w-]*[ \t]*\n?(.*?)(?:```|$)", re.S)
# A model that writes <tool_response> itself is inventing a result it wanted: it gets a real call instead.
_MARKERS = ("<tool_call>", "```", "<tool_response>")


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


def tool_arguments(value: dict[str, Any] | str) -> Any:
    """A call's arguments as sent (a dict, or a JSON string from OpenAI-shaped messages), decoded when possible."""
    if isinstance(value, dict):
        return value
    try:
        return json.loads(value or "{}")
    except ValueError:
        return value


class Holdback:
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


