"""The agent's tools. Adding one takes a file in tools/ and one line in TOOLS."""

from __future__ import annotations

from typing import NamedTuple

from llama_index.core.tools import FunctionTool

from tools.lookup import lookup_movie
from tools.search import search_movies
from tools.session import ToolSession
from tools.similar import similar_to


class Tool(NamedTuple):
    fn: object
    return_direct: bool = False  # the tool's text is the answer: rendered from verified catalog data


TOOLS = (
    Tool(search_movies, return_direct=True),
    Tool(lookup_movie),
    Tool(similar_to),
)


def bind_tools(session: ToolSession) -> list[FunctionTool]:
    """FunctionTools for one conversation; the session argument is bound and hidden from the LLM."""
    return [FunctionTool.from_defaults(async_fn=tool.fn, return_direct=tool.return_direct,
                                       partial_params={"session": session}) for tool in TOOLS]
