"""Transcript turns read with the rules, as the agent reads them without an LLM."""

from __future__ import annotations

from typing import Iterable

from eval.transcripts.profile import TasteProfile
from index.catalog import Movie
from index.matching import TitleMatcher
from tools.preferences import Preferences


def typed_name(movie: Movie, matcher: TitleMatcher, latest_year: int) -> str | None:
    """How a person types the film so that the rule reader finds it: the main title when that is what
    people say ("Star Wars"), else the full name, else the name with its year; None if none is read."""
    forms = []
    if ":" in movie.name:
        forms.append(movie.name.split(":")[0].strip())
    forms += [movie.name, f"{movie.name} ({movie.year})" if movie.year else None]
    for form in filter(None, forms):
        if len(form.split()) > 8:
            continue
        prefs = Preferences().update(f"I loved {form}.", matcher, latest_year)
        if [m.movie_id for m in prefs.loved] == [movie.movie_id] and not prefs.unresolved:
            return form
    return None


def read_turns(turns: Iterable[str], matcher: TitleMatcher, latest_year: int) -> Preferences:
    prefs = Preferences()
    for turn in turns:
        prefs = prefs.update(turn, matcher, latest_year)
    return prefs


def read_back_problems(turns: list[str], profile: TasteProfile, matcher: TitleMatcher, latest: int) -> list[str]:
    """What the rule reader got wrong about the intended profile (empty: read as meant)."""
    prefs = read_turns(turns, matcher, latest)
    era = profile.era
    want_span = (None, None) if era.any else (era.start if era.start is not None else 1900,
                                              era.end if era.end is not None else latest)
    checks = {
        "mood": (prefs.moods, (profile.mood,)),
        "avoided moods": (prefs.avoid_moods, ()),
        "genres": (tuple(sorted(prefs.genres)), tuple(sorted(profile.genres))),
        "avoided genres": (prefs.avoid_genres, ()),
        "era": ((prefs.year_min, prefs.year_max), want_span),
        "era stated": (prefs.era is not None, True),
        "subtitles": (prefs.subtitles, profile.subtitles),
        "loved": (tuple(sorted(m.movie_id for m in prefs.loved)), tuple(sorted(profile.loved))),
        "disliked": (prefs.disliked, ()),
        "unresolved": (prefs.unresolved, ()),
    }
    return [f"{what}: read {got!r}, meant {want!r}" for what, (got, want) in checks.items() if got != want]
