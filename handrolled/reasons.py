"""One-sentence reasons from the retrieval evidence alone: the no-LLM answer and the fallback."""

from __future__ import annotations

import re

from handrolled.retrieve import Candidate, Request
from tools.preferences import MOODS


def evidence_reason(candidate: Candidate, request: Request) -> str:
    movie = candidate.movie
    clauses = []
    if candidate.because_of:
        clauses.append(f"fans of {_join(candidate.because_of[:2])} loved it")
    matched = [g for g in movie.genres if g in request.wanted_genres]
    moods = [m for m in request.moods if set(MOODS[m][1]) & set(movie.genres)]
    if matched or moods:
        era = f", in the {request.era} you asked for" if request.era and request.era != "any era" else ""
        year = f" from {movie.year}" if movie.year else ""
        clauses.append(f"a {_join(moods[:2]) + ' ' if moods else ''}{_join(matched[:3] or movie.genres[:2])} pick"
                       f"{year}{era}")
    if request.subtitles and movie.original_title:
        clauses.append(f"subtitled (original title: {movie.original_title})")
    if not candidate.because_of and movie.mean_rating and movie.n_ratings >= 20:
        clauses.append(f"rated {movie.mean_rating:.1f}/5 by {movie.n_ratings} viewers")
    sentence = "; ".join(clauses) or "a well-liked film that fits the rest of what you said"
    return sentence[0].upper() + sentence[1:] + "."


def first_sentence(text: object) -> str:
    """The first sentence of an LLM's reason, or "" when it is not a usable sentence."""
    if not isinstance(text, str):
        return ""
    text = re.sub(r"\s+", " ", text).strip().strip('"')
    match = re.match(r"(.+?[.!?])(?:\s|$)", text)
    sentence = match.group(1) if match else text
    return sentence if len(sentence.split()) >= 3 else ""


def _join(items) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
