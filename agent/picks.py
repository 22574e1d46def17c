"""Picks the rerank streams while the agent (or the policy's search) is still running, merged into one stream.

The rerank runs inside a tool call, where nothing can be yielded to the person; it puts each pick on a queue,
and the chat reads that queue alongside the agent's events, so the first film is shown as soon as the model
has written it.
"""

from __future__ import annotations

import asyncio
from typing import AsyncIterator, Awaitable, TypeVar

T = TypeVar("T")
P = TypeVar("P")


async def with_picks(source: AsyncIterator[T], picks: asyncio.Queue[P]) -> AsyncIterator[T | P]:
    """Items of `source` and of `picks`, each as soon as it arrives, until `source` ends (then the picks left)."""
    next_item = asyncio.ensure_future(anext(source))
    next_pick = asyncio.ensure_future(picks.get())
    try:
        while True:
            done, _ = await asyncio.wait({next_item, next_pick}, return_when=asyncio.FIRST_COMPLETED)
            if next_pick in done:
                yield next_pick.result()
                next_pick = asyncio.ensure_future(picks.get())
            if next_item in done:
                try:
                    item = next_item.result()
                except StopAsyncIteration:
                    break
                yield item
                next_item = asyncio.ensure_future(anext(source))
        while not picks.empty():
            yield picks.get_nowait()
    finally:
        next_item.cancel()
        next_pick.cancel()


async def once(awaitable: Awaitable[T]) -> AsyncIterator[T]:
    """A coroutine's result as a one-item stream, to merge with the picks it streams."""
    yield await awaitable
