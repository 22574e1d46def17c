"""JustifiedRerank: the LLM orders the fused candidates by fit to the conversation and explains each pick.

One structured-output call sees the conversation summary and the candidates (id, title, genres, the loved
films whose fans loved each, a short description) and returns `{"picks": [{"id", "reason"}]}`. A candidate
line is kept short because the local model reads ~100 prompt tokens a second before its first pick: the
collection text's co-liked sentence ("Fans also loved: ...", other people's favourites, about 27 tokens) is
left out, the person's own loved films stand in "fans of", named without their years. The
instructions are a fixed system turn, so the local model keeps them evaluated between calls
(index/llm/prompt_cache.py); the conversation and the candidates follow. `arerank` streams: each pick's film
is handed to `on_pick` as soon as its id is written (the reason still empty), and again with its reason once
the model has moved past it. The evidence stays in charge: ids that were not
candidates are dropped and counted, missing picks are filled in retrieval order, and when the LLM fails,
times out or returns garbage the retrieval order is kept with the evidence-based reasons and `fallback`
set, so the UI can say so; picks already streamed to the person before a failure stay first, as shown, and
only the rest come from the evidence. With no LLM the evidence order and reasons are the answer.
"""

from __future__ import annotations

import asyncio
import re
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any, Callable

from llama_index.core.bridge.pydantic import BaseModel, Field
from llama_index.core.llms import LLM, ChatMessage
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.prompts import ChatPromptTemplate
from llama_index.core.schema import NodeWithScore, QueryBundle

from index.enrich.enrichers import CO_LIKED_OPENING

REASON_WORDS = 15
# The grammar closes a reason here. Told not to, the 1.5B model still began each reason by restating the
# title and wrote about 55 tokens a pick, 8 s each on 2 cores; capped, about 30.
REASON_CHARS = 110
RERANK_PROMPT = ChatPromptTemplate([
    ChatMessage(role="system", content=(
        "You are a film librarian choosing {top_n} movies for one person from a list of candidates, best "
        "evidence first. Each line reads: id | title | genres | fans of: the films they loved whose fans loved "
        "it | a short description.\n"
        "Pick the {top_n} candidates that best fit what they said, in order. Prefer strong evidence (films "
        "their favourites' fans loved) unless it clashes with what they asked for. Use only ids from the list. "
        f"For each pick write ONE sentence of at most {REASON_WORDS} words that ties the film to something they "
        "said; the title is shown beside it, so do not repeat it; do not invent plot details that the candidate "
        "line does not give.\n"
        'Answer as JSON: {{"picks": [{{"id": <id>, "reason": "<one sentence>"}}]}}')),
    ChatMessage(role="user", content="What they told us: {conversation}\n\nCandidates:\n{candidates}"),
])


class Pick(BaseModel):
    id: int = Field(description="a candidate id from the list")
    reason: str = Field(description="one sentence tying the film to what the person said",
                        json_schema_extra={"maxLength": REASON_CHARS})  # a hint to APIs, enforced by grammars


MAX_PICKS = 10
TOP_N = 5
DISLIKED_KEY = "disliked"  # node metadata: `|`-separated names of films the person disliked


class Picks(BaseModel):
    # Bounded: constrained decoding enforces it, and an unbounded list lets a small model repeat picks until
    # it runs out of tokens, which leaves JSON that does not parse. At least TOP_N under a grammar (a hint to
    # APIs): with reasons capped, the 1.5B model often closed the list after one pick.
    picks: list[Pick] = Field(max_length=MAX_PICKS, json_schema_extra={"minItems": TOP_N})


@dataclass
class RerankOutcome:
    nodes: list[NodeWithScore]
    invented_ids: list[int] = field(default_factory=list)  # ids the LLM returned that were not candidates
    filled: int = 0  # picks taken from retrieval order because the LLM gave too few valid ones
    fallback: bool = False  # the LLM failed; retrieval order and evidence reasons are shown
    error: str | None = None
    used_llm: bool = False


