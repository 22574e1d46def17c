"""A LlamaIndex conversation as plain system / user / assistant turns that any chat template accepts.

Tools are described in the system turn, calls and results written as text (`<tools>`, `<tool_call>`,
`<tool_response>`), so every template works and each turn of a conversation is rendered the same way.
Short reminders on the person's turns and after tool results keep a 1.5B model from answering from
memory or echoing the question (both seen with Qwen). Every person's turn carries its reminder, not only the
newest, so a conversation's next prompt starts with its last one unchanged and llama.cpp reuses all of it.
"""

from __future__ import annotations

import json
from typing import Any, Sequence

from llama_index.core.base.llms.types import ChatMessage, MessageRole, TextBlock, ToolCallBlock

from index.llm.toolcalls import tool_arguments

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
# samples) unless the user turn reminds it (3 of 4).
TOOL_REMINDER = "(If a function can answer this, call it.)"
# Without it small models often echo the question back after a <tool_response> turn (seen with Qwen 1.5B).
RESULTS_REMINDER = "Answer the user with these results, or call another function if you need more."


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
            role, text = "user", (message.content or "") + (f"\n\n{reminder}" if tools and reminder else "")
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
    return turns


def _assistant_text(message: ChatMessage) -> str:
    if written := message.additional_kwargs.get("written"):  # a call as the model wrote it (index/llm/turns.py)
        return written
    parts = [b.text for b in message.blocks if isinstance(b, TextBlock) and b.text]
    for block in message.blocks:
        if isinstance(block, ToolCallBlock):
            call = {"name": block.tool_name, "arguments": tool_arguments(block.tool_kwargs)}
            parts.append(f"<tool_call>\n{json.dumps(call, ensure_ascii=False)}\n</tool_call>")
    return "\n".join(parts)
