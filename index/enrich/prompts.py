"""The enrichment pass's prompts, the facts they are given, and the check every reply must pass.

Each prompt carries a version that every row it writes records; rows are keyed by it, so bump the version
whenever a template changes and the next `movierec enrich` writes fresh rows for it.
- `critic` (the lab's prompt): a 60-word description in a film critic's voice from the title, year and
  genres only. Small models invent plots from that little.
- `grounded`: the same voice, handed the facts the catalog really has (genres, year, viewers' tags, what the
  same fans loved, the mean rating, the original-language title) and told not to invent plot details.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

from llama_index.core.llms import ChatMessage
from llama_index.core.prompts import ChatPromptTemplate

from index.catalog import Catalog, Movie
from index.collab import Collaborative

MIN_WORDS, MAX_WORDS = 30, 100  # the prompts ask for 60
CO_LIKED = 5
FACT_TAGS = 8

SYSTEM = "You are a film critic who writes short, vivid catalog descriptions."
CRITIC_TEMPLATE = ChatPromptTemplate.from_messages([
    ("system", SYSTEM),
    ("user", "Expand this catalog row into a description of about 60 words, in the voice of a film critic.\n"
             "Title: {title}\nYear: {year}\nGenres: {genres}\n"
             "Answer with the description only: one paragraph of plain prose, no heading, no list."),
])
GROUNDED_TEMPLATE = ChatPromptTemplate.from_messages([
    ("system", SYSTEM + " You state only what the facts you are given support."),
    ("user", "Write a description of about 60 words, in the voice of a film critic, of this movie, "
             "using only these facts:\n{facts}\n"
             "Do not invent plot details, characters, actors, directors, awards or quotes that the facts do not "
             "give. Where the facts are thin, write about its genres, era and tone and about who will enjoy it.\n"
             "Answer with the description only: one paragraph of plain prose, no heading, no list."),
])


@dataclass(frozen=True)
class MovieFacts:
    """What the catalog knows about a movie, and nothing else."""

    title: str  # without the year
    year: int | None
    genres: tuple[str, ...]
    original_title: str | None
    tags: tuple[str, ...]
    mean_rating: float | None
    n_ratings: int
    co_liked: tuple[str, ...]  # titles the same (training) fans liked most

    def lines(self) -> str:
        lines = [f"Title: {self.title}"]
        if self.original_title:
            lines.append(f"Original title: {self.original_title}")
        lines.append(f"Year: {self.year or 'unknown'}")
        lines.append(f"Genres: {', '.join(self.genres) or 'not listed'}")
        if self.tags:
            lines.append(f"Viewers tag it: {', '.join(self.tags)}")
        if self.mean_rating is not None and self.n_ratings:
            lines.append(f"Average viewer rating: {self.mean_rating:.1f} out of 5 ({self.n_ratings} ratings)")
        if self.co_liked:
            lines.append(f"People who loved it also loved: {', '.join(self.co_liked)}")
        return "\n".join(lines)


class FactSource:
    """Facts from the catalog and its training ratings; co-liked lists are computed once per process."""

    def __init__(self, catalog: Catalog):
        self.catalog = catalog
        self._co_liked: dict[tuple[int, int], tuple[str, ...]] = {}

    @cached_property
    def collaborative(self) -> Collaborative:
        return Collaborative.from_catalog(self.catalog)

    def co_liked_titles(self, movie: Movie, k: int = CO_LIKED) -> tuple[str, ...]:
        key = (movie.movie_id, k)
        if key not in self._co_liked:  # ~1 ms each: the LLM pass and the co-liked enricher share them
            ids = self.collaborative.co_liked(movie.movie_id, k)
            self._co_liked[key] = tuple(self.catalog[i].title for i in ids if i in self.catalog)
        return self._co_liked[key]

    def facts(self, movie: Movie) -> MovieFacts:
        return MovieFacts(title=movie.name, year=movie.year, genres=movie.genres,
                          original_title=movie.original_title, tags=movie.tags[:FACT_TAGS],
                          mean_rating=movie.mean_rating, n_ratings=movie.n_ratings,
                          co_liked=self.co_liked_titles(movie))


@dataclass(frozen=True)
class EnrichPrompt:
    enricher: str  # the enricher whose rows it writes
    version: str
    template: ChatPromptTemplate
    uses_facts: bool  # False: title, year and genres only

    def messages(self, movie: Movie, facts: FactSource) -> list[ChatMessage]:
        if self.uses_facts:
            return self.template.format_messages(facts=facts.facts(movie).lines())
        return self.template.format_messages(title=movie.name, year=movie.year or "unknown",
                                             genres=", ".join(movie.genres) or "not listed")


CRITIC = EnrichPrompt("critic", "critic-v1", CRITIC_TEMPLATE, uses_facts=False)
GROUNDED = EnrichPrompt("grounded", "grounded-v1", GROUNDED_TEMPLATE, uses_facts=True)
PROMPTS = {p.enricher: p for p in (CRITIC, GROUNDED)}

_REFUSAL = re.compile(
    r"^\W*(i'?m sorry|sorry\b|i apologi[sz]e|unfortunately,? i\b|as an ai\b|i (?:cannot|can't|can not|am unable|"
    r"'m unable|am not able|won't|will not)\b)"
    r"|\b(?:i (?:do not|don't) have (?:any |enough )?(?:information|details|data)|i'?m not (?:familiar|aware)"
    r"|as an ai(?: language model)?\b|i cannot (?:provide|write|help))", re.I)


def clean(text: str | None) -> str:
    """One paragraph: whitespace collapsed, wrapping quotes removed."""
    text = re.sub(r"\s+", " ", text or "").strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        text = text[1:-1].strip()
    return text


def rejection(text: str) -> str | None:
    """Why a (cleaned) reply is not a usable description, or None when it is."""
    if not text:
        return "empty"
    if _REFUSAL.search(text):
        return "refusal"
    words = len(text.split())
    if words < MIN_WORDS:
        return f"too short ({words} words)"
    if words > MAX_WORDS:
        return f"too long ({words} words)"
    return None