class JustifiedRerank(BaseNodePostprocessor):
    """Rerank candidate movie nodes to `top_n` with a one-sentence reason in `metadata["reason"]`.

    Nodes carry `movie_id`, `title`, `genres`, `evidence_reason` (a plain reason built from the evidence) and
    optionally `disliked` (names an LLM reason must not cite: such a reason is replaced by the evidence one)
    in their metadata; their order is the retrieval (fusion) order.
    """

    llm: LLM | None = Field(default=None, description="None: keep the evidence order and reasons")
    top_n: int = Field(default=TOP_N, gt=0, le=MAX_PICKS)
    max_candidates: int = Field(default=50, gt=0, description="how many candidates the LLM sees")
    timeout: float = Field(default=120.0, gt=0, description="seconds before falling back to retrieval order")
    description_chars: int = Field(default=80, ge=0)

    @classmethod
    def class_name(cls) -> str:
        return "JustifiedRerank"

    def _postprocess_nodes(self, nodes: list[NodeWithScore],
                           query_bundle: QueryBundle | None = None) -> list[NodeWithScore]:
        return self.rerank(nodes, query_bundle.query_str if query_bundle else "").nodes

    async def _apostprocess_nodes(self, nodes: list[NodeWithScore],
                                  query_bundle: QueryBundle | None = None) -> list[NodeWithScore]:
        return (await self.arerank(nodes, query_bundle.query_str if query_bundle else "")).nodes

    def rerank(self, nodes: list[NodeWithScore], conversation: str) -> RerankOutcome:
        if self.llm is None or not nodes:
            return self._evidence_order(nodes)
        try:
            picks = self.llm.structured_predict(Picks, RERANK_PROMPT, **self._prompt_args(nodes, conversation))
        except Exception as exc:  # timeouts, HTTP errors, unparsable or invalid JSON: all mean "fall back"
            return self._evidence_order(nodes, error=exc)
        chooser = _Chooser(self, nodes)
        chooser.take([(p.id, p.reason) for p in picks.picks])
        return chooser.outcome()

    async def arerank(self, nodes: list[NodeWithScore], conversation: str,
                      on_pick: Callable[[NodeWithScore], None] | None = None) -> RerankOutcome:
        """`on_pick` gets each valid pick with its reason, at the end; where the LLM streams partial JSON
        (`streams_partial_json`: the local model, llama.cpp servers) as soon as the model has written it, and
        before that, with an empty reason, as soon as its id is written: on 2 cores a reason takes ~3 s."""
        if self.llm is None or not nodes:
            return self._evidence_order(nodes)
        chooser = _Chooser(self, nodes, on_pick)
        args = self._prompt_args(nodes, conversation)
        try:
            async with asyncio.timeout(self.timeout):
                if getattr(self.llm, "streams_partial_json", False):
                    picks = await self._streamed(chooser, args)
                else:
                    picks = await self.llm.astructured_predict(Picks, RERANK_PROMPT, **args)
        except Exception as exc:  # including TimeoutError and invalid JSON
            if not chooser.chosen:
                return self._evidence_order(nodes, error=exc)
            return chooser.outcome(error=exc)  # the picks on screen stay; the evidence fills the rest
        chooser.take([(p.id, p.reason) for p in picks.picks])
        return chooser.outcome()

    async def _streamed(self, chooser: _Chooser, args: dict) -> Picks:
        stream = await self.llm.astream_structured_predict(Picks, RERANK_PROMPT, **args)
        last: Any = None
        async with aclosing(stream):
            async for last in stream:
                chooser.take(_written(last), last_open=True)
        if not isinstance(last, Picks):
            raise ValueError(f"the streamed picks ended without a valid Picks object: {last!r:.200}")
        return last

    def _prompt_args(self, nodes: list[NodeWithScore], conversation: str) -> dict:
        lines = []
        for node in nodes[: self.max_candidates]:
            meta = node.node.metadata
            description = _description(node.node.get_content())[: self.description_chars]
            lines.append(f"{meta['movie_id']} | {meta.get('title', '')} | {meta.get('genres', '').replace('|', ', ')}"
                         f" | fans of: {meta.get('fans_of') or '-'} | {description}")
        return {"top_n": self.top_n, "conversation": conversation or "(nothing yet)", "candidates": "\n".join(lines)}

    def _evidence_order(self, nodes: list[NodeWithScore], error: Exception | None = None) -> RerankOutcome:
        chosen = [_with_reason(n, n.node.metadata.get("evidence_reason", ""), "evidence") for n in nodes[: self.top_n]]
        message = f"{type(error).__name__}: {error}"[:300] if error is not None else None
        return RerankOutcome(chosen, fallback=error is not None, error=message, used_llm=error is not None)


