"""`movierec chat`: the same conversation in a terminal."""

from __future__ import annotations

import asyncio
import sys

from agent.guards import warm_up
from agent.session import ChatSession
from tools.services import MovieServices

GREETING = "Hi! I'm your film librarian. What are you in the mood for? (Ctrl-D or 'quit' to leave)"


async def chat(services: MovieServices, collection: str, read=input, write=print) -> None:
    session = ChatSession(services, "terminal", collection)
    await asyncio.to_thread(warm_up)  # before the greeting: the first answer then costs what the others do
    write(GREETING)
    while True:
        try:
            text = await asyncio.to_thread(read, "\nyou> ")
        except EOFError:
            write("")
            return
        if text.strip().lower() in {"quit", "exit", "bye"}:
            write("Enjoy the film!")
            return
        printed = ""
        async for partial in session.stream(text):
            if partial.startswith(printed):  # streamed lines extend what is on screen
                write(partial[len(printed):] if printed else f"\nlibrarian> {partial}", end="")
            else:  # the final answer differs from the draft (a rendered list, a guarded line): show it whole
                write(f"\nlibrarian> {partial}", end="")
            printed = partial
            sys.stdout.flush()
        write("")
