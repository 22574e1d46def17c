"""MovieLens title conventions, both ways.

MovieLens writes `American President, The (1995)`, keeps alternate titles in parentheses
(`Seven (a.k.a. Se7en)`, `Postman, The (Postino, Il)`) and sometimes omits the year. People type
`The American President`, `Se7en` or `il postino`. These helpers turn one into the other.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Articles MovieLens moves to the end, in the languages its titles use.
ARTICLES = (
    "The", "A", "An", "Le", "La", "Les", "L'", "Il", "Lo", "I", "Gli", "El", "Los", "Las", "Un", "Una", "Une",
    "Der", "Die", "Das", "Ein", "Eine", "De", "Het", "O", "Os", "As",
)
_ARTICLE_RE = "|".join(re.escape(a) for a in sorted(ARTICLES, key=len, reverse=True))
_TRAILING_ARTICLE = re.compile(rf"^(?P<body>.+?),\s*(?P<article>{_ARTICLE_RE})$")
_YEAR = re.compile(r"\s*\((?P<year>\d{4})(?:\s*[-–]\s*(?:\d{4})?)?\)\s*$")
_PAREN = re.compile(r"\s*\(([^()]*)\)\s*$")
# Articles safe to move back when writing a MovieLens title ("I Am Legend" must stay as it is).
_MOVABLE = ("The", "A", "An", "Le", "La", "Les", "Il", "El", "Los", "Las", "Der", "Die", "Das")
_LEADING_ARTICLE = re.compile(r"^(the|a|an|le|la|les|l'|il|el|der|die|das)\s+", re.IGNORECASE)


@dataclass(frozen=True)
class ParsedTitle:
    """A MovieLens title taken apart: `name` is in reading order, `aliases` are the other names."""

    name: str
    year: int | None
    aliases: tuple[str, ...]
    original_title: str | None  # a non-a.k.a. alternate title, usually the original-language one


def split_year(title: str) -> tuple[str, int | None]:
    """`Heat (1995)` -> (`Heat`, 1995); `Babylon 5` -> (`Babylon 5`, None); `(2006–2007)` keeps 2006."""
    title = title.strip()
    match = _YEAR.search(title)
    if not match:
        return title, None
    return title[: match.start()].strip(), int(match.group("year"))


def front_article(name: str) -> str:
    """`American President, The` -> `The American President`; `Homme, L'` -> `L'Homme`."""
    match = _TRAILING_ARTICLE.match(name.strip())
    if not match:
        return name.strip()
    article = match.group("article")
    joiner = "" if article.endswith("'") else " "
    return f"{article}{joiner}{match.group('body')}"


def parse_title(raw: str, year: int | None = None) -> ParsedTitle:
    """Parse a MovieLens title; `year` is used when the title itself carries none (the bundled copy)."""
    rest, parsed_year = split_year(raw)
    year = parsed_year if parsed_year is not None else year
    alternates: list[tuple[str, bool]] = []  # (name, is_aka)
    while True:
        match = _PAREN.search(rest)
        if not match or match.start() == 0:
            break
        inner = match.group(1).strip()
        rest = rest[: match.start()].strip()
        is_aka = inner.lower().startswith("a.k.a.")
        if is_aka:
            inner = inner[len("a.k.a."):].strip()
        if inner:
            alternates.insert(0, (front_article(inner), is_aka))
    name = front_article(rest)
    aliases = tuple(dict.fromkeys(a for a, _ in alternates if a and a != name))
    original = next((a for a, is_aka in alternates if not is_aka and _differs(a, name)), None)
    return ParsedTitle(name=name, year=year, aliases=aliases, original_title=original)


def display_title(name: str, year: int | None) -> str:
    """`Heat`, 1995 -> `Heat (1995)`; no year, no parentheses."""
    return f"{name} ({year})" if year else name


def to_movielens(title: str) -> str:
    """`The American President (1995)` -> `American President, The (1995)` (the inverse of `front_article`)."""
    bare, year = split_year(title)
    first, _, body = bare.partition(" ")
    if first in _MOVABLE and body:
        bare = f"{body}, {first}"
    elif bare.startswith("L'") and len(bare) > 2:
        bare = f"{bare[2:]}, L'"
    return display_title(bare, year)


def normalize(text: str) -> str:
    """Matching key: no accents, case, punctuation, leading article or `&`/`and` difference."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    text = text.replace("&", " and ")
    text = re.sub(r"[^\w\s]", " ", text)
    text = re.sub(r"\s+", " ", text).strip()
    return _LEADING_ARTICLE.sub("", text)


def _differs(a: str, b: str) -> bool:
    """True when two names share under half their words (`Heavyweights` vs `Heavy Weights` does not)."""
    wa, wb = set(normalize(a).split()), set(normalize(b).split())
    if not wa or not wb or normalize(a).replace(" ", "") == normalize(b).replace(" ", ""):
        return False
    return len(wa & wb) / min(len(wa), len(wb)) < 0.5