class _Chooser:
    """The picks, taken in the order the model wrote them: candidates only, no repeats, at most `top_n`."""

    def __init__(self, rerank: JustifiedRerank, nodes: list[NodeWithScore],
                 on_pick: Callable[[NodeWithScore], None] | None = None) -> None:
        self.nodes, self.top_n, self.on_pick = nodes, rerank.top_n, on_pick
        self.by_id = {int(n.node.metadata["movie_id"]): n for n in nodes[: rerank.max_candidates]}
        self.chosen: list[NodeWithScore] = []
        self.invented: list[int] = []
        self.seen = 0  # picks of the model's list already taken
        self.announced: NodeWithScore | None = None  # shown without its reason, which is still being written

    def take(self, written: list[tuple[Any, Any]], last_open: bool = False) -> None:
        """Take the picks in `written` (the model's list so far) that were not taken before. `last_open`: the
        last one may still be being written; once its reason has begun its id is whole, and it is announced."""
        done = written[:-1] if last_open else written
        for pick_id, reason in done[self.seen:]:
            self.seen += 1
            node = self._valid(pick_id)
            if node is None:
                if self._node(pick_id) is None:
                    self.invented.append(pick_id)
                continue
            self.announced = None
            sentence = one_sentence(reason if isinstance(reason, str) else "")
            if _cites(sentence, node.node.metadata.get(DISLIKED_KEY, "")):
                sentence = ""  # a film the person disliked is no reason to watch anything
            picked = _with_reason(node, sentence or node.node.metadata.get("evidence_reason", ""),
                                  "llm" if sentence else "evidence")
            self.chosen.append(picked)
            if self.on_pick is not None:
                self.on_pick(picked)
        if last_open and len(written) > len(done) and isinstance(written[-1][1], str):
            self._announce(written[-1][0])

    def _node(self, pick_id: Any) -> NodeWithScore | None:
        return self.by_id.get(pick_id) if isinstance(pick_id, int) else None

    def _valid(self, pick_id: Any) -> NodeWithScore | None:
        """The candidate `pick_id` names, if it is one and there is room for it."""
        node = self._node(pick_id)
        if node is None or len(self.chosen) == self.top_n or any(c.node.node_id == node.node.node_id
                                                                 for c in self.chosen):
            return None
        return node

    def _announce(self, pick_id: Any) -> None:
        node = self._valid(pick_id)
        if node is None or self.announced is node:
            return
        self.announced = node
        if self.on_pick is not None:
            self.on_pick(_with_reason(node, "", "pending"))

    def outcome(self, error: Exception | None = None) -> RerankOutcome:
        """The picks taken, then retrieval order up to `top_n`; `error`: the LLM stopped before the end, and a
        pick already announced stays where it was shown, with its evidence reason."""
        if self.announced is not None and self._valid(int(self.announced.node.metadata["movie_id"])) is not None:
            self.chosen.append(_with_reason(self.announced, self.announced.node.metadata.get("evidence_reason", ""),
                                            "evidence"))
        filled = 0
        for node in self.nodes:
            if len(self.chosen) == self.top_n:
                break
            if all(node.node.node_id != c.node.node_id for c in self.chosen):
                self.chosen.append(_with_reason(node, node.node.metadata.get("evidence_reason", ""), "evidence"))
                filled += 1
        message = f"{type(error).__name__}: {error}"[:300] if error is not None else None
        return RerankOutcome(self.chosen, invented_ids=self.invented, filled=filled, used_llm=True,
                             fallback=error is not None, error=message)


def _written(partial: Any) -> list[tuple[Any, Any]]:
    """(id, reason) of each pick in a partial output, whether its picks are objects or dicts."""
    picks = getattr(partial, "picks", None)
    if not isinstance(picks, list):
        return []
    get = lambda p, key: p.get(key) if isinstance(p, dict) else getattr(p, key, None)  # noqa: E731
    return [(get(p, "id"), get(p, "reason")) for p in picks]


def one_sentence(text: str, max_words: int = REASON_WORDS + 5) -> str:
    """The first sentence of `text`, trimmed and at most `max_words` long; LLMs sometimes write two, or run on.
    A reason the grammar closed at `REASON_CHARS` loses its last word, which may be cut."""
    cut = len(text or "") >= REASON_CHARS
    text = re.sub(r"\s+", " ", (text or "")).strip().strip('"')
    match = re.match(r"(.+?[.!?])(?:\s|$)", text)
    words = (match.group(1) if match else text).split()
    if not match and cut and len(words) > 3:
        words = words[:-1]
        words[-1] = words[-1].rstrip(",;:") + "…"
    if len(words) > max_words:
        words = words[:max_words]
        words[-1] = words[-1].rstrip(",;:") + "…"
    return " ".join(words) if len(words) >= 3 else ""


def _cites(reason: str, names: str) -> bool:
    """Whether the reason names one of the `|`-separated film names."""
    return any(re.search(rf"(?<!\w){re.escape(name)}(?!\w)", reason, re.IGNORECASE) for name in names.split("|") if name)


def _description(text: str) -> str:
    """The enrichment part of a collection text (after the raw `title | genres` line, whose genres the line
    already shows), without its co-liked sentence; "-" when nothing else describes the film."""
    body = text.split("\n", 1)[1].split(CO_LIKED_OPENING, 1)[0] if "\n" in text else ""
    return re.sub(r"\s+", " ", body).strip() or "-"


def _with_reason(node: NodeWithScore, reason: str, source: str) -> NodeWithScore:
    copy = node.node.model_copy(deep=True)
    copy.metadata["reason"] = reason
    copy.metadata["reason_source"] = source
    return NodeWithScore(node=copy, score=node.score)
