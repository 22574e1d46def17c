"""Structured output by JSON-schema constrained chat (llama.cpp's `json_object` + `schema`), then validated.

The grammar fixes the shape; the schema, also given in the prompt, tells the model what each field means.
Output that still does not fit the class raises `MalformedOutputError`. Streamed, each piece of JSON so far
is read as a partial object (LlamaIndex's `FlexibleModel`, unfinished strings left out) and the last one
yielded is the validated output.
"""

from __future__ import annotations

import json
from typing import Any, AsyncIterator, Type, TypeVar

import pydantic_core

from llama_index.core.base.llms.types import ChatMessage, MessageRole
from llama_index.core.bridge.pydantic import BaseModel, ValidationError
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.events.llm import (
    LLMStructuredPredictEndEvent,
    LLMStructuredPredictStartEvent,
)
from llama_index.core.llms.llm import LLM
from llama_index.core.program.utils import FlexibleModel
from llama_index.core.prompts import BasePromptTemplate

from index.llm.errors import MalformedOutputError

dispatcher = get_dispatcher(__name__)
Model = TypeVar("Model", bound=BaseModel)


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


async def astream_schema_predict(llm: LLM, output_cls: Type[Model], prompt: BasePromptTemplate,
                                 llm_kwargs: dict[str, Any] | None,
                                 prompt_args: dict[str, Any]) -> AsyncIterator[Model | FlexibleModel]:
    """Partial objects while the constrained JSON streams in, then the validated output."""
    dispatcher.event(LLMStructuredPredictStartEvent(output_cls=output_cls, template=prompt, template_args=prompt_args))
    stream = await llm.astream_chat(_structured_messages(llm, output_cls, prompt, prompt_args),
                                    response_format=_json_format(output_cls), **(llm_kwargs or {}))
    text = ""
    async for response in stream:
        text = response.message.content or ""
        if response.delta and (partial := partial_output(text)) is not None:
            yield partial
    result = validate_output(output_cls, text)
    dispatcher.event(LLMStructuredPredictEndEvent(output=result))
    yield result


def partial_output(text: str) -> FlexibleModel | None:
    """The JSON object begun in `text`, the string it is in the middle of cut where it stops (None before one
    starts): a key that has a (partial) string value shows that the keys before it are complete."""
    try:
        value = pydantic_core.from_json(text, allow_partial="trailing-strings")
    except ValueError:
        return None
    return FlexibleModel.model_validate(value) if isinstance(value, dict) else None


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
