"""Moods, genres, era and language from one message: the conditions a search is filtered and ranked by."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING

from tools.preferences.vocabulary import GENRES, LANGUAGES, MOODS, NEGATION

if TYPE_CHECKING:
    from tools.preferences import Preferences

_LIVE_ACTION = re.compile(r"\b(?:real people|real actors|live[- ]action)\b", re.IGNORECASE)
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
_HEDGED = re.compile(r"(?:doesn'?t|does not|don'?t|won'?t) (?:really |much )?matter(?! (?:if|whether|what|which))|"
                     r"not (?:too |that )?picky|"
                     r"either way|no big deal|not a must", re.IGNORECASE)  # "80s preferably, but doesn't matter"
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


def negated(text: str, start: int) -> bool:
    before = text[max(0, start - 40):start].lower()
    clause = re.split(r"[.;!?,]|(?<!anything )\bbut\b|\band\b(?= (?:i|we)\b)", before)[-1]
    return re.search(rf"\b{NEGATION}\b", clause) is not None


def update_moods(prefs: Preferences, text: str) -> Preferences:
    said = [(mood, negated(text, m.start())) for mood, (pattern, _) in MOODS.items()
            for m in re.finditer(rf"\b(?:{pattern})\b", text, re.IGNORECASE)]
    moods, avoid = _apply(prefs.moods, prefs.avoid_moods, said)
    return replace(prefs, moods=moods, avoid_moods=avoid)


def update_genres(prefs: Preferences, text: str) -> Preferences:
    said = [(genre, negated(text, m.start())) for pattern, genre in GENRES.items()
            for m in re.finditer(rf"\b(?:{pattern})\b", text, re.IGNORECASE)]
    said += [("Animation", True) for _ in _LIVE_ACTION.finditer(text)]
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


def update_era(prefs: Preferences, text: str, latest_year: int) -> Preferences:
    spans: list[tuple[int, int]] = []
    label = None
    if match := _BETWEEN.search(text):
        a, b = sorted((int(match.group("a")), int(match.group("b"))))
        spans.append((a, b))
        label = match.group(0)
    else:
        for match in _DECADE.finditer(text):
            spans.append(_decade_span(match))
            said = match.group(0).strip(" -")
            label = said if label is None else f"{label} or {said}"
        for word, decade in _DECADE_WORDS.items():
            if re.search(rf"\b{word}\b", text, re.IGNORECASE):
                spans.append((decade * 10, decade * 10 + 9))
                label = word if label is None else f"{label} or {word}"
        if match := _BEFORE.search(text):  # "nothing before 1980" means after it
            year = int(match.group("year"))
            is_negated = negated(text, match.start())
            spans.append((year, latest_year) if is_negated else (1900, year - 1))
            label = f"after {year}" if is_negated else match.group(0)
        if match := _AFTER.search(text):
            year = int(match.group("year"))
            is_negated = negated(text, match.start())
            spans.append((1900, year) if is_negated else (year, latest_year))
            label = f"up to {year}" if is_negated else match.group(0)
        if not spans and _RECENT.search(text):
            spans.append((latest_year - 6, latest_year))
            label = "recent"
        if not spans and _OLD.search(text) and not negated(text, _OLD.search(text).start()):
            spans.append((1900, 1979))
            label = "classics"
    if spans and _HEDGED.search(text):  # an era said and waved off in one breath is no condition
        return replace(prefs, year_min=None, year_max=None, era=f"{label.strip()}, not a must")
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


def update_language(prefs: Preferences, text: str) -> Preferences:
    subtitles = prefs.subtitles
    if _SUBTITLES_NO.search(text):
        subtitles = False
    elif _SUBTITLES_OK.search(text):
        subtitles = True
    languages = list(prefs.languages)
    for language in LANGUAGES:
        match = re.search(rf"\b{language}\b", text, re.IGNORECASE)
        if match and not negated(text, match.start()) and language not in languages:
            languages.append(language)
            if subtitles is None and language != "english":
                subtitles = True
        elif match and negated(text, match.start()) and subtitles is None:
            subtitles = False
    return replace(prefs, subtitles=subtitles, languages=tuple(languages))
