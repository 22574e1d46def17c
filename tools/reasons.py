"""One-sentence reasons built only from evidence, for the no-LLM path and for LLM fallbacks."""

from __future__ import annotations

import re

from tools.candidates import Candidate, SearchRequest
from tools.preferences import MOODS

_DECADES = re.compile(r"\d0'?s\b|ties\b", re.IGNORECASE)  # era labels that name decades: "90s", "the eighties"


def evidence_reason(candidate: Candidate, request: SearchRequest, disliked: tuple[str, ...] = ()) -> str:
    """E.g. "Fans of Heat (1995) loved it; a tense Crime thriller from 1998, in the 90s you asked for.".

    `disliked`: titles of films the person did not like; never cited as a reason to watch.
    """
    movie = candidate.movie
    clauses = []
    loves = [title for title in candidate.because_of if title not in disliked]
    if loves:
        clauses.append(f"fans of {_join(loves[:2])} loved it")
    described = _describe(movie.genres, request.wanted_genres, request.moods)
    era = request.era
    if described:
        year = f" from {movie.year}" if movie.year else ""
        asked = ""
        if era and era != "any era" and movie.year:  # "in the 90s you asked for"; "from 1990" is no decade
            asked = f", in the {era} you asked for" if _DECADES.search(era) else ", within the era you asked for"
        clauses.append(f"{described}{year}{asked}")
    if request.subtitles and movie.original_title:
        clauses.append(f"subtitled (original title: {movie.original_title})")
    if not clauses or (len(clauses) == 1 and not loves):
        if movie.mean_rating and movie.n_ratings >= 20:
            clauses.append(f"rated {movie.mean_rating:.1f}/5 by {movie.n_ratings} viewers")
        elif candidate.signals.get("content", 0) >= 0.5:
            clauses.append("it closely matches how you described what you want")
    sentence = "; ".join(clauses) or "a well-liked film that fits the rest of your preferences"
    return sentence[0].upper() + sentence[1:] + "."


def _describe(genres: tuple[str, ...], wanted: tuple[str, ...], moods: tuple[str, ...]) -> str:
    matched = [g for g in genres if g in wanted]
    fitting = [m for m in moods if set(MOODS[m][1]) & set(genres)]
    if not matched and not fitting:
        return ""
    mood = f"{_join(fitting[:2])} " if fitting else ""
    kind = _join(matched[:3]) if matched else "/".join(genres[:2])
    article = "an" if (mood or kind)[:1].lower() in "aeiou" else "a"
    return f"{article} {mood}{kind} pick"


def _join(items) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
