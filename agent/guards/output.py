"""The output check: only catalog films a tool returned this session reach the person."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from index.catalog import Catalog, Movie
from index.matching import TitleMatcher
from index.recommendation import Recommendation
from index.titles import normalize, split_year

NOTE_ALL_REMOVED = ("I couldn't verify those titles in the catalog, so I left them out. Tell me a bit more and "
                    "I'll search again.")
SMALL_WORDS = {"a", "an", "the", "of", "and", "or", "in", "on", "at", "to", "for", "with", "from", "de", "la", "le"}


@dataclass(frozen=True)
class OutputCheck:
    text: str  # the answer with unverified movies taken out
    removed: list[str] = field(default_factory=list)  # each title taken out, as written (catalog title in prose)
    verified_ids: list[int] = field(default_factory=list)  # tool-returned movies the kept text names, in order

    @property
    def removed_count(self) -> int:
        return len(self.removed)


@dataclass(frozen=True)
class _Mention:
    written: str
    movie: Movie | None
    strong: bool  # formatted as a title (a year, bold, quotes, a list head): unresolved may mean invented
    head: bool = False  # the film a list line is about
    quoted_title: bool = False  # "The Midnight Orchard": quotes around a Title Case name


class _TitleIndex:
    """Catalog names by `normalize` key for scanning prose, and the fuzzy matcher for formatted names."""

    def __init__(self, catalog: Catalog):
        self.catalog = catalog
        self.matcher = TitleMatcher(catalog)
        self.by_key: dict[str, Movie] = {}
        for movie in catalog:  # popularity order: the first film to claim a key keeps it
            for name in (movie.name, *movie.aliases):
                self.by_key.setdefault(normalize(name), movie)
        self.genre_words = {normalize(g) for m in catalog for g in m.genres} | {"sci fi", "film noir", "noir"}


_LIST_ITEM = re.compile(r"^(?P<bullet>\s*(?:[-*•+]|(?P<number>\d+)[.)]))\s+(?P<body>.*)$")
_MARKED = re.compile(r"\*\*(?P<a>(?:[^*\n]|\*(?!\*)){1,120})\*\*|__(?P<b>[^_\n]{1,120})__|(?<![\w*])\*(?P<c>[^*\n]{1,120})\*(?!\w)"
                     r"|(?<!\w)_(?P<d>[^_\n]{1,120})_(?!\w)|\"(?P<e>[^\"\n]{1,120})\"|“(?P<f>[^”\n]{1,120})”")
_QUOTE_GROUPS = ("e", "f")
_WITH_YEAR = re.compile(r"\((?:(?:18|19|20)\d\d)\)")
_WORD_TOKEN = re.compile(r"[\w'’]+(?:[.:\-&][\w'’]+)*[.!?]?")
_CONNECTORS = {"of", "the", "and", "a", "an", "in", "on", "at", "to", "for", "with", "from", "de", "la", "le",
               "du", "des", "del", "von", "vs.", "or", "is", "are", "it", "my", "me", "no", "not", "be", "&"}
_LEAD_WORDS = {"try", "watch", "see", "also", "and", "or", "then", "maybe", "perhaps", "consider", "like", "i",
               "you", "check", "out", "enjoy", "rewatch", "definitely", "especially", "plus", "since", "if"}
_HEAD_END = re.compile(r"\s+[—–-]\s+|:\s+(?=[a-z])|\s+·\s+")
_ABBREVIATIONS = re.compile(r"(?:\b(?:Dr|Mr|Mrs|Ms|St|Jr|Sr|vs|Vol|No|Pt|Mt|Ft|Lt|Col|Gen|Prof)|\b[A-Z])\.$")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z*\"“'_(\[0-9])")
_INDEXES: dict[int, _TitleIndex] = {}
MAX_TITLE_WORDS = 12


def check_output(text: str, verified_ids: Iterable[int | Movie], catalog: Catalog,
                 context_ids: Iterable[int] = ()) -> OutputCheck:
    """Take out every list item or sentence naming a movie that is not verified.

    Verified: returned by a tool in this session (`verified_ids`). `context_ids` are films the answer may
    refer to without recommending them (ones the person named); they are neither removed nor counted.
    In a list item only the film the item is about has to be verified; other catalog films its reason
    refers to are allowed, invented ones are not. A sentence in prose must not name any unverified film.
    A formatted name that matches nothing counts as invented when it carries a year, heads an item of a
    list of films, or is a quoted Title Case name, so "**Why you'll like it**" survives.
    """
    index = _title_index(catalog)
    allowed = {m.movie_id if isinstance(m, Movie) else int(m) for m in verified_ids}
    context = set(context_ids)
    lines = text.split("\n")
    units_by_line = [[line] if _LIST_ITEM.match(line) else _sentences(line, index) for line in lines]
    mentions = [[_line_mentions(u, index) for u in units] for units in units_by_line]
    film_lists = _film_list_lines(lines, mentions)
    kept_lines, removed, verified = [], [], []
    for i, (line, units) in enumerate(zip(lines, units_by_line)):
        is_item = bool(_LIST_ITEM.match(line))
        kept_units = []
        for unit, found in zip(units, mentions[i]):
            bad = [m for m in found if _unverified(m, allowed, context, i in film_lists, is_item)]
            if bad:
                removed.extend(dict.fromkeys(m.written for m in bad))
                continue
            kept_units.append(unit)
            verified += [m.movie.movie_id for m in found if m.movie and m.movie.movie_id in allowed]
        if len(kept_units) == len(units):
            kept_lines.append(line)
        elif kept_units:
            kept_lines.append(" ".join(u.strip() for u in kept_units))
    result = _renumber(kept_lines)
    verified = list(dict.fromkeys(verified))
    if removed and not verified:
        result = f"{result}\n\n{NOTE_ALL_REMOVED}".strip()
    return OutputCheck(result, removed, verified)


def _title_index(catalog: Catalog) -> _TitleIndex:
    cached = _INDEXES.get(id(catalog))
    if cached is None or cached.catalog is not catalog:  # an id can be reused once a catalog is gone
        cached = _INDEXES[id(catalog)] = _TitleIndex(catalog)
    return cached


def _unverified(mention: _Mention, allowed: set[int], context: set[int], in_list: bool, is_item: bool) -> bool:
    if mention.movie is not None:
        if mention.movie.movie_id in allowed or mention.movie.movie_id in context:
            return False
        return not is_item or mention.head  # a list item's reason may refer to other catalog films
    return mention.strong and (in_list or mention.quoted_title or _WITH_YEAR.search(mention.written) is not None)


def _line_mentions(unit: str, index: _TitleIndex) -> list[_Mention]:
    item = _LIST_ITEM.match(unit)
    if not item:
        return _unit_mentions(unit, index)
    body = item.group("body")
    found = _unit_mentions(body, index)
    head = _list_head(body)
    if head and not any(m.head for m in found):
        found = [m for m in found if m.written not in head]
        found.insert(0, _Mention(head, _resolve(head, index), strong=True, head=True))
    return found


def _list_head(body: str) -> str | None:
    """The title an unformatted list line starts with: "Heat (1995) - Michael Mann's best"."""
    if _MARKED.match(body):
        return None  # a bold or quoted head is found with the other formatted names
    head = _HEAD_END.split(body, maxsplit=1)[0].strip()
    year = _WITH_YEAR.search(head)
    head = head[: year.end()] if year else head
    words = head.split()
    if not words or len(words) > MAX_TITLE_WORDS or not (words[0][:1].isupper() or words[0][:1].isdigit()) or head[-1] in "?!:":
        return None
    return head


def _unit_mentions(unit: str, index: _TitleIndex) -> list[_Mention]:
    found: list[_Mention] = []
    taken: list[tuple[int, int]] = []
    for match in _MARKED.finditer(unit):
        group = next(name for name, value in match.groupdict().items() if value is not None)
        written = match.group(group).strip()
        at_start = not unit[: match.start()].strip(" \t-*•+0123456789.)")
        if len(written.split()) > MAX_TITLE_WORDS:
            continue
        movie = _resolve(written, index)
        quoted = group in _QUOTE_GROUPS and title_cased(written) and len(written.split()) > 1
        if movie is None and not (_WITH_YEAR.search(written) or at_start or quoted):
            continue  # emphasis, not a title
        found.append(_Mention(written, movie, strong=True, head=at_start, quoted_title=quoted))
        taken.append(match.span())
    for match in _WITH_YEAR.finditer(unit):
        if any(a <= match.start() < b for a, b in taken):
            continue
        mention, start = _titled_run(unit, match, index)
        if mention:
            found.append(mention)
            taken.append((start, match.end()))
    found += _named_in_prose(_blank(unit, taken), index)
    return found


def _titled_run(unit: str, year: re.Match, index: _TitleIndex) -> tuple[_Mention | None, int]:
    """The words right before "(1995)": the longest catalog name ending there, else the capitalized run's
    longest ending that is a catalog title, else that whole run."""
    # Names with a period, comma or lowercase word inside ("Mrs. Doubtfire", "I, Robot", "Stand by Me") end
    # the capitalized run early, so the exact catalog names are tried first.
    start = _catalog_name_before(unit, year, index)
    if start is not None:
        written = f"{unit[start: year.start()].strip()} {year.group()}"
        return _Mention(written, _resolve(written, index), strong=True), start
    tokens = list(_WORD_TOKEN.finditer(unit[: year.start()]))
    run: list[re.Match] = []
    for token in reversed(tokens):
        word = token.group()
        gap = unit[token.end(): run[0].start() if run else year.start()]
        if run and (word.endswith((".", "!", "?")) or re.search(r"[,;()\[\]—–]", gap)):
            break
        if not (word[:1].isupper() or word[:1].isdigit() or word.lower() in _CONNECTORS):
            break
        run.insert(0, token)
    while run and (run[0].group().lower() in _LEAD_WORDS or run[0].group() in _CONNECTORS):
        run.pop(0)  # "Try Heat (1995)", "and Heat (1995)"; a capital "The" starts a title
    if not run:
        return None, year.start()
    for first in run:
        written = f"{unit[first.start(): run[-1].end()]} {year.group()}"
        movie = _resolve(written, index)
        if movie is not None:
            return _Mention(written, movie, strong=True), first.start()
    return _Mention(f"{unit[run[0].start(): run[-1].end()]} {year.group()}", None, strong=True), run[0].start()


def _named_in_prose(unit: str, index: _TitleIndex) -> list[_Mention]:
    """Catalog names written in Title Case in running text; the longest name wins at each word."""
    tokens = list(_WORD_TOKEN.finditer(unit))
    found, i = [], 0
    while i < len(tokens):
        for stop in range(min(len(tokens), i + MAX_TITLE_WORDS), i, -1):
            written = unit[tokens[i].start(): tokens[stop - 1].end()]
            movie = index.by_key.get(normalize(written))
            if movie and title_cased(written) and _plausible_prose_title(unit, tokens[i].start(), written, index):
                found.append(_Mention(movie.title, movie, strong=False))
                i = stop
                break
        else:
            i += 1
    return found


def _plausible_prose_title(unit: str, start: int, written: str, index: _TitleIndex) -> bool:
    """One capitalized word is a title only mid-sentence and when it is not a genre ("Drama and Romance")."""
    if len(written.split()) > 1:
        return True
    at_sentence_start = not unit[:start].strip() or unit[:start].rstrip()[-1:] in ".!?:"
    return not at_sentence_start and normalize(written) not in index.genre_words


def title_cased(text: str) -> bool:
    words = re.findall(r"[^\W\d_][\w'’-]*|\d+", text)
    return bool(words) and not text.rstrip().endswith(":") and (words[0][0].isupper() or words[0].isdigit()) and all(
        w[0].isupper() or w.isdigit() or w.lower() in SMALL_WORDS for w in words)


def _resolve(written: str, index: _TitleIndex) -> Movie | None:
    """The catalog movie a formatted name means; a year more than one off means a different film."""
    name = written.strip(" *_\"'“”")
    hit = index.matcher.match(name)
    if hit is None:
        return None
    year = split_year(name)[1]
    if year is not None and hit.movie.year is not None and abs(hit.movie.year - year) > 1:
        return None
    return hit.movie


def _blank(text: str, spans: list[tuple[int, int]]) -> str:
    chars = list(text)
    for start, stop in spans:
        chars[max(start, 0): stop] = " " * (min(stop, len(chars)) - max(start, 0))
    return "".join(chars)


def _catalog_name_before(text: str, year: re.Match, index: _TitleIndex) -> int | None:
    """Where the longest catalog name written right before `year` starts, if one is."""
    for word in list(_WORD_TOKEN.finditer(text[: year.start()]))[-MAX_TITLE_WORDS:]:
        if normalize(text[word.start(): year.start()]) in index.by_key:
            return word.start()
    return None


def _sentences(line: str, index: _TitleIndex) -> list[str]:
    """The line's sentences; never split inside a titled name ("Hot Shots! Part Deux (1993)")."""
    titled = [(start, year.start()) for year in _WITH_YEAR.finditer(line)
              if (start := _catalog_name_before(line, year, index)) is not None]
    cuts = [m for m in _SENTENCE_END.finditer(line) if not any(a <= m.start() < b for a, b in titled)]
    bounds = [0, *(i for m in cuts for i in (m.start(), m.end())), len(line)]
    parts = [line[bounds[i]: bounds[i + 1]] for i in range(0, len(bounds), 2)]
    merged: list[str] = []
    for part in parts:
        if merged and _ABBREVIATIONS.search(merged[-1]):
            merged[-1] = f"{merged[-1]} {part}"
        else:
            merged.append(part)
    return merged


