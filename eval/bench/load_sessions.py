"""The conversations of the load test (eval/bench/load.py) and what each turn must show.

Every session is one person with preferences no other session has: a film they loved (a different one per
session), a mood and an era. Four turns: the film, the mood, the era (three signals: the first picks), then
"any others?" (five more picks); a longer `--turns` asks for something different again. What the side panel
must show after each turn is read from that session's own turns alone, by the same rules the server uses,
so anything else in it came from somewhere else.

A leak is anything of another session in this one: another session's film in its panel or in an answer that
is not a list of picks (picks may be any film), a panel that does not show exactly its own signals, or picks
that ignore its own memory (its loved film recommended back, or the same five shown twice).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from index.catalog import Catalog, Movie
from index.matching import TitleMatcher
from tools.preferences import MOODS, Preferences

MOOD_TURN = "I'm in the mood for something {mood}."
ERAS = ("the 70s", "the 80s", "the 90s", "the 2000s", "the 60s")
APOLOGY_WORDS = ("Sorry, something went wrong", "**Sorry:**")
_PICK = re.compile(r"^\d+\. \*\*(.+?)\*\*", re.MULTILINE)
_PANEL_LINE = re.compile(r"^- \*\*(.+?)\*\*: (.*)$", re.MULTILINE)
_SIGNALS = re.compile(r"^\*\*(\d+) of \d+ signals\*\*")
MIN_TURNS = 4


@dataclass(frozen=True)
class Persona:
    film: Movie
    typed: str  # the film as the person types it: the title without its year
    mood: str
    era: str

    def turns(self, count: int) -> list[str]:
        said = [f"Hi! I loved {self.typed}.", MOOD_TURN.format(mood=self.mood), f"Something from {self.era}, please.",
                "Any others?"]
        return said + ["Something different, please."] * (count - len(said))


def personas(catalog: Catalog, matcher: TitleMatcher, count: int, turns: int = MIN_TURNS) -> list[Persona]:
    """`count` people with distinct films, each checked to read back as exactly what it says."""
    if turns < MIN_TURNS:
        raise ValueError(f"a conversation needs at least {MIN_TURNS} turns to end in a second set of picks")
    latest = max(m.year or 0 for m in catalog)
    moods = [mood for mood in MOODS if _one_signal(MOOD_TURN.format(mood=mood), matcher, latest)]
    people: list[Persona] = []
    for film in catalog:
        if len(people) == count:
            break
        typed = re.sub(r"\s*\(\d{4}\)$", "", film.title)
        if any(typed in p.film.title or p.typed in film.title for p in people):
            continue  # no film's title inside another's, so a title found in a text names one session
        n = len(people)
        person = Persona(film, typed, moods[n % len(moods)], ERAS[n // len(moods) % len(ERAS)])
        states = expected_states(person, matcher, latest, turns)
        if [m.movie_id for m in states[-1].loved] == [film.movie_id] and states[-1].moods == (person.mood,) \
                and states[-1].era is not None and [len(s.signals) for s in states] == [1, 2] + [3] * (turns - 2):
            people.append(person)
    if len(people) < count:
        raise ValueError(f"the catalog has only {len(people)} films usable as distinct sessions, {count} wanted")
    return people


def _one_signal(text: str, matcher: TitleMatcher, latest_year: int) -> bool:
    """Whether `text` alone gives exactly one signal ("action-packed" is a mood and a genre: two)."""
    return len(Preferences().update(text, matcher, latest_year).signals) == 1


def expected_states(person: Persona, matcher: TitleMatcher, latest_year: int, turns: int) -> list[Preferences]:
    """The preferences after each turn, read from this person's turns only."""
    prefs, states = Preferences(), []
    for text in person.turns(turns):
        prefs = prefs.update(text, matcher, latest_year)
        states.append(prefs)
    return states


def picks(answer: str) -> list[str]:
    return _PICK.findall(answer)


def panel_fields(panel: str) -> tuple[int | None, dict[str, str]]:
    """(the number of signals it counts, {label: value}) from the side panel's Markdown."""
    count = _SIGNALS.match(panel)
    return (int(count.group(1)) if count else None), dict(_PANEL_LINE.findall(panel))


def check_turn(person: Persona, turn: int, expected: Preferences, answer: str, panel: str,
               others: list[Persona], earlier_picks: list[str]) -> tuple[list[str], list[str]]:
    """(errors, leaks) of one answered turn; `turn` counts from 0, `earlier_picks` this session's picks so far."""
    errors, leaks = [], []
    if any(word in answer for word in APOLOGY_WORDS):
        errors.append(f"turn {turn + 1}: {answer.splitlines()[0][:120]}")
    shown = picks(answer)
    wants_picks = len(expected.signals) >= 3
    if wants_picks and len(shown) != 5:
        errors.append(f"turn {turn + 1}: no five picks once three signals were known")
    if not wants_picks and shown:
        leaks.append(f"turn {turn + 1}: picks after {len(expected.signals)} signals of its own")
    foreign = [p.film.title for p in others if p.film.title in panel or (not shown and p.film.title in answer)]
    leaks += [f"turn {turn + 1}: another session's film {title!r}" for title in foreign]
    count, fields = panel_fields(panel)
    wanted = {"Films you loved": ", ".join(m.title for m in expected.loved) or "_not yet_",
              "Mood": ", ".join(expected.moods) or "_not yet_"}
    for label, value in wanted.items():
        if fields.get(label) != value:
            leaks.append(f"turn {turn + 1}: panel {label} = {fields.get(label)!r}, its own is {value!r}")
    era = fields.get("Era", "")
    if (expected.era is None) != (era == "_not yet_") or (expected.era and not era.startswith(expected.era)):
        leaks.append(f"turn {turn + 1}: panel Era = {era!r}, its own is {expected.era!r}")
    if count != len(expected.signals):
        leaks.append(f"turn {turn + 1}: panel counts {count} signals, its own turns give {len(expected.signals)}")
    if person.film.title in shown:
        leaks.append(f"turn {turn + 1}: its own loved film recommended back")
    if set(shown) & set(earlier_picks):
        leaks.append(f"turn {turn + 1}: picks already shown to it: {sorted(set(shown) & set(earlier_picks))}")
    return errors, leaks
