"""Per-conversation state the tools read and write: preferences, what was shown, what tools returned."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from index.catalog import Movie
from index.recommendation import Recommendation
from index.store import ENRICHED
from tools.preferences.llm_reader import LLMReader, ReadOutcome
from tools.preferences import Preferences
from tools.rerank import RerankOutcome
from tools.services import MovieServices


@dataclass
class SearchResult:
    recommendations: list[Recommendation]
    outcome: RerankOutcome | None  # None when the search was refused for lack of signals
    request_text: str = ""
    candidates: int = 0
    candidate_ids: tuple[int, ...] = ()  # the fused candidates the rerank ordered, best first


@dataclass(eq=False)
class ToolSession:
    services: MovieServices
    collection: str = ENRICHED
    preferences: Preferences = field(default_factory=Preferences)
    returned: dict[int, Movie] = field(default_factory=dict)  # every movie a tool showed the model
    shown: list[Recommendation] = field(default_factory=list)  # recommendations given to the person
    searches: list[SearchResult] = field(default_factory=list)
    on_pick: Callable[[Recommendation], None] | None = None  # shown at once while the rerank streams the rest

    def note_user_turn(self, text: str) -> None:
        self.preferences = self.preferences.update(text, self.services.matcher, self.services.latest_year)

    async def read_user_turn(self, text: str, reader: LLMReader) -> ReadOutcome:
        """The turn read by the LLM (the rules' reading when it fails), next to the films last suggested."""
        last = self.searches[-1].recommendations if self.searches else []
        outcome = await reader.aread(self.preferences, text, [self.services.catalog[r.movie_id] for r in last])
        self.preferences = outcome.preferences
        return outcome

    def remember(self, movies) -> None:
        for movie in movies:
            self.returned[movie.movie_id] = movie