def _film_list_lines(lines: list[str], mentions: list[list[list[_Mention]]]) -> set[int]:
    """Lines of list blocks in which some item names a catalog film or a year: lists of films."""
    film_lines: set[int] = set()
    block: list[int] = []
    for i, line in enumerate([*lines, ""]):
        if i < len(lines) and _LIST_ITEM.match(line):
            block.append(i)
            continue
        if block and any(m.movie or _WITH_YEAR.search(m.written) for j in block for m in mentions[j][0]):
            film_lines.update(block)
        if i == len(lines) or line.strip():
            block = []
    return film_lines


def _renumber(lines: list[str]) -> str:
    """Numbered items count 1, 2, 3 again after items were taken out."""
    out, number = [], 0
    for line in lines:
        item = _LIST_ITEM.match(line)
        if item and item.group("number"):
            number += 1
            bullet = item.group("bullet")
            out.append(bullet.replace(item.group("number"), str(number), 1) + line[len(bullet):])
            continue
        if line.strip() and not item:
            number = 0
        out.append(line)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip()


# ---------------------------------------------------------------- answers built from verified data

def verified_recommendations(recommendations: Iterable[Recommendation], verified_ids: Iterable[int | Movie],
                             catalog: Catalog) -> tuple[list[Recommendation], list[str]]:
    """Keep recommendations a tool returned and the catalog has, titles and years as the catalog writes them."""
    allowed = {m.movie_id if isinstance(m, Movie) else int(m) for m in verified_ids}
    kept, dropped = [], []
    for rec in recommendations:
        movie = catalog.movies.get(rec.movie_id)
        if movie is None or rec.movie_id not in allowed:
            dropped.append(rec.title)
            continue
        kept.append(Recommendation(movie.movie_id, movie.title, movie.year, rec.reason, rec.genres or movie.genres))
    return kept, dropped
