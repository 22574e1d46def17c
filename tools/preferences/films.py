"""The films one message names and the person's stance on each: loved, disliked, seen, or none.

Each named film is judged by the words around it: the words since the previous film or clause boundary
("I did not like X, have not seen Y and loved Z"), then the words after it up to the next boundary
("X wasn't really my thing"), then, for the last film of a sentence, a verdict later in that sentence
("I saw parts of X but lost interest", "I saw X last week and loved it"). A film with no words of its own after a list separator takes the
stance of the film before it ("I hated X, Y and Z"). A short next sentence that judges "it" or "that one"
judges the one film of the sentence before ("I've seen X. But I did not like it"). A film asked about,
not seen yet or about to be watched has no stance: it is neither a love nor ruled out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from index.catalog import Movie
from index.matching import TitleMatcher
from tools.preferences.vocabulary import GENRES

LOVED, DISLIKED, SEEN, NONE = "loved", "disliked", "seen", "none"

_SENTENCES = re.compile(r"\.{2,}|(?<!\bMr\.)(?<!\bMrs\.)(?<!\bMs\.)(?<!\bDr\.)(?<!\bSt\.)(?<!\bvs\.)(?<=[.;!?])\s+|(?<=[a-z][.!?])(?=[A-Z])|\s*;\s*|\n+")
_BOUNDARY = re.compile(r",|\b(?:but|whereas|while|though|although|however|and|so|because|since)\b|[.!?]",
                       re.IGNORECASE)
_SEPARATOR_ONLY = re.compile(r"^[\s,&/]*(?:(?:and|or|nor|plus|also|even)\b[\s,]*)*$", re.IGNORECASE)
_NOT = r"(?:did ?n[o']?t|do ?n[o']?t|does ?n[o']?t|was ?n[o']?t|is ?n[o']?t|not|never|would ?n[o']?t|wo ?n[o']?t|no)"
_LIKING = (r"(?:like|liked|enjoy|enjoyed|love|loved|care|a fan|fan|into|my thing|my kind|my type|my cup|"
           r"interested|interest|for me|good|great|want|sure|appeal\w*|impress\w*)")
# Ordered by precedence within one stretch of words: a verdict against beats a plan, a plan beats praise.
_CUES = (
    (DISLIKED, re.compile(
        rf"\b{_NOT}\b(?:\s+[\w']+){{0,4}}?\s+{_LIKING}\b|^\W*(?:not|no|nope|never|definitely not)\W*$|"
        r"\b(?:hated?|disliked?|can'?t stand|couldn'?t stand|boring|overrated|rubbish|garbage|trash|waste|awful|"
        r"terrible|horrible|worst|stupid|meh|pass on|i'?ll pass|no thanks|a (?:big )?no\b|nothing like|"
        r"stopped (?:watching|after)|quit watching|turned it off|walked out|lost (?:my |all )?interest|"
        r"(?:a bit|a little|kinda|kind of|way|much) (?:more |too )?(?:for )?(?:old|older|young|mature|adult|scary|violent|"
        r"childish)|"
        r"(?:way |a bit |a little |just |much )?too (?!many\b|and\b|but\b|i\b|lol\b|though\b)[a-z]+)\b",
        re.IGNORECASE)),
    (NONE, re.compile(
        r"\b(?:have ?n[o']?t|have not|never|not) (?:yet |even |really )?(?:seen|watched|heard of)|"
        r"\b(?:will|\w+'ll|gonna|going to|might|may|plan to|want to|wanted to|would like to) (?:definitely |probably |"
        r"have to |try to )?(?:watch|check|try|see|give|look|go with|add)|\bcheck (?:it |that |this )?out|"
        r"\b(?:heard|hear)\b|\btrailers?\b|\bwhat(?: i|')s\b|\bwhat is\b|\bis it\b|\bhave you seen|\bthinking of|"
        r"\bsounds?\b|\bseem(?:s|ed)?\b|\bpreviews?\b|\b(?:seems?|looks?) (?:\w+ )?interesting|\b(?:good|great|nice) (?:idea|choice|suggestion|recommendation|pick)|\binterested in",
        re.IGNORECASE)),
    (LOVED, re.compile(
        r"(?<!seem )(?<!seems )(?<!seemed )(?<!look )(?<!looks )(?<!feel )(?<!sound )(?<!sounds )"
        r"\b(?:lov\w*|lik(?:e|ed|es)|enjoy\w*|ador\w*|favou?rites?|fan of|great|amazing|awesome|good|classic|"
        r"best|fantastic|brilliant|funny|hilarious|excellent|masterpiece|perfect|wonderful|similar|same vein|"
        r"along the lines|such as)\b", re.IGNORECASE)),
    (SEEN, re.compile(
        r"\b(?:i'?ve|i'?v|i have|have|i|already|just|we|we'?ve)\s+(?:already |just |recently |also )?"
        r"(?:seen|saw|watched)\b|\bseen (?:it|that|this|both|them|parts?|some)\b|\bsaw (?:it|that)\b",
        re.IGNORECASE)),
)
_YEAR = re.compile(r"\(\d{4}\)")
_PRECEDENCE = tuple(stance for stance, _ in _CUES)
_PRONOUN = re.compile(r"\b(?:it|that one|this one|that movie|this movie|that film|that|them)\b", re.IGNORECASE)
_OPENS_WITH_VERDICT = re.compile(r"\W*(?:not|no|nope|didn'?t|too|loved|hated|great|awesome|boring)\b", re.I)
_FOLLOW_UP_WORDS = 14
_PRONOUNS = {"it", "them", "they", "her", "him", "us", "she", "he", "me", "you", "this", "that", "those", "these"}
_GENRE_NAMES = {genre.lower() for genre in GENRES.values()}  # a longer sentence without a film is about something else


@dataclass
class FilmReading:
    stances: dict[int, str] = field(default_factory=dict)  # movie_id -> stance, in order of mention
    movies: dict[int, Movie] = field(default_factory=dict)
    unresolved: list[str] = field(default_factory=list)

    def with_stance(self, stance: str) -> list[Movie]:
        return [self.movies[i] for i, s in self.stances.items() if s == stance]

    @property
    def named(self) -> list[Movie]:
        return list(self.movies.values())


def read_films(text: str, matcher: TitleMatcher) -> FilmReading:
    reading = FilmReading()
    previous: list[int] = []  # the films of the sentence before
    for sentence in _SENTENCES.split(re.sub(r"<[^>]*>", " ", text)):
        if not sentence.strip():
            continue
        found = matcher.find_mentions(sentence)
        found.resolved = [m for m in found.resolved if not (_genre_word(m, sentence) or _pronoun(m, sentence))]
        reading.unresolved.extend(u for u in found.unresolved if u not in reading.unresolved)
        if not found.resolved:
            _follow_up(sentence, previous, reading)
            previous = []
            continue
        for movie, stance in _stances(sentence, found.resolved):
            reading.movies[movie.movie_id] = movie
            reading.stances.pop(movie.movie_id, None)
            reading.stances[movie.movie_id] = stance
        previous = [m.movie_id for m in found.resolved]
    return reading


def _follow_up(sentence: str, previous: list[int], reading: FilmReading) -> None:
    """ "But I did not like it" after a sentence that named one film judges that film."""
    if len(previous) != 1 or len(sentence.split()) > _FOLLOW_UP_WORDS or not (
            _PRONOUN.search(sentence) or _OPENS_WITH_VERDICT.match(sentence)):
        return
    first = next((part for part in _BOUNDARY.split(sentence) if part.strip()), "")
    stance = _cue(first) or _cue(sentence)  # "It was good even though I am not a fan of ..." is a love
    current = reading.stances.get(previous[0])
    if stance == DISLIKED or (stance == LOVED and current in (SEEN, NONE)) or (stance == SEEN and current == NONE):
        reading.stances[previous[0]] = stance


def _stances(sentence: str, movies: list[Movie]) -> list[tuple[Movie, str]]:
    sentence = _YEAR.sub(lambda year: " " * len(year.group()), sentence)  # "X (1997), Y" is a plain list
    located = sorted(((_span(sentence, m), m) for m in movies), key=lambda pair: pair[0] or (len(sentence), 0))
    result: list[tuple[Movie, str]] = []
    for index, (span, movie) in enumerate(located):
        if span is None:  # a fuzzy match: its exact words are unknown, so the whole sentence speaks for it
            result.append((movie, _cue(sentence) or _default(sentence)))
            continue
        before_end = located[index - 1][0][1] if index and located[index - 1][0] else 0
        after_end = located[index + 1][0][0] if index + 1 < len(located) and located[index + 1][0] else len(sentence)
        before = _BOUNDARY.split(sentence[before_end:span[0]])[-1]
        after = sentence[span[1]:after_end]
        own_after = _BOUNDARY.split(after)[0]
        across = _cue(f"{before} it {own_after}") == DISLIKED  # "I was not a X fan"
        stance = _strongest(_cue(before), _cue(own_after), DISLIKED if across else None)
        if index + 1 == len(located):  # "I saw X last week and it was amazing"
            later = _cue(after)
            if later == DISLIKED and stance in (None, SEEN, NONE) or later == LOVED and stance == SEEN:
                stance = later
        if stance is None and result and _SEPARATOR_ONLY.match(sentence[before_end:span[0]]):
            stance = result[-1][1]
        result.append((movie, stance or _default(sentence)))
    return result


def _strongest(*stances: str | None) -> str | None:
    return min((s for s in stances if s), key=_PRECEDENCE.index, default=None)


def _cue(text: str) -> str | None:
    return next((stance for stance, pattern in _CUES if pattern.search(text)), None)


def _default(sentence: str) -> str:
    """A film named without a verdict is a love ("Heat and Ronin, please"), unless it is asked about."""
    return NONE if sentence.rstrip().endswith("?") else LOVED


def _genre_word(movie: Movie, sentence: str) -> bool:
    """ "not a Romance movie kinda gal" names a genre, not Romance (1999), unless the year says otherwise."""
    return (movie.name.lower() in _GENRE_NAMES
            and not re.search(rf"{re.escape(movie.name)}\s*\({movie.year}\)", sentence, re.IGNORECASE))


def _pronoun(movie: Movie, sentence: str) -> bool:
    """ "I think I would like them" is not Them! (1954): a pronoun names a film only when capitalized."""
    return (re.sub(r"\W", "", movie.name.lower()) in _PRONOUNS
            and not re.search(rf"(?<!\w){re.escape(movie.name.rstrip('!?.'))}", sentence))


def _span(sentence: str, movie: Movie) -> tuple[int, int] | None:
    for name in sorted({n.rstrip(".!?") for n in (movie.name, *movie.aliases)}, key=len, reverse=True):
        if name and (match := re.search(rf"(?<!\w){re.escape(name)}(?!\w)", sentence, re.IGNORECASE)):
            return match.span()
    return None
