"""The hard conditions a conversation sets (years, genres) and which held-out films pass them."""

from __future__ import annotations

from eval.transcripts.files import Transcript
from eval.transcripts.reading import read_turns
from index.catalog import Catalog, Movie
from index.matching import TitleMatcher
from tools.candidates import SearchRequest
from tools.search import request_from


def passes_hard_conditions(movie: Movie, request: SearchRequest) -> bool:
    """The filters CandidateGenerator.allowed applies from the conversation (years, genres)."""
    year = movie.year or 0
    if request.year_min is not None and year < request.year_min:
        return False
    if request.year_max is not None and not 0 < year <= request.year_max:
        return False
    if request.genres and not set(movie.genres) & set(request.genres):
        return False
    return not set(movie.genres) & set(request.avoid_genres)


def hard_condition_share(transcript: Transcript, catalog: Catalog, matcher: TitleMatcher, latest: int) -> float:
    """Share of the held-out films that the transcript's own hard conditions let through."""
    request = request_from(read_turns(transcript.turns, matcher, latest), latest)
    held = [catalog[m] for m in transcript.held_out if m in catalog]
    return sum(passes_hard_conditions(m, request) for m in held) / max(len(held), 1)
