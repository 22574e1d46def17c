"""Loading ReDial IARD dialogues, the frozen dev/test split, the reading labels, and films named "Title (Year)".

ReDial writes every film mention as `Title (Year)`, sometimes followed by a `<Title (Year)>` duplicate; the
accepted films in `metadata.accepted_recommendations` come without a year ("Mirror Mirror "), so their year
is read from the dialogue's own mention of them. Utterances carry dialogue acts (a seeker's `ACC` accepts a
suggestion; the dev dialogues' acts have no slot values). A film resolves to a catalog movie only with the
same year: "Halloween (2007)" is the remake, never the 1978 original.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from index.catalog import Movie
from index.errors import UserError
from index.matching import TitleMatcher
from index.titles import split_year

REPO = Path(__file__).resolve().parents[2]
SPLITS = ("dev", "test")
SPLIT_FILE = Path(__file__).with_name("split.json")
LABEL_FILES = {split: Path(__file__).with_name(f"labels_{split}.jsonl") for split in SPLITS}
SOURCE_ENV = "MOVIEREC_REDIAL"
DEFAULT_SOURCE = REPO.parent / "shared" / "data" / "redial_iard" / "redial_iard_dev.json"
SEEKER, RECOMMENDER = "USER", "AGENT"
_DUPLICATE = re.compile(r"\s*<[^<>]*\(\d{4}\)\s*>")
_YEAR_MENTION = re.compile(r"\((\d{4})\)")


@dataclass(frozen=True)
class Utterance:
    index: int  # position in the dialogue, both participants counted (the labels' `turn`)
    participant: str
    text: str
    acts: tuple[str, ...]


@dataclass(frozen=True)
class Dialogue:
    id: str
    utterances: tuple[Utterance, ...]
    accepted: tuple[str, ...]  # as the metadata writes them, stripped, without years

    @property
    def seeker_turns(self) -> tuple[Utterance, ...]:
        return tuple(u for u in self.utterances if u.participant == SEEKER)


def clean(text: str) -> str:
    """The utterance without ReDial's `<Title (Year)>` duplicates of a mention."""
    return re.sub(r"\s+", " ", _DUPLICATE.sub("", text)).strip()


def source_path(option: str | Path | None = None) -> Path:
    return Path(option or os.environ.get(SOURCE_ENV) or DEFAULT_SOURCE)


def load_dialogues(path: str | Path) -> list[Dialogue]:
    path = Path(path)
    try:
        data = json.loads(path.read_text())
        return [_dialogue(d) for d in data]
    except OSError as exc:
        raise UserError(f"cannot read the ReDial dialogues at {path} ({exc.strerror}); pass --dialogues FILE "
                        f"or set ${SOURCE_ENV}") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise UserError(f"{path} is not ReDial IARD JSON (a list of conversations): {exc}") from exc


def _dialogue(data: dict) -> Dialogue:
    utterances = tuple(
        Utterance(i, u["participant"], clean(u["utterance"]), tuple(a["intent"] for a in u.get("dialogue_acts", [])))
        for i, u in enumerate(data["conversation"]))
    accepted = (data.get("metadata") or {}).get("accepted_recommendations") or []
    return Dialogue(str(data["conversation_id"]), utterances,
                    tuple(dict.fromkeys(t.strip() for t in accepted if t.strip())))


def split_ids(split: str) -> list[str]:
    if split not in SPLITS:
        raise UserError(f"unknown split {split!r}; choose dev or test")
    return [str(i) for i in json.loads(SPLIT_FILE.read_text())[split]]


def source_differs(path: Path) -> bool:
    """True when the dialogue file is not the one the split was frozen on (its sha256 differs)."""
    expected = json.loads(SPLIT_FILE.read_text()).get("source_sha256")
    return bool(expected) and hashlib.sha256(path.read_bytes()).hexdigest() != expected


def dialogues_of(split: str, path: Path) -> list[Dialogue]:
    """The split's dialogues, in the split file's order; ids the file lacks are an error."""
    by_id = {d.id: d for d in load_dialogues(path)}
    ids = split_ids(split)
    missing = [i for i in ids if i not in by_id]
    if missing:
        raise UserError(f"{len(missing)} {split} conversation ids are not in {path} (e.g. {missing[0]})")
    return [by_id[i] for i in ids]


def load_labels(split: str, path: Path | None = None) -> dict[tuple[str, int], dict]:
    """(conversation id, turn) -> the gold label line (eval/redial/labels.md)."""
    path = path or LABEL_FILES[split]
    labels = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if line.strip():
            try:
                row = json.loads(line)
                labels[(str(row["conversation_id"]), int(row["turn"]))] = row
            except (ValueError, KeyError) as exc:
                raise UserError(f"{path}:{number}: not a label line ({exc})") from exc
    return labels


def mention_year(title: str, text: str) -> int | None:
    """The year `text` gives the film `title` ("Mirror Mirror" in "... Mirror Mirror (2012) ..."), if any."""
    match = re.search(rf"(?<![\w]){re.escape(title)}\s*\((\d{{4}})\)", text, re.IGNORECASE)
    return int(match.group(1)) if match else None


def resolve(mention: str, matcher: TitleMatcher) -> Movie | None:
    """The catalog movie a `Title (Year)` mention names: the project's title matching, then the same year."""
    year = split_year(mention)[1]
    hit = matcher.match(mention) if year is not None else None
    return hit.movie if hit and hit.movie.year == year else None


def written_films(text: str, matcher: TitleMatcher) -> list[Movie | None]:
    """One entry per `Title (Year)` mention in `text`, in order: the catalog film of that title and year, or
    None when the catalog has no such film. Each mention is read from the text since the previous one."""
    films: list[Movie | None] = []
    start = 0
    for mention in _YEAR_MENTION.finditer(text):
        year = int(mention.group(1))
        named = matcher.find_mentions(text[start:mention.end()]).resolved
        films.append(next((m for m in reversed(named) if m.year == year), None))
        start = mention.end()
    return films
