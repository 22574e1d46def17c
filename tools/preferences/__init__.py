"""The preference signals a conversation has given so far, read from the user's own words.

Five kinds of signal count toward the "at least three before recommending" rule: mood, era, language or
subtitles, genres, and films the person loved. They are extracted by rules, the same way with or without
an LLM, so the UI, the evaluation and the no-LLM dialogue all read one structured state. Pure Python: the
hand-rolled pipeline imports it too. The rules live by concern: `films` (titles and the stance on each),
`conditions` (moods, genres, era, language), `audience` (who watches, children's ages, themes).
`llm_reader` is the LLM's reading of a turn with the rules' reading as its draft (LlamaIndex structured
output; nothing here imports it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from index.catalog import Movie
from index.matching import TitleMatcher
from tools.preferences import audience as _audience
from tools.preferences import conditions as _conditions
from tools.preferences.films import DISLIKED, LOVED, NONE, SEEN, read_films
from tools.preferences.vocabulary import GENRES, LANGUAGES, MOODS

__all__ = ["GENRES", "LANGUAGES", "MOODS", "SIGNAL_KINDS", "Preferences"]

SIGNAL_KINDS = ("mood", "era", "language", "genres", "loved")


@dataclass(frozen=True)
class Preferences:
    moods: tuple[str, ...] = ()
    avoid_moods: tuple[str, ...] = ()
    genres: tuple[str, ...] = ()
    avoid_genres: tuple[str, ...] = ()
    year_min: int | None = None
    year_max: int | None = None
    era: str | None = None  # as the person put it: "the 90s", "any era"
    subtitles: bool | None = None  # True: subtitles fine; False: English only
    languages: tuple[str, ...] = ()
    loved: tuple[Movie, ...] = ()
    disliked: tuple[Movie, ...] = ()
    seen: tuple[Movie, ...] = ()  # already watched: never recommended, neither loved nor disliked
    audience: str | None = None  # one of audience.AUDIENCES: "kids" (teens too), "family", "date", "adults"
    ages: tuple[int, ...] = ()  # the ages of the children the film is for, as said ("my 6 year old")
    keywords: tuple[str, ...] = ()  # themes and plot words: "heist", "time travel", "dark humor"
    unresolved: tuple[str, ...] = ()
    # The person's own descriptive words, for retrieval. Not compared: "thanks!" or "tell me about the
    # second one" adds a note but asks for nothing new, and the policy recommends again only on a change.
    notes: tuple[str, ...] = field(default=(), repr=False, compare=False)

    @property
    def signals(self) -> tuple[str, ...]:
        present = {
            "mood": bool(self.moods or self.avoid_moods),
            "era": self.era is not None,
            "language": self.subtitles is not None or bool(self.languages),
            "genres": bool(self.genres or self.avoid_genres),
            "loved": bool(self.loved),
        }
        return tuple(kind for kind in SIGNAL_KINDS if present[kind])

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(kind for kind in SIGNAL_KINDS if kind not in self.signals)

    @property
    def named_ids(self) -> tuple[int, ...]:
        """Every film the person named, loved or not: never recommended back to them."""
        return tuple(dict.fromkeys(m.movie_id for m in (*self.loved, *self.disliked, *self.seen)))

    def summary(self) -> str:
        """One line for prompts and retrieval: "mood: tense; era: the 90s (1990-1999); ..."."""
        parts = []
        if self.moods:
            parts.append("mood: " + ", ".join(self.moods))
        if self.genres:
            parts.append("genres: " + ", ".join(self.genres))
        if self.avoid_genres or self.avoid_moods:
            parts.append("avoid: " + ", ".join((*self.avoid_genres, *self.avoid_moods)))
        if self.era:
            span = f" ({self.year_min or '…'}-{self.year_max or '…'})" if self.year_min or self.year_max else ""
            parts.append(f"era: {self.era}{span}")
        if self.subtitles is not None or self.languages:
            lang = "subtitles fine" if self.subtitles else "English-language only" if self.subtitles is False else ""
            parts.append("language: " + ", ".join(x for x in (lang, *self.languages) if x))
        if self.loved:
            parts.append("loved: " + ", ".join(m.title for m in self.loved))
        if self.disliked:
            parts.append("disliked: " + ", ".join(m.title for m in self.disliked))
        if self.seen:
            parts.append("already seen: " + ", ".join(m.title for m in self.seen))
        if self.audience:
            ages = f" (ages {', '.join(map(str, self.ages))})" if self.ages else ""
            parts.append(f"watching: {self.audience}{ages}")
        if self.keywords:
            parts.append("themes: " + ", ".join(self.keywords))
        return "; ".join(parts) or "no preferences yet"

    def to_dict(self) -> dict:
        return {
            "signals": list(self.signals), "moods": list(self.moods), "avoid_moods": list(self.avoid_moods),
            "genres": list(self.genres), "avoid_genres": list(self.avoid_genres), "era": self.era,
            "year_min": self.year_min, "year_max": self.year_max, "subtitles": self.subtitles,
            "languages": list(self.languages), "loved": [m.title for m in self.loved],
            "disliked": [m.title for m in self.disliked], "seen": [m.title for m in self.seen],
            "audience": self.audience, "ages": list(self.ages), "keywords": list(self.keywords),
            "unresolved": list(self.unresolved),
        }

    def to_json(self) -> dict:
        """The `preferences` object of `recommend --json` (DESIGN.md's JSON contract)."""
        return {
            "loved": _ids(self.loved), "disliked": _ids(self.disliked), "seen": _ids(self.seen),
            "genres": list(self.genres), "avoid_genres": list(self.avoid_genres),
            "era": self.era, "year_min": self.year_min, "year_max": self.year_max,
            "mood": list(self.moods), "avoid_mood": list(self.avoid_moods), "keywords": list(self.keywords),
            "audience": self.audience, "ages": list(self.ages),
            "language": {"subtitles": self.subtitles, "languages": list(self.languages)},
            "unresolved": list(self.unresolved),
        }

    def update(self, text: str, matcher: TitleMatcher, latest_year: int) -> "Preferences":
        """The preferences after one more user message; later statements override earlier ones."""
        films = read_films(text, matcher)
        scrubbed = _without_titles(text, films.named, films.unresolved)
        prefs = _conditions.update_moods(self, scrubbed)
        prefs = _conditions.update_genres(prefs, scrubbed)
        prefs = _conditions.update_era(prefs, scrubbed, latest_year)
        prefs = _conditions.update_language(prefs, scrubbed)
        named = [m for m in films.named if films.stances[m.movie_id] != NONE]  # a question keeps the old stance
        loved = _merge(prefs.loved, films.with_stance(LOVED), drop=named)
        disliked = _merge(prefs.disliked, films.with_stance(DISLIKED), drop=named)
        seen = _merge(prefs.seen, films.with_stance(SEEN), drop=named)
        audience = _audience.read_audience(scrubbed) or prefs.audience
        ages = tuple(dict.fromkeys((*prefs.ages, *_audience.read_ages(_without_titles(text, films.named, [])))))
        if ages and audience is None:
            audience = "kids"
        said = [k for k in _audience.read_keywords(scrubbed)
                if not _conditions.negated(scrubbed, scrubbed.lower().find(k))]
        keywords = tuple(dict.fromkeys((*prefs.keywords, *said)))
        said_titles = [u for u in films.unresolved if not (u.strip().isdigit() or _audience.read_ages(u))]
        unresolved = tuple(dict.fromkeys((*prefs.unresolved, *said_titles)))  # "like 5 and 10 year olds": ages
        notes = (*prefs.notes, scrubbed.strip()) if scrubbed.strip() else prefs.notes
        return replace(prefs, loved=loved, disliked=disliked, seen=seen, audience=audience, ages=ages,
                       keywords=keywords, unresolved=unresolved, notes=notes)


def _ids(movies: tuple[Movie, ...]) -> list[dict]:
    return [{"movie_id": m.movie_id, "title": m.title} for m in movies]


def _merge(old: tuple[Movie, ...], new: list[Movie], drop: list[Movie]) -> tuple[Movie, ...]:
    """`old` minus every film this message named again, plus the ones it named with this stance."""
    dropped = {m.movie_id for m in drop}
    merged = {m.movie_id: m for m in (*(m for m in old if m.movie_id not in dropped), *new)}
    return tuple(merged.values())


def _without_titles(text: str, movies: list[Movie], unresolved: list[str]) -> str:
    """The message minus the film names, so "Heat" or "Dark City" is not read as a mood or a genre."""
    names = [n for movie in movies for n in (movie.name, *movie.aliases)] + list(unresolved)
    for name in sorted(names, key=len, reverse=True):
        text = re.sub(re.escape(name), " ", text, flags=re.IGNORECASE)
    return re.sub(r"<[^>]*>|\(\d{4}\)", " ", text)
