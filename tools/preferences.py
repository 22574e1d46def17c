"""The preference signals a conversation has given so far, read from the user's own words.

Five kinds of signal count toward the "at least three before recommending" rule: mood, era, language or
subtitles, genres, and films the person loved. They are extracted by rules, the same way with or without
an LLM, so the UI, the evaluation and the no-LLM dialogue all read one structured state. Pure Python: the
hand-rolled pipeline imports it too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from index.catalog import Movie
from index.matching import TitleMatcher

SIGNAL_KINDS = ("mood", "era", "language", "genres", "loved")

# mood -> (how people say it, the MovieLens genres it leans on)
MOODS: dict[str, tuple[str, tuple[str, ...]]] = {
    "tense": (r"tense|suspense\w*|gripping|edge of (?:my|your|the) seat|nail[- ]?biting|thrilling|intense|"
              r"heist|cat and mouse", ("Thriller", "Crime", "Mystery")),
    "funny": (r"funny|hilarious|laugh\w*|comic|comedic|silly|goofy|witty|lol", ("Comedy",)),
    "feel-good": (r"feel[- ]?good|uplifting|heart[- ]?warming|cheer (?:me|us) up|cheerful|happy|cozy|wholesome|"
                  r"sweet|charming|fun\b", ("Comedy", "Romance", "Children", "Animation", "Musical")),
    "dark": (r"dark|gritty|bleak|grim|disturbing|brutal|violent|noir", ("Crime", "Thriller", "Film-Noir", "Drama")),
    "scary": (r"scary|creepy|terrifying|spooky|frightening|scare me|chills", ("Horror", "Thriller")),
    "romantic": (r"romantic|love story|date night|swoon\w*", ("Romance",)),
    "mind-bending": (r"mind[- ]?bending|twist(?:y|s|ed)?|cerebral|trippy|puzzl\w+|thought[- ]?provoking|"
                     r"make(?:s)? (?:me|you) think|clever|smart|philosophical", ("Sci-Fi", "Mystery", "Thriller")),
    "moving": (r"moving|emotional|sad|tear[- ]?jerker|cry|touching|poignant|bittersweet|heartbreaking|deep",
               ("Drama", "Romance")),
    "epic": (r"epic|grand|sweeping|spectacular|larger than life|quest", ("Adventure", "Fantasy", "War")),
    "action-packed": (r"action[- ]?packed|explosive|adrenaline|fast[- ]?paced|exciting|thrill ride|fight scenes|"
                      r"car chases?|explosions", ("Action",)),
    "relaxing": (r"relax\w*|chill|easy[- ]going|easy watch|lighthearted|light[- ]hearted|mellow|low[- ]key|"
                 r"something light", ("Comedy", "Animation")),
    "inspiring": (r"inspir\w+|uplift\w*|triumph\w*|underdog", ("Drama",)),
    "quirky": (r"quirky|weird|offbeat|surreal|odd|strange|whimsical|indie", ("Comedy", "Fantasy")),
}

GENRES: dict[str, str] = {  # how people say it -> MovieLens genre
    r"action": "Action", r"adventures?": "Adventure", r"animat\w+|cartoons?|anime|pixar": "Animation",
    r"kids?|children'?s?|family|family[- ]friendly": "Children", r"comed(?:y|ies)|rom[- ]?coms?|sitcom\w*": "Comedy",
    r"crime|gangsters?|mob|mafia|heists?|detectives?": "Crime", r"documentar(?:y|ies)|docs?": "Documentary",
    r"dramas?|dramatic": "Drama", r"fantasy|fantasies|magic|fairy ?tales?": "Fantasy",
    r"film[- ]?noir|noir": "Film-Noir", r"horror|slashers?|zombies?": "Horror", r"musicals?": "Musical",
    r"myster(?:y|ies)|whodunn?its?": "Mystery", r"romance|romances|rom[- ]?coms?|love stor(?:y|ies)": "Romance",
    r"sci[- ]?fi|science[- ]fiction|space|aliens?|futuristic": "Sci-Fi", r"thrillers?": "Thriller",
    r"war|wartime|ww2|wwii|military": "War", r"westerns?|cowboys?": "Western", r"superheroe?s?": "Action",
}

LANGUAGES = ("french", "korean", "japanese", "spanish", "italian", "german", "chinese", "mandarin", "cantonese",
             "hindi", "swedish", "danish", "russian", "portuguese", "persian", "iranian", "mexican", "brazilian",
             "scandinavian", "european", "asian", "foreign", "international", "world")

_NEGATION = r"(?:no|not|don'?t|do not|never|nothing|without|avoid|hate|skip|forget|except|anything but|no more|" \
            r"less|isn'?t|aren'?t|can'?t stand|not into|not a fan of|sick of|tired of|enough)"
_NEGATIVE_FILM = re.compile(r"\b(?:hated|disliked|didn'?t (?:like|enjoy|love)|did not (?:like|enjoy)|couldn'?t stand|"
                            r"not a fan of|boring|overrated|walked out of)\b", re.IGNORECASE)
_SUBTITLES_OK = re.compile(
    r"subtitles? (?:are|is)? ?(?:fine|ok|okay|good|great|welcome|no problem|not a problem|don'?t bother)|"
    r"(?:don'?t|do not|never) mind (?:reading )?subtitles|(?:happy|fine|ok|okay|glad) (?:to|with) (?:read )?subtitles|"
    r"any language|foreign(?:[- ]language)? (?:films?|movies?|cinema)? ?(?:are |is )?(?:fine|ok|okay|welcome|great)|"
    r"love foreign|world cinema|with subtitles|subtitled", re.IGNORECASE)
_SUBTITLES_NO = re.compile(
    r"no subtitles|without subtitles|hate (?:reading )?subtitles|(?:don'?t|do not) (?:like|want|enjoy) (?:reading )?"
    r"subtitles|not (?:a fan of|into) subtitles|english[- ]only|only (?:in )?english|english[- ]language|"
    r"in english|nothing foreign|no foreign|subtitles (?:are|is) (?:a no|annoying|too much)", re.IGNORECASE)
_ANY_ERA = re.compile(r"any (?:era|decade|year|time|period)|(?:era|year|decade|age) (?:doesn'?t|does not|don'?t) "
                      r"matter|(?:don'?t|do not) care (?:about|when)|old or new|whenever", re.IGNORECASE)
_DECADE = re.compile(r"\b(?P<part>early|mid|late)?[- ]?(?:(?P<century>19|20)|')?(?P<decade>\d)0'?s\b", re.IGNORECASE)
_DECADE_WORDS = {"twenties": 192, "thirties": 193, "forties": 194, "fifties": 195, "sixties": 196,
                 "seventies": 197, "eighties": 198, "nineties": 199}
_BEFORE = re.compile(r"\b(?:before|pre|older than|up to|until|no later than)[- ](?P<year>(?:18|19|20)\d\d)\b", re.I)
_AFTER = re.compile(r"\b(?:after|since|post|newer than|from|later than)[- ](?P<year>(?:19|20)\d\d)\b(?!s)", re.I)
_BETWEEN = re.compile(r"\b(?:between|from)\s+(?P<a>(?:19|20)\d\d)\s*(?:and|to|-|–|until)\s*(?P<b>(?:19|20)\d\d)\b", re.I)
_RECENT = re.compile(r"\b(?:recent|newer|new(?:ish)? (?:films?|movies?|releases?|stuff)|latest|last few years|"
                     r"nothing old|modern|contemporary|this decade|too old)\b", re.IGNORECASE)
_OLD = re.compile(r"\b(?<!too )(?:old(?:ies| films?| movies?| school)?|classics?|classic era|golden age|black and white|"
                  r"vintage|old hollywood)\b", re.IGNORECASE)


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
    audience: str | None = None  # "kids", "family", "teens", "date night", "adults"
    ages: tuple[int, ...] = ()  # the ages of the children the film is for, as said ("my 6 year old")
    keywords: tuple[str, ...] = ()  # themes and plot words: "heist", "time travel", "dark humor"
    unresolved: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=(), repr=False)  # the user's own descriptive words, for retrieval

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

    def update(self, text: str, matcher: TitleMatcher, latest_year: int) -> "Preferences":
        """The preferences after one more user message; later statements override earlier ones."""
        prefs = self
        mentions = _mentions_by_sentiment(text, matcher)
        scrubbed = _without_titles(text, [*mentions[0], *mentions[1]])
        prefs = _update_moods(prefs, scrubbed)
        prefs = _update_genres(prefs, scrubbed)
        prefs = _update_era(prefs, scrubbed, latest_year)
        prefs = _update_language(prefs, scrubbed)
        loved = _merge(prefs.loved, mentions[0], drop=mentions[1])
        disliked = _merge(prefs.disliked, mentions[1], drop=mentions[0])
        unresolved = tuple(dict.fromkeys((*prefs.unresolved, *mentions[2])))
        notes = (*prefs.notes, scrubbed.strip()) if scrubbed.strip() else prefs.notes
        return replace(prefs, loved=loved, disliked=disliked, unresolved=unresolved, notes=notes)


def _merge(old: tuple[Movie, ...], new: list[Movie], drop: list[Movie]) -> tuple[Movie, ...]:
    dropped = {m.movie_id for m in drop}
    merged = {m.movie_id: m for m in (*old, *new) if m.movie_id not in dropped}
    return tuple(merged.values())


def _mentions_by_sentiment(text: str, matcher: TitleMatcher) -> tuple[list[Movie], list[Movie], list[str]]:
    """(loved, disliked, unresolved): a film named in a clause that says "hated" or "boring" is disliked."""
    loved, disliked, unresolved = [], [], []
    for clause in re.split(r"(?<=[.;!?])\s+|\s*;\s*|,?\s+but\s+|,?\s+whereas\s+|,?\s+while\s+", text):
        found = matcher.find_mentions(clause)
        (disliked if _NEGATIVE_FILM.search(clause) else loved).extend(found.resolved)
        unresolved.extend(found.unresolved)
    return loved, disliked, unresolved


def _without_titles(text: str, movies: list[Movie]) -> str:
    """The message minus the film names, so "Heat" or "Dark City" is not read as a mood or a genre."""
    for movie in movies:
        for name in sorted((movie.name, *movie.aliases), key=len, reverse=True):
            text = re.sub(re.escape(name), " ", text, flags=re.IGNORECASE)
    return text


def _negated(text: str, start: int) -> bool:
    before = text[max(0, start - 40):start].lower()
    clause = re.split(r"[.;!?,]|\bbut\b|\band\b(?= (?:i|we)\b)", before)[-1]
    return re.search(rf"\b{_NEGATION}\b", clause) is not None


def _update_moods(prefs: Preferences, text: str) -> Preferences:
    said = [(mood, _negated(text, m.start())) for mood, (pattern, _) in MOODS.items()
            for m in re.finditer(rf"\b(?:{pattern})\b", text, re.IGNORECASE)]
    moods, avoid = _apply(prefs.moods, prefs.avoid_moods, said)
    return replace(prefs, moods=moods, avoid_moods=avoid)


def _update_genres(prefs: Preferences, text: str) -> Preferences:
    said = [(genre, _negated(text, m.start())) for pattern, genre in GENRES.items()
            for m in re.finditer(rf"\b(?:{pattern})\b", text, re.IGNORECASE)]
    genres, avoid = _apply(prefs.genres, prefs.avoid_genres, said)
    return replace(prefs, genres=genres, avoid_genres=avoid)


def _apply(wanted: tuple[str, ...], avoided: tuple[str, ...],
           said: list[tuple[str, bool]]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Fold one message's statements into the wanted and avoided lists; the message overrides history.

    Within a message a positive statement wins ("funny but not too silly" still wants funny).
    """
    positive = {name for name, negated in said if not negated}
    negative = {name for name, negated in said if negated} - positive
    wanted_now = [n for n in wanted if n not in negative] + [n for n, _ in said if n in positive]
    avoided_now = [n for n in avoided if n not in positive] + [n for n, _ in said if n in negative]
    return tuple(dict.fromkeys(wanted_now)), tuple(dict.fromkeys(avoided_now))


