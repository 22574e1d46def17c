"""ReDial dialogues -> transcripts in the project's format (../shared/DESIGN.md, eval/transcripts.py).

One transcript per dialogue whose accepted film the catalog has: `turns` are the seeker's utterances before
the recommender first suggested that film, `held_out` is the film. With several accepted catalog films, the
cut is before the first of them was suggested and all of them are held out. Every other dialogue is dropped
with the first reason that applies to all its accepted films (DROP_REASONS, in the order they are checked).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from eval.redial.dialogues import RECOMMENDER, Dialogue, mention_year, resolve
from eval.transcripts import Transcript, read_turns
from index.catalog import Movie
from index.matching import TitleMatcher

NO_ACCEPTED = "no accepted film"
NO_YEAR = "accepted film never written as Title (Year)"
NOT_IN_CATALOG = "accepted film not in the catalog (same title and year)"
NOT_SUGGESTED = "accepted film never suggested by the recommender"
NAMED_FIRST = "the seeker named the accepted film before it was suggested"
NO_TURNS = "suggested before the seeker spoke"
DROP_REASONS = (NO_ACCEPTED, NO_YEAR, NOT_IN_CATALOG, NOT_SUGGESTED, NAMED_FIRST, NO_TURNS)
ID_PREFIX = "redial-"


@dataclass(frozen=True)
class Accepted:
    title: str  # as ReDial writes it
    year: int
    movie: Movie
    suggested_at: int  # index of the recommender's first utterance naming it


@dataclass
class Conversion:
    transcripts: list[Transcript] = field(default_factory=list)
    dropped: dict[str, str] = field(default_factory=dict)  # dialogue id -> reason

    def summary(self, split: str, total: int) -> str:
        counts = Counter(self.dropped.values())
        why = ", ".join(f"{reason}: {counts[reason]}" for reason in DROP_REASONS if counts[reason])
        films = sum(len(t.held_out) for t in self.transcripts)
        return (f"{split}: {len(self.transcripts)} of {total} dialogues converted ({films} held-out films); "
                f"dropped {len(self.dropped)}" + (f" ({why})" if why else ""))


def convert_all(dialogues: list[Dialogue], matcher: TitleMatcher, latest_year: int) -> Conversion:
    result = Conversion()
    for dialogue in dialogues:
        outcome = convert(dialogue, matcher, latest_year)
        if isinstance(outcome, Transcript):
            result.transcripts.append(outcome)
        else:
            result.dropped[dialogue.id] = outcome
    return result


def convert(dialogue: Dialogue, matcher: TitleMatcher, latest_year: int) -> Transcript | str:
    """The dialogue's transcript, or the reason it has none."""
    if not dialogue.accepted:
        return NO_ACCEPTED
    dated = [(title, year) for title in dialogue.accepted if (year := _year(dialogue, title)) is not None]
    if not dated:
        return NO_YEAR
    in_catalog = [(title, year, movie) for title, year in dated if (movie := resolve(f"{title} ({year})", matcher))]
    if not in_catalog:
        return NOT_IN_CATALOG
    suggested = [Accepted(title, year, movie, at) for title, year, movie in in_catalog
                 if (at := _first_suggestion(dialogue, title, year)) is not None]
    if not suggested:
        return NOT_SUGGESTED
    fresh = [a for a in suggested if not _named_by_seeker(dialogue, a, matcher, latest_year)]
    if not fresh:
        return NAMED_FIRST
    cut = min(a.suggested_at for a in fresh)
    turns = tuple(u.text for u in dialogue.seeker_turns if u.index < cut and u.text)
    if not turns:
        return NO_TURNS
    held_out = tuple(dict.fromkeys(a.movie.movie_id for a in sorted(fresh, key=lambda a: a.suggested_at)))
    return Transcript(f"{ID_PREFIX}{dialogue.id}", -1, turns, held_out)


def _year(dialogue: Dialogue, title: str) -> int | None:
    """The year the dialogue writes the accepted title with, the recommender's mention first."""
    ordered = sorted(dialogue.utterances, key=lambda u: u.participant != RECOMMENDER)
    return next((year for u in ordered if (year := mention_year(title, u.text)) is not None), None)


def _first_suggestion(dialogue: Dialogue, title: str, year: int) -> int | None:
    return next((u.index for u in dialogue.utterances
                 if u.participant == RECOMMENDER and mention_year(title, u.text) == year), None)


def _named_by_seeker(dialogue: Dialogue, accepted: Accepted, matcher: TitleMatcher, latest_year: int) -> bool:
    """Did the seeker name the film before it was suggested, in ReDial's mention or as the rules read it? (The
    evaluation never counts a film the turns name as a hit, so such a dialogue has nothing left to find.)"""
    before = [u.text for u in dialogue.seeker_turns if u.index < accepted.suggested_at]
    written = any(mention_year(accepted.title, text) == accepted.year for text in before)
    return written or accepted.movie.movie_id in read_turns(before, matcher, latest_year).named_ids
