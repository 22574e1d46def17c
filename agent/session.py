"""One conversation: the input guard, the FunctionAgent with this session's Memory, the output guard.

Every user turn is screened first; a flagged turn gets a polite answer and never reaches the agent. The
LLM reads the preference signals from the turn, correcting the rules' draft (with no LLM, or when that
reading fails, the rules' reading stands; a failure is logged, not shown). When picks are due (three
signals known, none shown yet or the preferences changed) the policy searches; when signals are missing and
the person asked nothing, a backend that does not write its own questions gets the policy's next one;
otherwise the agent (or, with no LLM, the deterministic dialogue) answers. Whatever the LLM writes passes the output guard before anyone sees it, streamed or not:
only catalog movies that a tool returned in this session (or that the person named) survive.
"""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import AsyncIterator

from llama_index.core.agent.workflow import AgentStream, FunctionAgent, ToolCallResult
from llama_index.core.llms import ChatMessage
from llama_index.core.memory import Memory

from agent.dialogue import NO_LLM_NOTE, rule_based_reply, wants_picks, wants_question
from agent.guards import check_output, screen_input
from agent.guards.second_opinion import SecondOpinion
from agent.picks import once, with_picks
from agent.prompts import SYSTEM_PROMPT, with_known
from agent.usage import Usage, metered
from index.recommendation import Recommendation
from index.store import ENRICHED
from tools.preferences.llm_reader import LLMReader
from tools.registry import bind_tools
from tools.search import recommend, render, render_draft
from tools.services import MovieServices
from tools.session import ToolSession

TURN_TIMEOUT = 300.0
log = logging.getLogger("movierec.agent")


@dataclass
class Reply:
    text: str
    recommendations: list[Recommendation] = field(default_factory=list)
    blocked: bool = False
    fallback: bool = False  # the LLM failed and the rules answered, or the rerank fell back
    removed: list[str] = field(default_factory=list)  # titles the output guard took out
    usage: Usage = field(default_factory=Usage)
    error: str | None = None
    tool_calls: list[str] = field(default_factory=list)  # the tools the agent called, in order
    reading: str = "rules"  # who read the turn's preferences: "llm", or "rules" (no LLM, or it failed)
    reading_error: str | None = None  # why the LLM's reading was not used
    first_pick_seconds: float | None = None  # from the turn's start until its first film was on screen
    first_reason_seconds: float | None = None  # ... until the first film's reason was on screen too
    policy_search: bool = False  # the picks were due, so the policy searched without asking the agent
    policy_question: bool = False  # signals were missing and the person asked nothing: the policy asked the next


