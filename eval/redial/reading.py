"""The reading check: what a reader takes from each seeker utterance, against the gold labels.

A reader is `(prefs, text) -> prefs`. It runs over the seeker's utterances of a dialogue in order, the state
carried through; each labelled utterance (eval/redial/labels.md) is scored on what it added. For a kind of
signal (loved, disliked, seen films as catalog movie ids; wanted and avoided genres), the reader's answer for
an utterance is what the state holds afterwards and did not hold before, plus whatever the gold label names
that the state holds afterwards (a restated love already held counts as read). Audience is one value: the
reader's is the state's after the utterance when that changed, or when it equals the gold value.

Gold titles resolve year-exactly to the catalog (eval/redial/dialogues.resolve). Titles the catalog lacks are
left out of precision and recall (no reader that names catalog films can find them) and counted apart; a
reader that maps one to another catalog film scores a false positive. "Disliked read as loved" counts gold
dislikes the state holds as loved after the utterance ("I do not really like the Halloween (2007) movies").
"""

from __future__ import annotations

import importlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

from tqdm import tqdm

from eval.redial.dialogues import Dialogue, load_labels, resolve
from index.errors import UserError
from index.matching import TitleMatcher
from tools.preferences import Preferences

Reader = Callable[[Preferences, str], Preferences]
READERS: dict[str, str] = {  # name -> "module:factory", factory(workspace) -> Reader
    "rules": "eval.redial.reading:rules_reader",
    "llm": "tools.preferences.llm_reader:workspace_reader",
}
FILMS = ("loved", "disliked", "seen")
GENRE_KINDS = ("genres", "avoid_genres")
KINDS = (*FILMS, *GENRE_KINDS, "audience")
AUDIENCE_ALIASES = {"date night": "date"}  # the state's word -> the labels' word


def rules_reader(workspace) -> Reader:
    """The rule-based reader, `Preferences.update` (tools/preferences/), on the workspace's catalog."""
    matcher = TitleMatcher(workspace.catalog)
    latest = max(m.year or 0 for m in workspace.catalog)
    return lambda prefs, text: prefs.update(text, matcher, latest)


def make_reader(name: str, workspace) -> Reader:
    if name not in READERS:
        raise UserError(f"unknown reader {name!r}; choose from {', '.join(READERS)}")
    module, _, factory = READERS[name].partition(":")
    try:
        return getattr(importlib.import_module(module), factory)(workspace)
    except (ImportError, AttributeError) as exc:
        raise UserError(f"reader {name!r} ({READERS[name]}) is not available: {exc}") from exc


@dataclass
class Tally:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, predicted: set, gold: set) -> None:
        self.tp += len(predicted & gold)
        self.fp += len(predicted - gold)
        self.fn += len(gold - predicted)

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None

    def to_json(self) -> dict:
        rounded = lambda x: None if x is None else round(x, 4)  # noqa: E731
        return {"precision": rounded(self.precision), "recall": rounded(self.recall),
                "tp": self.tp, "fp": self.fp, "fn": self.fn}


@dataclass
class ReadingResult:
    tallies: dict[str, Tally] = field(default_factory=lambda: {k: Tally() for k in KINDS})
    not_in_catalog: Counter = field(default_factory=Counter)  # kind -> gold titles the catalog lacks
    disliked_as_loved: list[tuple[str, int, str]] = field(default_factory=list)  # (dialogue, turn, title)
    utterances: int = 0
    reader_errors: int = 0

    def to_json(self) -> dict:
        return {"utterances": self.utterances, "reader_errors": self.reader_errors,
                "signals": {k: t.to_json() for k, t in self.tallies.items()},
                "gold_titles_not_in_catalog": {k: self.not_in_catalog[k] for k in FILMS},
                "disliked_read_as_loved": len(self.disliked_as_loved)}

    def to_markdown(self) -> str:
        show = lambda x: "–" if x is None else f"{x:.2f}"  # noqa: E731
        lines = ["| signal | precision | recall | tp | fp | fn | gold titles not in catalog |", "|---|---|---|---|---|---|---|"]
        for kind, t in self.tallies.items():
            missing = self.not_in_catalog[kind] if kind in FILMS else "–"
            lines.append(f"| {kind} | {show(t.precision)} | {show(t.recall)} | {t.tp} | {t.fp} | {t.fn} | {missing} |")
        lines.append(f"\n{self.utterances} labelled seeker utterances scored; reader errors: {self.reader_errors}; "
                     f"disliked films read as loved: {len(self.disliked_as_loved)}")
        lines += [f"  {d} turn {turn}: {title}" for d, turn, title in self.disliked_as_loved]
        return "\n".join(lines)


def reading_check(dialogues: list[Dialogue], split: str, reader: Reader, matcher: TitleMatcher,
                  labels: dict[tuple[str, int], dict] | None = None, progress=None) -> ReadingResult:
    """`progress`: a stream for a bar per seeker utterance (an LLM reader takes seconds for each)."""
    labels = load_labels(split) if labels is None else labels
    result = ReadingResult()
    bar = tqdm(total=sum(len(d.seeker_turns) for d in dialogues), desc=f"reading {split}", unit="utterance",
               file=progress, disable=progress is None, dynamic_ncols=True)
    for dialogue in dialogues:
        prefs = Preferences()
        for utterance in dialogue.seeker_turns:
            bar.update()
            before = prefs
            try:
                prefs = reader(before, utterance.text)
            except Exception:  # noqa: BLE001 - an LLM reader that fails on one utterance keeps the state
                result.reader_errors += 1
            label = labels.get((dialogue.id, utterance.index))
            if label is not None:
                score(result, before, prefs, label, matcher, dialogue.id, utterance.index)
    bar.close()
    return result


def score(result: ReadingResult, before: Preferences, after: Preferences, label: dict, matcher: TitleMatcher,
          dialogue_id: str = "", turn: int = -1) -> None:
    """Add one labelled utterance's comparison to `result`."""
    result.utterances += 1
    gold_ids = {}
    for kind in FILMS:
        movies = [(title, resolve(title, matcher)) for title in label.get(kind, [])]
        result.not_in_catalog[kind] += sum(movie is None for _, movie in movies)
        gold_ids[kind] = {movie.movie_id for _, movie in movies if movie}
        held = {m.movie_id for m in getattr(after, kind)}
        result.tallies[kind].add(_read(held, {m.movie_id for m in getattr(before, kind)}, gold_ids[kind]),
                                 gold_ids[kind])
        if kind == "disliked":
            loved = {m.movie_id for m in after.loved}
            result.disliked_as_loved += [(dialogue_id, turn, title) for title, movie in movies
                                         if movie and movie.movie_id in loved]
    for kind in GENRE_KINDS:
        gold = set(label.get(kind, []))
        result.tallies[kind].add(_read(set(getattr(after, kind)), set(getattr(before, kind)), gold), gold)
    gold_audience = label.get("audience")
    was, now = _audience(before.audience), _audience(after.audience)
    read = now if now is not None and (now != was or now == gold_audience) else None
    result.tallies["audience"].add({read} - {None}, {gold_audience} - {None})


def _read(held_after: set, held_before: set, gold: set) -> set:
    return (held_after - held_before) | (held_after & gold)


def _audience(value: str | None) -> str | None:
    return AUDIENCE_ALIASES.get(value, value) if value else None
