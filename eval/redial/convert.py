"""ReDial dialogues -> transcripts in the project's format (../shared/DESIGN.md, eval/transcripts/build.py).

The films a seeker accepted are those `metadata.accepted_recommendations` names, and those the seeker
accepted with an `ACC` act: the suggested films the ACC utterance itself writes as `Title (Year)`, or, when
it writes none, the films of the recommender's latest utterance that wrote any. Not accepted: a film the
seeker named with a stance before, or that the ACC utterance reads as seen or disliked (or as loved, when
the utterance also has a SEE act). One transcript per dialogue with an accepted catalog film:
`turns` are the seeker's utterances before the recommender first suggested it, `held_out` is the film. With
several, the cut is before the first of them was suggested and all of them are held out. Every other
dialogue is dropped with the first reason that applies to all its accepted films (DROP_REASONS, in the
order they are checked).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from eval.redial.dialogues import RECOMMENDER, Dialogue, Utterance, mention_year, resolve, written_films
from eval.transcripts.files import Transcript
from eval.transcripts.reading import read_turns
from index.catalog import Movie
from index.matching import TitleMatcher
from tools.preferences import Preferences

NO_ACCEPTED = "no accepted film"
NO_YEAR = "accepted film never written as Title (Year)"
NOT_IN_CATALOG = "accepted film not in the catalog (same title and year)"
NOT_SUGGESTED = "accepted film never suggested by the recommender"
NAMED_FIRST = "the seeker named the accepted film before it was suggested"
NO_TURNS = "suggested before the seeker spoke"
DROP_REASONS = (NO_ACCEPTED, NO_YEAR, NOT_IN_CATALOG, NOT_SUGGESTED, NAMED_FIRST, NO_TURNS)
ID_PREFIX = "redial-"
ACCEPTS, SEES = "ACC", "SEE"


@dataclass(frozen=True)
class Accepted:
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
    by_act = _accepted_by_act(dialogue, matcher, latest_year)  # one entry per film, None: not in the catalog
    if not dialogue.accepted and not by_act:
        return NO_ACCEPTED
    dated = [(title, year) for title in dialogue.accepted if (year := _year(dialogue, title)) is not None]
    if not dated and not by_act:
        return NO_YEAR
    in_catalog = [movie for title, year in dated if (movie := resolve(f"{title} ({year})", matcher))]
    in_catalog += [movie for movie in by_act if movie is not None]
    if not in_catalog:
        return NOT_IN_CATALOG
    suggested = [Accepted(movie, at) for movie in dict.fromkeys(in_catalog)
                 if (at := _first_suggestion(dialogue, movie, matcher)) is not None]
    if not suggested:
        return NOT_SUGGESTED
    fresh = [a for a in suggested if not _named_by_seeker(dialogue, a, matcher, latest_year)]
    if not fresh:
        return NAMED_FIRST
    cut = min(a.suggested_at for a in fresh)
    turns = tuple(u.text for u in dialogue.seeker_turns if u.index < cut and u.text)
    if not turns:
        return NO_TURNS
    held_out = tuple(a.movie.movie_id for a in sorted(fresh, key=lambda a: a.suggested_at))
    return Transcript(f"{ID_PREFIX}{dialogue.id}", -1, turns, held_out)


def _accepted_by_act(dialogue: Dialogue, matcher: TitleMatcher, latest_year: int) -> list[Movie | None]:
    accepted: list[Movie | None] = []
    said = Preferences()  # the seeker's turns before the current one
    for utterance in dialogue.seeker_turns:
        if ACCEPTS in utterance.acts:
            named = written_films(utterance.text, matcher) or _last_suggestion(dialogue, utterance, matcher)
            here = Preferences().update(utterance.text, matcher, latest_year)
            # beside a SEE act, a film the rules read as loved is one already watched ("X is one of my favorites")
            watched = here.loved if SEES in utterance.acts else ()
            known = {*said.named_ids, *(m.movie_id for m in (*here.seen, *here.disliked, *watched))}
            accepted += [m for m in named if m is None or m.movie_id not in known]
        said = said.update(utterance.text, matcher, latest_year)
    return list(dict.fromkeys(accepted))


def _last_suggestion(dialogue: Dialogue, answer: Utterance, matcher: TitleMatcher) -> list[Movie | None]:
    """The films of the recommender's latest utterance before `answer` that wrote any."""
    for utterance in reversed(dialogue.utterances[:answer.index]):
        if utterance.participant == RECOMMENDER and (films := written_films(utterance.text, matcher)):
            return films
    return []


def _year(dialogue: Dialogue, title: str) -> int | None:
    """The year the dialogue writes the accepted title with, the recommender's mention first."""
    ordered = sorted(dialogue.utterances, key=lambda u: u.participant != RECOMMENDER)
    return next((year for u in ordered if (year := mention_year(title, u.text)) is not None), None)


def _first_suggestion(dialogue: Dialogue, movie: Movie, matcher: TitleMatcher) -> int | None:
    return next((u.index for u in dialogue.utterances
                 if u.participant == RECOMMENDER and movie in written_films(u.text, matcher)), None)


def _named_by_seeker(dialogue: Dialogue, accepted: Accepted, matcher: TitleMatcher, latest_year: int) -> bool:
    """Did the seeker name the film before it was suggested, in ReDial's mention or as the rules read it? (The
    evaluation never counts a film the turns name as a hit, so such a dialogue has nothing left to find.)"""
    before = [u.text for u in dialogue.seeker_turns if u.index < accepted.suggested_at]
    written = any(accepted.movie in written_films(text, matcher) for text in before)
    return written or accepted.movie.movie_id in read_turns(before, matcher, latest_year).named_ids