class ChatSession:
    def __init__(self, services: MovieServices, session_id: str, collection: str = ENRICHED,
                 turn_timeout: float = TURN_TIMEOUT):
        self.id = session_id
        self.services = services
        self.tools = ToolSession(services, collection)
        self.llm = services.reranker.llm
        self.second_opinion = SecondOpinion(self.llm) if self.llm is not None and services.second_opinion else None
        self.memory = Memory.from_defaults(session_id=session_id, token_limit=_token_limit(services))
        self.turn_timeout = turn_timeout
        self.replies: list[Reply] = []
        self._lock = asyncio.Lock()

    @property
    def preferences(self):
        return self.tools.preferences

    @property
    def collection(self) -> str:
        return self.tools.collection

    @collection.setter
    def collection(self, name: str) -> None:
        self.tools.collection = name

    async def send(self, text: str) -> Reply:
        async for _ in self.stream(text):
            pass
        return self.replies[-1]

    async def stream(self, text: str) -> AsyncIterator[str]:
        """Yield the answer so far (each yield replaces the previous one); `self.replies[-1]` is the result."""
        async with self._lock:
            verdict = await asyncio.to_thread(screen_input, text, self.second_opinion)
            if not verdict.allowed:
                self.replies.append(Reply(verdict.reply, blocked=True))
                yield verdict.reply
                return
            text = verdict.text
            started = time.perf_counter()
            before = self.tools.preferences
            shown_before = len(self.tools.shown)
            with metered() as usage:
                if self.llm is None:
                    await asyncio.to_thread(self.tools.note_user_turn, text)  # fuzzy title matching: off the loop
                    answer = await rule_based_reply(self.tools, text, changed=self.tools.preferences != before)
                    reply = Reply(f"{answer}\n\n{NO_LLM_NOTE}" if not self.replies else answer)
                    reply.policy_search = len(self.tools.shown) > shown_before  # the rules' every search
                else:
                    reply = Reply("")
                    await self._read_turn(text, reply)
                    changed = self.tools.preferences != before
                    if wants_picks(self.tools, changed):
                        turn = self._policy_turn
                    elif not self.services.agent_asks and wants_question(self.tools, text):
                        turn = self._question_turn
                    else:
                        turn = self._agent_turn
                    async for partial in turn(text, reply, started):
                        yield partial
            checked = self._guard(reply.text)
            reply.text, reply.removed, reply.usage = checked.text, checked.removed, usage
            reply.recommendations = self.tools.shown[shown_before:]
            reply.fallback = reply.fallback or any(s.outcome and s.outcome.fallback
                                                   for s in self.tools.searches[-1:] if reply.recommendations)
            self.replies.append(reply)
            yield reply.text

    async def _read_turn(self, text: str, reply: Reply) -> None:
        reader = LLMReader(self.llm, self.services.matcher, self.services.latest_year)
        with metered():  # its own meter: a reading cut off by its timeout leaves no open call in the turn's
            outcome = await self.tools.read_user_turn(text, reader)
        reply.reading = "llm" if outcome.used_llm else "rules"
        reply.reading_error = outcome.error
        if outcome.error:
            log.warning("session %s: the LLM could not read the turn, the rules did (%s)", self.id, outcome.error)
        elif outcome.dropped:
            log.info("session %s: dropped from the LLM's reading: %s", self.id, "; ".join(outcome.dropped))

    async def _policy_turn(self, text: str, reply: Reply, started: float) -> AsyncIterator[str]:
        """Three signals are known and picks are due: search on the preferences the LLM just read.

        Asked to call search_movies, the bundled 1.5B model called it up to three times a turn (invented
        arguments, then a retry, then exclusions nobody asked for), 25-40 s each; the structured reading
        already holds everything the call would carry, so the policy searches once and the LLM's work in
        this turn is the reading and the rerank.
        """
        reply.policy_search = True
        prefs = self.tools.preferences
        search = once(recommend(self.tools, query=prefs.summary()))
        async with aclosing(self._streaming_picks(search, reply, started)) as items:
            async for item in items:
                if isinstance(item, str):
                    yield item
                else:
                    reply.text = render(item)
        await self._remember(text, reply.text)

    async def _question_turn(self, text: str, reply: Reply, started: float) -> AsyncIterator[str]:
        """Signals are missing: the policy's next question, for a backend whose agent would only have called
        search_movies to be told it (Backend.writes_questions)."""
        reply.policy_question = True
        reply.text = await rule_based_reply(self.tools, text, changed=True)
        await self._remember(text, reply.text)
        yield reply.text

    async def _remember(self, text: str, answer: str) -> None:
        """A turn the agent did not answer, written into its memory as if it had."""
        await self.memory.aput_messages([ChatMessage(role="user", content=with_known(text, self.tools.preferences)),
                                         ChatMessage(role="assistant", content=answer)])

    async def _agent_turn(self, text: str, reply: Reply, started: float) -> AsyncIterator[str]:
        agent = FunctionAgent(tools=bind_tools(self.tools), llm=self.llm, system_prompt=SYSTEM_PROMPT)
        handler = agent.run(user_msg=with_known(text, self.tools.preferences), memory=self.memory)
        draft = ""
        try:
            async with (asyncio.timeout(self.turn_timeout),
                        aclosing(self._streaming_picks(handler.stream_events(), reply, started)) as events):
                async for event in events:
                    if isinstance(event, str):
                        yield event
                    elif isinstance(event, ToolCallResult):
                        reply.tool_calls.append(event.tool_name)
                    elif isinstance(event, AgentStream) and event.delta and not event.tool_calls:
                        draft += event.delta
                        if "\n" in event.delta:  # show whole lines only, each one already guarded
                            yield self._guard(draft.rsplit("\n", 1)[0]).text
                output = await handler
            reply.text = str(output.response.content or "").strip()
        except Exception as exc:  # LLM down, timeout, malformed output: the rules answer instead
            if not handler.is_done():
                await handler.cancel_run()
            reply.fallback, reply.error = True, f"{type(exc).__name__}: {exc}"[:300]
            answer = await rule_based_reply(self.tools, text, changed=True)
            reply.text = f"_(The language model is unavailable right now, so I answered by the rules.)_\n\n{answer}"
            await self.memory.aput(ChatMessage(role="assistant", content=answer))

    async def _streaming_picks(self, source: AsyncIterator, reply: Reply, started: float) -> AsyncIterator:
        """`source`'s items, with the list so far (a guarded string) each time the rerank streams a pick: a
        film as soon as its id is written, then again with its reason."""
        picks: asyncio.Queue[Recommendation] = asyncio.Queue()
        streamed: list[Recommendation] = []
        self.tools.on_pick = picks.put_nowait
        try:
            async for item in with_picks(source, picks):
                if not isinstance(item, Recommendation):
                    yield item
                    continue
                place = next((i for i, shown in enumerate(streamed) if shown.movie_id == item.movie_id), None)
                if place is None:
                    streamed.append(item)
                else:
                    streamed[place] = item  # its reason, written since the film was shown
                if reply.first_pick_seconds is None:
                    reply.first_pick_seconds = time.perf_counter() - started
                if item.reason and reply.first_reason_seconds is None:
                    reply.first_reason_seconds = time.perf_counter() - started
                yield self._guard(render_draft(streamed)).text
        finally:
            self.tools.on_pick = None

    def _guard(self, text: str):
        """Keep only movies a tool returned this session; films the person named may be referred to."""
        return check_output(text, self.tools.returned, self.services.catalog,
                            context_ids=self.tools.preferences.named_ids)


def _token_limit(services: MovieServices) -> int:
    """Memory kept for the agent: 60% of the model's window (the rest: system prompt, tools, the reply)."""
    llm = services.reranker.llm
    return min(30000, int(0.6 * llm.metadata.context_window)) if llm is not None else 30000


class SessionStore:
    """Chat sessions by id (one per browser tab or terminal), oldest dropped past `max_sessions`."""

    def __init__(self, services: MovieServices, max_sessions: int = 500):
        self.services, self.max_sessions = services, max_sessions
        self._sessions: dict[str, ChatSession] = {}

    def get(self, session_id: str, collection: str = ENRICHED) -> ChatSession:
        session = self._sessions.pop(session_id, None) or ChatSession(self.services, session_id, collection)
        self._sessions[session_id] = session  # re-inserted: most recently used last
        while len(self._sessions) > self.max_sessions:
            self._sessions.pop(next(iter(self._sessions)))
        return session

    def forget(self, session_id: str) -> None:
        """Drop a conversation (the person cleared the chat); the next `get` starts a fresh one."""
        self._sessions.pop(session_id, None)
