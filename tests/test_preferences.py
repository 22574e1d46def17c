"""The rule reader: signals from what people type, overrides across turns, films loved and not."""

import pytest

from index.catalog import load_catalog
from index.matching import TitleMatcher
from tools.preferences import Preferences


@pytest.fixture(scope="module")
def matcher():
    return TitleMatcher(load_catalog("bundled"))


def read(matcher, *turns):
    prefs = Preferences()
    for turn in turns:
        prefs = prefs.update(turn, matcher, latest_year=2016)
    return prefs


def test_the_design_cards_example_has_three_signals(matcher):
    prefs = read(matcher, "I want something tense tonight", "90s is perfect", "subtitles are fine")
    assert prefs.signals == ("mood", "era", "language")
    assert prefs.moods == ("tense",) and (prefs.year_min, prefs.year_max) == (1990, 1999) and prefs.subtitles


@pytest.mark.parametrize("said, span", [
    ("late 90s or early 2000s", (1996, 2003)), ("the eighties", (1980, 1989)), ("1970s", (1970, 1979)),
    ("between 1995 and 2005", (1995, 2005)), ("nothing before 1980", (1980, 2016)), ("before 1960", (1900, 1959)),
    ("something recent", (2010, 2016)), ("old classics", (1900, 1979)), ("mid 80s", (1983, 1986)),
])
def test_eras(matcher, said, span):
    prefs = read(matcher, said)
    assert (prefs.year_min, prefs.year_max) == span and prefs.era


def test_any_era_is_a_signal_without_a_constraint(matcher):
    prefs = read(matcher, "the 90s", "actually any era is fine")
    assert "era" in prefs.signals and prefs.year_min is None and prefs.year_max is None


@pytest.mark.parametrize("said", ["Preferably from the 1990's and 1980's but doesn't really matter",
                                  "something from the 80s, I'm not picky though"])
def test_an_era_waved_off_in_the_same_message_is_no_condition(matcher, said):
    prefs = read(matcher, said)
    assert prefs.year_min is None and prefs.year_max is None and prefs.era.endswith("not a must")
    assert "era" in prefs.signals
    other = read(matcher, "the 90s, it does not matter if it is a comedy or a drama")  # waves off the genre
    assert (other.year_min, other.year_max) == (1990, 1999)


def test_preference_changes_override_history(matcher):
    prefs = read(matcher, "I love horror", "forget horror, I want comedies",
                 "ignore the last suggestions, they were too old")
    assert prefs.genres == ("Comedy",) and prefs.avoid_genres == ("Horror",)
    assert prefs.year_min == 2010


def test_a_positive_mood_survives_a_negated_synonym(matcher):
    assert read(matcher, "something funny but not too silly").moods == ("funny",)


def test_language(matcher):
    assert read(matcher, "English only please").subtitles is False
    assert read(matcher, "I don't mind reading subtitles").subtitles is True
    prefs = read(matcher, "Korean thrillers")
    assert prefs.subtitles is True and "korean" in prefs.languages and prefs.genres == ("Thriller",)


def test_loved_and_disliked_films(matcher):
    prefs = read(matcher, "I liked Amelie but hated Titanic", "also loved the matrix and pulp fictoin")
    assert [m.title for m in prefs.loved] == ["Amelie (2001)", "The Matrix (1999)", "Pulp Fiction (1994)"]
    assert [m.title for m in prefs.disliked] == ["Titanic (1997)"]
    assert len(prefs.named_ids) == 4


def test_a_title_is_not_read_as_a_mood_or_genre(matcher):
    prefs = read(matcher, "I loved Dark City and Alien")
    assert "dark" not in prefs.moods and "Sci-Fi" not in prefs.genres
    assert [m.title for m in prefs.loved] == ["Dark City (1998)", "Alien (1979)"]


def test_unknown_films_are_reported_not_guessed(matcher):
    prefs = read(matcher, "I loved Oppenheimer and Heat")
    assert [m.title for m in prefs.loved] == ["Heat (1995)"] and prefs.unresolved == ("Oppenheimer",)


def test_summary_and_dict(matcher):
    prefs = read(matcher, "something dark", "from the 90s", "I loved Heat")
    assert prefs.summary() == "mood: dark; era: 90s (1990-1999); loved: Heat (1995)"
    assert prefs.to_dict()["signals"] == ["mood", "era", "loved"]
    assert prefs.missing == ("language", "genres")
