"""JustifiedRerank: the LLM orders the fused candidates by fit to the conversation and explains each pick.

One structured-output call sees the conversation summary and the candidates (id, title, year, genres, the
evidence behind each, a short description) and returns `{"picks": [{"id", "reason"}]}`. The evidence stays
in charge: ids that were not candidates are dropped and counted, missing picks are filled in retrieval
order, and when the LLM fails, times out or returns garbage the retrieval order is kept with the
evidence-based reasons and `fallback` set, so the UI can say so. With no LLM the evidence order and
reasons are the answer.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field

from llama_index.core.bridge.pydantic import BaseModel, Field
from llama_index.core.llms import LLM
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.prompts import PromptTemplate
from llama_index.core.schema import NodeWithScore, QueryBundle

PROMPT_VERSION = "rerank-v1"
RERANK_PROMPT = PromptTemplate(
    "You are a film librarian choosing {top_n} movies for one person.\n"
    "What they told us: {conversation}\n\n"
    "Candidates, best evidence first (id | title | genres | evidence | description):\n{candidates}\n\n"
    "Pick the {top_n} candidates that best fit what they said, in order. Prefer strong evidence (films "
    "their favourites' fans loved) unless it clashes with what they asked for. Use only ids from the list. "
    "For each pick write ONE sentence (at most 30 words) that ties the film to something they said; do not "
    "invent plot details that the candidate line does not give.\n"
    'Answer as JSON: {{"picks": [{{"id": <id>, "reason": "<one sentence>"}}]}}'
)


class Pick(BaseModel):
    id: int = Field(description="a candidate id from the list")
    reason: str = Field(description="one sentence tying the film to what the person said")


MAX_PICKS = 10
DISLIKED_KEY = "disliked"  # node metadata: `|`-separated names of films the person disliked


class Picks(BaseModel):
    # Bounded: constrained decoding enforces it, and an unbounded list lets a small model repeat picks until
    # it runs out of tokens, which leaves JSON that does not parse.
    picks: list[Pick] = Field(max_length=MAX_PICKS)


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
    top_n: int = Field(default=5, gt=0, le=MAX_PICKS)
    max_candidates: int = Field(default=50, gt=0, description="how many candidates the LLM sees")
    timeout: float = Field(default=120.0, gt=0, description="seconds before falling back to retrieval order")
    description_chars: int = Field(default=160, ge=0)

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
        return self._apply(picks, nodes)

    async def arerank(self, nodes: list[NodeWithScore], conversation: str) -> RerankOutcome:
        if self.llm is None or not nodes:
            return self._evidence_order(nodes)
        try:
            picks = await asyncio.wait_for(
                self.llm.astructured_predict(Picks, RERANK_PROMPT, **self._prompt_args(nodes, conversation)),
                timeout=self.timeout)
        except Exception as exc:  # including asyncio.TimeoutError
            return self._evidence_order(nodes, error=exc)
        return self._apply(picks, nodes)

    def _prompt_args(self, nodes: list[NodeWithScore], conversation: str) -> dict:
        lines = []
        for node in nodes[: self.max_candidates]:
            meta = node.node.metadata
            description = _description(node.node.get_content(), meta.get("title", ""))[: self.description_chars]
            lines.append(f"{meta['movie_id']} | {meta.get('title', '')} | {meta.get('genres', '').replace('|', ', ')}"
                         f" | {meta.get('evidence_reason', '')} | {description}")
        return {"top_n": self.top_n, "conversation": conversation or "(nothing yet)", "candidates": "\n".join(lines)}

    def _apply(self, picks: Picks, nodes: list[NodeWithScore]) -> RerankOutcome:
        by_id = {int(n.node.metadata["movie_id"]): n for n in nodes[: self.max_candidates]}
        chosen: list[NodeWithScore] = []
        invented: list[int] = []
        for pick in picks.picks:
            node = by_id.get(pick.id)
            if node is None:
                invented.append(pick.id)
                continue
            if len(chosen) == self.top_n or any(c.node.node_id == node.node.node_id for c in chosen):
                continue
            reason = one_sentence(pick.reason)
            if _cites(reason, node.node.metadata.get(DISLIKED_KEY, "")):
                reason = ""  # a film the person disliked is no reason to watch anything
            chosen.append(_with_reason(node, reason or node.node.metadata.get("evidence_reason", ""),
                                       "llm" if reason else "evidence"))
        filled = 0
        for node in nodes:
            if len(chosen) == self.top_n:
                break
            if all(node.node.node_id != c.node.node_id for c in chosen):
                chosen.append(_with_reason(node, node.node.metadata.get("evidence_reason", ""), "evidence"))
                filled += 1
        return RerankOutcome(chosen, invented_ids=invented, filled=filled, used_llm=True)

    def _evidence_order(self, nodes: list[NodeWithScore], error: Exception | None = None) -> RerankOutcome:
        chosen = [_with_reason(n, n.node.metadata.get("evidence_reason", ""), "evidence") for n in nodes[: self.top_n]]
        message = f"{type(error).__name__}: {error}"[:300] if error is not None else None
        return RerankOutcome(chosen, fallback=error is not None, error=message, used_llm=error is not None)


def one_sentence(text: str) -> str:
    """The first sentence of `text`, trimmed; LLMs sometimes write two."""
    text = re.sub(r"\s+", " ", (text or "")).strip().strip('"')
    match = re.match(r"(.+?[.!?])(?:\s|$)", text)
    sentence = match.group(1) if match else text
    return sentence if len(sentence.split()) >= 3 else ""


def _cites(reason: str, names: str) -> bool:
    """Whether the reason names one of the `|`-separated film names."""
    return any(re.search(rf"(?<!\w){re.escape(name)}(?!\w)", reason, re.IGNORECASE) for name in names.split("|") if name)


def _description(text: str, title: str) -> str:
    """The enrichment part of a collection text (after the raw `title | genres` line)."""
    body = text.split("\n", 1)[1] if "\n" in text else ""
    return re.sub(r"\s+", " ", body).strip() or text.replace(title, "").strip(" |")


def _with_reason(node: NodeWithScore, reason: str, source: str) -> NodeWithScore:
    copy = node.node.model_copy(deep=True)
    copy.metadata["reason"] = reason
    copy.metadata["reason_source"] = source
    return NodeWithScore(node=copy, score=node.score)
