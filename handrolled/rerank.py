"""The LLM rerank by hand: one chat.completions call in JSON mode, checked field by field.

The model sees the conversation and up to `max_candidates` fused candidates and answers
`{"picks": [{"id": <id>, "reason": "<one sentence>"}]}`. Ids that were not shown are dropped and counted,
malformed picks are skipped, missing picks are filled in retrieval order with evidence reasons. Connection
errors, timeouts, 429 and 5xx are retried with backoff inside one deadline (handrolled/llm.py); anything
else (other 4xx, no JSON, no valid pick) falls back to the retrieval order at once, with `fallback` set.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import openai

from handrolled.llm import EmptyAnswer, chat_completion
from handrolled.reasons import evidence_reason, first_sentence
from handrolled.retrieve import Candidate, Request

SYSTEM = "You are a film librarian. You answer with JSON only."
PROMPT = """Choose {top_n} movies for one person.
What they told us: {conversation}

Candidates, best evidence first (id | title | genres | evidence | description):
{candidates}

Pick the {top_n} candidates that best fit what they said, in order. Prefer strong evidence (films their \
favourites' fans loved) unless it clashes with what they asked for. Use only ids from the list. For each pick \
write ONE sentence (at most 30 words) tying the film to something they said; invent no plot details.
Answer as JSON: {{"picks": [{{"id": <id>, "reason": "<one sentence>"}}]}}"""


class BadAnswer(ValueError):
    """The LLM answered, but not with usable picks."""


@dataclass
class Pick:
    candidate: Candidate
    reason: str
    source: str  # llm | evidence


@dataclass
class RerankResult:
    picks: list[Pick]
    invented_ids: list[int] = field(default_factory=list)  # ids the LLM gave that it was not shown
    malformed: int = 0  # picks without a usable id
    filled: int = 0  # picks taken from retrieval order
    fallback: bool = False  # the LLM failed; retrieval order and evidence reasons
    error: str | None = None
    attempts: int = 0


@dataclass
class Reranker:
    client: object | None  # openai.OpenAI, or None for the deterministic order
    model: str = ""
    top_n: int = 5
    max_candidates: int = 50
    deadline: float = 120.0  # seconds for the whole rerank, retries included
    attempts: int = 3
    backoff: float = 0.5
    description_chars: int = 160

    def rerank(self, candidates: list[Candidate], request: Request, conversation: str) -> RerankResult:
        if self.client is None or not candidates:
            return self._evidence_order(candidates, request)
        shown = candidates[: self.max_candidates]
        messages = [{"role": "system", "content": SYSTEM},
                    {"role": "user", "content": self._prompt(shown, request, conversation)}]
        try:
            content, attempts = chat_completion(self.client, self.model, messages, self.deadline, self.attempts,
                                                self.backoff, json_mode=True)
            picks, malformed = parse_picks(content)
        except (openai.OpenAIError, EmptyAnswer, BadAnswer) as exc:
            return self._evidence_order(candidates, request, exc)
        result = self._apply(picks, shown, candidates, request)
        result.malformed, result.attempts = malformed, attempts
        return result

    def _prompt(self, shown: list[Candidate], request: Request, conversation: str) -> str:
        lines = []
        for c in shown:
            description = _description(c.text, c.movie.title)[: self.description_chars]
            lines.append(f"{c.movie.movie_id} | {c.movie.title} | {', '.join(c.movie.genres)} | "
                         f"{evidence_reason(c, request)} | {description}")
        return PROMPT.format(top_n=self.top_n, conversation=conversation or "(nothing yet)",
                             candidates="\n".join(lines))

    def _apply(self, picks: list[tuple[int, object]], shown: list[Candidate], candidates: list[Candidate],
               request: Request) -> RerankResult:
        by_id = {c.movie.movie_id: c for c in shown}
        chosen: dict[int, Pick] = {}
        invented = []
        for movie_id, reason in picks:
            candidate = by_id.get(movie_id)
            if candidate is None:
                invented.append(movie_id)
            elif movie_id not in chosen and len(chosen) < self.top_n:
                sentence = first_sentence(reason)
                chosen[movie_id] = Pick(candidate, sentence or evidence_reason(candidate, request),
                                        "llm" if sentence else "evidence")
        filled = 0
        for c in candidates:
            if len(chosen) == self.top_n:
                break
            if c.movie.movie_id not in chosen:
                chosen[c.movie.movie_id] = Pick(c, evidence_reason(c, request), "evidence")
                filled += 1
        return RerankResult(list(chosen.values()), invented_ids=invented, filled=filled)

    def _evidence_order(self, candidates: list[Candidate], request: Request,
                        error: Exception | None = None) -> RerankResult:
        picks = [Pick(c, evidence_reason(c, request), "evidence") for c in candidates[: self.top_n]]
        message = f"{type(error).__name__}: {error}"[:300] if error is not None else None
        return RerankResult(picks, fallback=error is not None, error=message)


def parse_picks(content: str) -> tuple[list[tuple[int, object]], int]:
    """([(id, reason)], malformed count) from the model's text; BadAnswer when nothing usable is there."""
    text = re.sub(r"^\s*```(?:json)?\s*|\s*```\s*$", "", content or "")  # some models fence JSON anyway
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadAnswer(f"not JSON: {text[:80]!r}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("picks"), list):
        raise BadAnswer('no "picks" list in the answer')
    picks, malformed = [], 0
    for item in data["picks"]:
        movie_id = item.get("id") if isinstance(item, dict) else None
        if isinstance(movie_id, str) and movie_id.strip().isdigit():
            movie_id = int(movie_id)
        if isinstance(movie_id, bool) or not isinstance(movie_id, int):
            malformed += 1
            continue
        picks.append((movie_id, item.get("reason")))
    if not picks:
        raise BadAnswer(f"no pick has a usable id ({malformed} malformed)")
    return picks, malformed


def _description(text: str, title: str) -> str:
    """The enrichment part of a collection text (after the raw `title | genres` line), else the raw line."""
    body = text.split("\n", 1)[1] if "\n" in text else ""
    return re.sub(r"\s+", " ", body).strip() or text.replace(title, "").strip(" |")
