"""Resolving what people type to catalog movies: `The Matrix`, `se7en`, `godfather part 2`, `Pulp Fictoin`.

`TitleMatcher.match` resolves one name (exact key, then the main title before a colon, then a fuzzy match
that refuses to swap sequel numbers). `find_mentions` finds the films named inside a sentence; names the
user clearly gave (quoted, or after "loved", "like", ...) that match nothing come back as unresolved,
never guessed.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cached_property

from rapidfuzz import fuzz, process

from index.catalog import Catalog, Movie
from index.titles import normalize

FUZZY_CUTOFF = 86.0
POPULARITY_OVERRIDE = 3
_ROMAN = {"ii": "2", "iii": "3", "iv": "4", "vi": "6", "vii": "7", "viii": "8", "ix": "9"}
_NUMBER_WORDS = {"two": "2", "three": "3", "four": "4", "five": "5"}
_YEAR_IN_QUERY = re.compile(r"[\s(,]*\(?((?:18|19|20)\d\d)\)?\s*$")
# Phrases after which the words that follow are a film's name.
_TRIGGER = re.compile(
    r"\b(?:loved|love|liked|like|enjoyed|enjoy|adored|adore|fan of|favou?rites?(?: (?:is|are|was|were|include))?|"
    r"such as|similar to|along the lines of|in the vein of|something like|films? like|movies? like|"
    r"e\.g\.|including|rewatched|watched)\s+(?P<rest>[^.;!?\n]+)", re.IGNORECASE)
_QUOTED = re.compile(r"[\"“”«»*_]([^\"“”«»*_]{2,80})[\"“”«»*_]|(?<![A-Za-z])'([^']{2,80})'(?![A-Za-z])")
_SEPARATORS = re.compile(r",\s*(?:and|or)\s+|\s*,\s*|\s+(?:and|or|&|plus|but|then)\s+|\s*/\s*", re.IGNORECASE)
_CLAUSE_END = re.compile(r"\s+(?:because|since|as|but|which|that|when|so|though|although|if)\s+", re.IGNORECASE)
_WORD = re.compile(r"[\w'’]+(?:[.:\-][\w'’]+)*\.?|&|\(\d{4}\)")
_GENERIC = re.compile(r"\b(?:films?|movies?|cinema|stuff|ones|kind|sort|genres?|tonight|something|anything|"
                      r"\d0s|nineties|eighties|seventies|sixties)\b", re.IGNORECASE)
_MAX_TITLE_WORDS = 12
_TITLE_SMALL_WORDS = {"of", "the", "a", "an", "and", "in", "on", "to", "for", "at", "with", "from"}
_YEAR_TOKEN = re.compile(r"\((\d{4})\)")
_FILLER = re.compile(r"^(?:\s*\b(?:also|and|or|maybe|especially|probably|really|even|definitely|of course|"
                     r"the (?:movie|film)|movies?|films?)\b)+\s*", re.IGNORECASE)
_PART_WORD = re.compile(r"\b(?:part|episode|chapter|vol|volume) (?=\d)")
# A sequel number right after a name ("Toy Story 4", "Rocky VII", "Godfather part 4") names another film.
_SEQUEL_AFTER = re.compile(r"\s+(?:(?:part|episode|chapter|vol\.?|volume)\s+)?"
                           r"(?:\d{1,2}|ii|iii|iv|vi|vii|viii|ix)\b(?![/:.]\d|\s+(?:times|stars|out of)\b)",
                           re.IGNORECASE)  # but not "Heat 10/10" or "Heat 3 times"
# Words that start a capitalized run but are not a title ("I loved ...", "Maybe ...").
_COMMON_STARTS = {
    "i", "im", "i'm", "id", "i'd", "ive", "i've", "my", "we", "the", "a", "an", "and", "but", "or", "so", "maybe",
    "something", "anything", "nothing", "yes", "no", "ok", "okay", "sure", "thanks", "please", "hi", "hello",
    "hey", "also", "oh", "well", "actually", "english", "french", "german", "spanish", "japanese", "korean",
    "italian", "chinese", "hindi", "subtitles", "what", "how", "can", "could", "would", "any", "some", "not",
}


def _key(text: str) -> str:
    tokens = normalize(text).split()
    return " ".join(_ROMAN.get(t, _NUMBER_WORDS.get(t, t)) if i else t for i, t in enumerate(tokens))


def _numbers(key: str) -> set[str]:
    return set(re.findall(r"\b\d+\b", key))


@dataclass(frozen=True)
class TitleMatch:
    movie: Movie
    score: float  # 100 for an exact name, lower for fuzzy matches
    how: str  # exact | main-title | fuzzy


@dataclass
class Mentions:
    resolved: list[Movie] = field(default_factory=list)
    unresolved: list[str] = field(default_factory=list)


class TitleMatcher:
    def __init__(self, catalog: Catalog):
        self.catalog = catalog
        self._exact: dict[str, list[Movie]] = defaultdict(list)
        self._main: dict[str, list[Movie]] = defaultdict(list)
        for movie in catalog:  # catalog order is popularity order, so lists stay most-rated first
            for name in (movie.name, *movie.aliases):
                key = _key(name)
                if not key:
                    continue
                self._exact[key].append(movie)
                short = _PART_WORD.sub("", key)  # "godfather part 2" is also typed "godfather 2"
                if short != key:
                    self._exact[short].append(movie)
                main = _key(re.split(r":| - ", name, maxsplit=1)[0])
                if main and main != key and not main.isdigit():  # "3:10 to Yuma" is not "3"
                    self._main[main].append(movie)

    @cached_property
    def _keys(self) -> list[str]:
        return list(self._exact)

    def match(self, query: str) -> TitleMatch | None:
        """The catalog movie `query` names, or None when nothing is close enough."""
        name, year = _split_query_year(query)
        key = _key(name)
        if not key:
            return None
        if key in self._exact or key in self._main:
            movie = self._named(key, year)
            how, score = ("exact", 100.0) if movie in self._exact.get(key, ()) else ("main-title", 95.0)
            return TitleMatch(movie, score, how)
        candidates = self._fuzzy(key, limit=5)
        if not candidates:
            return None
        best_key, best_score = candidates[0]
        return TitleMatch(_prefer_year(self._exact[best_key], year), best_score, "fuzzy")

    def close_matches(self, query: str, k: int = 5) -> list[Movie]:
        """Suggestions for a name that matched nothing: the nearest titles, however far."""
        key = _key(_split_query_year(query)[0])
        found = process.extract(key, self._keys, scorer=fuzz.WRatio, limit=k * 2)
        movies = list(dict.fromkeys(self._exact[k_][0] for k_, _, _ in found))
        return movies[:k]

    def _fuzzy(self, key: str, limit: int) -> list[tuple[str, float]]:
        found = process.extract(key, self._keys, scorer=fuzz.ratio, limit=limit, score_cutoff=FUZZY_CUTOFF)
        wanted = _numbers(key)
        # "Toy Story 3" is one edit from "Toy Story 2": a fuzzy match may fix letters, never numbers.
        return [(k, s) for k, s, _ in found if _numbers(k) == wanted]

    def find_mentions(self, text: str) -> Mentions:
        """Films named in a user's message, in order of appearance.

        A greedy left-to-right scan takes the longest run of words that is a catalog name and counts it
        when it is capitalized ("Heat", not "heat" in "something with heat") or is a whole item of an
        explicit list (quoted, or after "loved", "like", ...: "loved up and inside out"). Explicit items
        that match nothing exactly are tried fuzzily, then reported unresolved, never guessed.
        """
        tokens = [(m.start(), m.end()) for m in _WORD.finditer(text)]
        items = [item for start, stop in _explicit_ranges(text) for item in _items(text, start, stop)]
        found: dict[int, Movie] = {}
        matched: list[tuple[int, int]] = []
        unresolved_versions: list[str] = []
        i = 0
        while i < len(tokens):
            hit = self._longest_name_at(text, tokens, i)
            if hit and (_SEQUEL_AFTER.match(text, tokens[hit[0] - 1][1]) or _longer_title_follows(text, tokens, hit)):
                hit = None
            span = (tokens[i][0], tokens[hit[0] - 1][1]) if hit else None
            if hit and (span in items or _capitalized_name(text, *span) or _year_follows(text, tokens, hit[0])):
                matched.append(span)
                i = hit[0]
                if hit[1] is None:  # "Halloween (2007)" when the catalog has only the 1978 film
                    unresolved_versions.append(re.sub(r"^(?:the|a|an)\s+", "", text[span[0]:tokens[i][1]]))
                    matched.append((span[0], tokens[i][1]))
                    i += 1
                else:
                    found.setdefault(hit[1].movie_id, hit[1])
            else:
                i += 1
        unresolved = unresolved_versions
        for start, stop in items:
            item = text[start:stop]
            if any(a < stop and start < b for a, b in matched) or not _plausible_name(item):
                continue
            hit = self.match(item)
            if hit:
                found.setdefault(hit.movie.movie_id, hit.movie)
            elif _looks_like_title(item):
                unresolved.append(item)
        return Mentions(list(found.values()), list(dict.fromkeys(unresolved)))

    def _longest_name_at(self, text: str, tokens: list[tuple[int, int]], i: int) -> tuple[int, Movie | None] | None:
        """(end token, film) of the longest catalog name starting at token i; the film is None when the
        name is followed by a year that no catalog version of it has (a remake the catalog lacks)."""
        for end in range(min(len(tokens), i + _MAX_TITLE_WORDS), i, -1):
            key = _key(text[tokens[i][0]:tokens[end - 1][1]])
            if key in self._exact or key in self._main:
                year = _YEAR_TOKEN.fullmatch(text[slice(*tokens[end])]) if end < len(tokens) else None
                if year is None:
                    return end, self._named(key, None)
                return end, _of_year(self._exact.get(key, []) + self._main.get(key, []), int(year.group(1)))
        return None

    def _named(self, key: str, year: int | None) -> Movie:
        """The film a name means: the year decides; else the exact title, unless a film whose main title
        it is was rated far more often ("Lord of the Rings" means 2001's, not the 1978 cartoon)."""
        exact, main = self._exact.get(key, []), self._main.get(key, [])
        if year is not None:
            return _prefer_year(exact + main, year)
        if exact and main and main[0].n_ratings > POPULARITY_OVERRIDE * exact[0].n_ratings:
            return main[0]
        return (exact or main)[0]


def _year_follows(text: str, tokens: list[tuple[int, int]], end: int) -> bool:
    """ "Heat (1995) was great": a name written with its year is a film even where one word would not be."""
    return end < len(tokens) and _YEAR_TOKEN.fullmatch(text[slice(*tokens[end])]) is not None


def _longer_title_follows(text: str, tokens: list[tuple[int, int]], hit: tuple[int, Movie | None]) -> bool:
    """ "Red" in "Red Sparrow (2018)": capitalized words run on from the name to a year, so the person
    named a longer title (one the catalog lacks), not this film."""
    end = hit[0]
    if _year_follows(text, tokens, end):
        return False
    for j in range(end, min(len(tokens), end + 6)):
        word = text[slice(*tokens[j])]
        if _YEAR_TOKEN.fullmatch(word):
            return j > end
        gap = text[tokens[j - 1][1]:tokens[j][0]]
        if gap.strip(" :-'") or not (word[:1].isupper() or word[:1].isdigit() or word.lower() in _TITLE_SMALL_WORDS):
            return False
    return False


def _split_query_year(query: str) -> tuple[str, int | None]:
    match = _YEAR_IN_QUERY.search(query)
    if match and match.start() > 0:
        return query[: match.start()], int(match.group(1))
    return query, None


def _of_year(movies: list[Movie], year: int) -> Movie | None:
    """The version of that year; a year off by one still counts (release years differ between sources)."""
    for tolerance in (0, 1):
        for movie in movies:
            if movie.year is not None and abs(movie.year - year) <= tolerance:
                return movie
    return None


def _prefer_year(movies: list[Movie], year: int | None) -> Movie:
    if year is not None:
        for movie in movies:
            if movie.year == year:
                return movie
    return movies[0]


def _explicit_ranges(text: str) -> list[tuple[int, int]]:
    """Character ranges the user clearly meant as film names: quotes, and the clause after a trigger."""
    ranges = [match.span(1) if match.group(1) else match.span(2) for match in _QUOTED.finditer(text)]
    for match in _TRIGGER.finditer(text):
        start = match.start("rest")
        stop = start + len(_CLAUSE_END.split(match.group("rest"))[0])
        ranges.append((start, stop))
    return sorted(ranges)


def _items(text: str, start: int, stop: int) -> list[tuple[int, int]]:
    """Character spans of the items of an explicit list ("Heat, Ronin and also Up"), fillers trimmed."""
    spans, offset = [], start
    for part in _SEPARATORS.split(text[start:stop]):
        at = text.find(part, offset, stop)
        offset = at + len(part)
        trimmed = _FILLER.sub("", part).strip(" '\"“”.,!?")
        if trimmed:
            begin = text.find(trimmed, at, offset)
            spans.append((begin, begin + len(trimmed)))
    return spans


def _capitalized_name(text: str, start: int, stop: int) -> bool:
    words = text[start:stop].split()
    if not (words[0][:1].isupper() or words[0][:1].isdigit()):
        return False
    at_sentence_start = start == 0 or text[:start].rstrip()[-1:] in ".!?"
    if len(words) == 1:  # a bare number ("top 10", "from 1984") is a film only as an explicit item
        return not at_sentence_start and normalize(words[0]) not in _COMMON_STARTS and not words[0].isdigit()
    return True


def _plausible_name(item: str) -> bool:
    words = item.split()
    return 0 < len(words) <= _MAX_TITLE_WORDS and normalize(words[0]) not in _COMMON_STARTS \
        and not _GENERIC.search(item)


def _looks_like_title(span: str) -> bool:
    """A capitalized name, not "something tense" or "Korean films" after "like"."""
    first = span.split()[0] if span.split() else ""
    return _plausible_name(span) and (first[:1].isupper() or bool(re.match(r"\d+(?!0?s\b)", first)))
