"""`movierec ui`: the Gradio chat. One agent Memory per browser session, its preference signals beside it.

    serve(MovieServices.from_workspace(ws), "127.0.0.1", 7860)   # what `movierec ui` runs
    build_app(services).launch()                                 # tests inject their own services
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading

import gradio as gr

from agent.guards import warm_up as warm_up_screen
from agent.session import SessionStore
from index.buildlock import unbuilt_note
from index.embeddings import one_thread_per_query
from index.errors import UserError
from index.store import BASELINE, ENRICHED, collection_metadata
from tools.preferences import Preferences
from tools.services import COLLECTIONS, MovieServices
from ui.panel import signals_markdown

log = logging.getLogger("movierec.ui")

TITLE = "movierec: your film librarian"
INTRO = ("Tell me your **mood**, an **era**, whether **subtitles** are fine, **genres** you love or avoid, "
         "or **films you loved**. Once I know three of those, I pick five films and say why.")
EXAMPLES = [
    "Something tense from the 90s, subtitles are fine",
    "I loved Groundhog Day and want another feel-good comedy",
    "A scary film, but nothing before 2000",
    "Moving drama, English only please",
]
APOLOGY = "Sorry, something went wrong on my side while answering. Please try again in a moment."


class Collections:
    """Opens each collection once per process (embedder, Chroma, BM25: seconds), one opening at a time."""

    def __init__(self, services: MovieServices):
        self.services = services
        self._lock = threading.Lock()

    def open(self, name: str) -> None:
        with self._lock:
            one_thread_per_query()  # many sessions' queries at once, not one query on every core
            self.services.warm_up(name)

    def warm_up(self, name: str) -> threading.Thread:
        """Open `name` (and load the input screen) in the background, so the page is served first; the first
        message waits for it."""
        def run():
            try:
                warm_up_screen()
                self.open(name)
            except Exception:  # a missing collection is said in the chat, when someone asks
                log.warning("warm-up of the %r collection failed", name, exc_info=True)
        thread = threading.Thread(target=run, name=f"warm-up {name}", daemon=True)
        thread.start()
        return thread


def built_collections(services: MovieServices) -> list[str]:
    """The collections `movierec index` / `movierec enrich` have finished, in COLLECTIONS order."""
    client = services.workspace.client
    return [name for name in COLLECTIONS if (collection_metadata(client, name) or {}).get("state") == "done"]


def build_app(services: MovieServices, collection: str = BASELINE,
              collections: Collections | None = None) -> gr.Blocks:
    sessions = SessionStore(services)
    collections = collections or Collections(services)

    async def respond(message: str, history: list, collection: str, request: gr.Request):
        session = sessions.get(request.session_hash, collection)
        if not history and session.replies:  # the person cleared the chat: start over
            sessions.forget(request.session_hash)
            session = sessions.get(request.session_hash, collection)
        try:
            await asyncio.to_thread(collections.open, collection)
            session.collection = collection
            async for answer in session.stream(message):
                yield answer, signals_markdown(session.preferences)
        except UserError as exc:  # a collection not built yet, a Chroma server down: say what to do
            answer = f"**Sorry:** {exc}. You can switch the collection in the side panel."
            yield answer, signals_markdown(session.preferences)
        except Exception:
            log.exception("chat turn failed in session %s", request.session_hash)
            yield APOLOGY, signals_markdown(session.preferences)

    backend = services.workspace.backend
    with gr.Blocks(title="movierec", fill_height=True) as demo:
        with gr.Sidebar(width=340):
            gr.Markdown("### What I know so far")
            signals = gr.Markdown(signals_markdown(Preferences()), elem_id="signals")
            choice = gr.Radio(list(COLLECTIONS), value=collection, label="Collection",
                              info="baseline: catalog text only; enriched: plus what `movierec enrich` added")
            source, limit = services.workspace.catalog_spec()
            gr.Markdown(f"**LLM:** {backend.describe()}  \n**Catalog:** {source}, {limit} most-rated films",
                        elem_id="backend")
        gr.ChatInterface(
            respond, title=TITLE, description=INTRO,
            chatbot=gr.Chatbot(placeholder="What do you feel like watching?", show_label=False, scale=1,
                               buttons=["copy"]),
            additional_inputs=[choice], additional_outputs=[signals],
            examples=[[text, None] for text in EXAMPLES],
            concurrency_limit=backend.concurrency, fill_height=True, api_name="chat",
        )
    return demo


def serve(services: MovieServices, host: str = "127.0.0.1", port: int = 7860, share: bool = False,
          block: bool = True) -> gr.Blocks:
    """Check the index and the port, start the server, then open the default collection in the background."""
    built = built_collections(services)
    if not built:
        raise UserError(f"the index is not built yet: run `movierec index` first{unbuilt_note(services.workspace.root)}")
    _check_port(host, port)
    collection = ENRICHED if ENRICHED in built else BASELINE
    collections = Collections(services)
    demo = build_app(services, collection, collections)
    try:
        demo.launch(server_name=host, server_port=port, share=share, prevent_thread_lock=True, quiet=True)
    except OSError as exc:
        raise UserError(f"cannot serve on {host}:{port}: {exc}") from exc
    collections.warm_up(collection)
    print(f"movierec ui: {demo.local_url}" + (f" (public: {demo.share_url})" if demo.share_url else ""), flush=True)
    print(f"collections: {', '.join(built)} (default {collection})", flush=True)
    if block:
        demo.block_thread()
    return demo


def _check_port(host: str, port: int) -> None:
    if not 0 < port < 65536:
        raise UserError(f"--port must be between 1 and 65535, got {port}")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: a closed server's port is free
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise UserError(f"cannot listen on {host}:{port} ({exc.strerror}); is another server running? "
                            f"Pick another port with --port") from exc