def _update_era(prefs: Preferences, text: str, latest_year: int) -> Preferences:
    spans: list[tuple[int, int]] = []
    label = None
    if match := _BETWEEN.search(text):
        a, b = sorted((int(match.group("a")), int(match.group("b"))))
        spans.append((a, b))
        label = match.group(0)
    else:
        for match in _DECADE.finditer(text):
            spans.append(_decade_span(match))
            label = match.group(0) if label is None else f"{label} or {match.group(0)}"
        for word, decade in _DECADE_WORDS.items():
            if re.search(rf"\b{word}\b", text, re.IGNORECASE):
                spans.append((decade * 10, decade * 10 + 9))
                label = word if label is None else f"{label} or {word}"
        if match := _BEFORE.search(text):  # "nothing before 1980" means after it
            year = int(match.group("year"))
            negated = _negated(text, match.start())
            spans.append((year, latest_year) if negated else (1900, year - 1))
            label = f"after {year}" if negated else match.group(0)
        if match := _AFTER.search(text):
            year = int(match.group("year"))
            negated = _negated(text, match.start())
            spans.append((1900, year) if negated else (year, latest_year))
            label = f"up to {year}" if negated else match.group(0)
        if not spans and _RECENT.search(text):
            spans.append((latest_year - 6, latest_year))
            label = "recent"
        if not spans and _OLD.search(text) and not _negated(text, _OLD.search(text).start()):
            spans.append((1900, 1979))
            label = "classics"
    if spans:
        return replace(prefs, year_min=min(a for a, _ in spans), year_max=max(b for _, b in spans), era=label.strip())
    if _ANY_ERA.search(text):
        return replace(prefs, year_min=None, year_max=None, era="any era")
    return prefs


def _decade_span(match: re.Match) -> tuple[int, int]:
    digit = int(match.group("decade"))
    century = match.group("century")
    if century:
        start = int(century) * 100 + digit * 10
    else:
        start = 2000 + digit * 10 if digit <= 1 else 1900 + digit * 10
    part = (match.group("part") or "").lower()
    return {"early": (start, start + 3), "mid": (start + 3, start + 6), "late": (start + 6, start + 9)}.get(
        part, (start, start + 9))


def _update_language(prefs: Preferences, text: str) -> Preferences:
    subtitles = prefs.subtitles
    if _SUBTITLES_NO.search(text):
        subtitles = False
    elif _SUBTITLES_OK.search(text):
        subtitles = True
    languages = list(prefs.languages)
    for language in LANGUAGES:
        match = re.search(rf"\b{language}\b", text, re.IGNORECASE)
        if match and not _negated(text, match.start()) and language not in languages:
            languages.append(language)
            if subtitles is None and language != "english":
                subtitles = True
        elif match and _negated(text, match.start()) and subtitles is None:
            subtitles = False
    return replace(prefs, subtitles=subtitles, languages=tuple(languages))
