"""TitleMatcher on the bundled catalog: typed names, and the films named inside a sentence."""

import pytest

from index.catalog import load_catalog
from index.matching import TitleMatcher


@pytest.fixture(scope="module")
def catalog():
    return load_catalog("bundled")


@pytest.fixture(scope="module")
def matcher(catalog):
    return TitleMatcher(catalog)


def by_ml_title(catalog, ml_title):
    return next(m for m in catalog if m.ml_title == ml_title)


@pytest.mark.parametrize("typed, ml_title, how", [
    ("The Matrix", "Matrix, The", "exact"),
    ("matrix", "Matrix, The", "exact"),
    ("the american president", "American President, The", "exact"),
    ("Se7en", "Seven (a.k.a. Se7en)", "exact"),
    ("12 Monkeys", "Twelve Monkeys (a.k.a. 12 Monkeys)", "exact"),
    ("Toy Story 2", "Toy Story 2", "exact"),
    ("toy story ii", "Toy Story 2", "exact"),
    ("Toy Story 3", "Toy Story 3", "exact"),
    ("Godfather part 2", "Godfather: Part II, The", "exact"),
    ("godfather 2", "Godfather: Part II, The", "exact"),
    ("il postino", "Postman, The (Postino, Il)", "exact"),
    ("Terminator 2", "Terminator 2: Judgment Day", "main-title"),
    ("Pulp Fictoin", "Pulp Fiction", "fuzzy"),
    ("Shawshank Redemtion", "Shawshank Redemption, The", "fuzzy"),
])
def test_typed_names_resolve(matcher, catalog, typed, ml_title, how):
    found = matcher.match(typed)
    assert found is not None
    assert (found.movie, found.how) == (by_ml_title(catalog, ml_title), how)
    assert (found.score == 100) == (how == "exact")


def test_sequel_numbers_are_never_swapped(matcher):
    assert matcher.match("Toy Story 2").movie != matcher.match("Toy Story 3").movie
    assert matcher.match("Toy Story 4") is None  # one edit from "Toy Story 3", but another film
    assert matcher.match("Godfather part 3").movie.name == "The Godfather: Part III"


def test_a_year_picks_between_films_of_the_same_name(matcher, catalog):
    remakes = sorted((m for m in catalog if m.name == "King Kong"), key=lambda m: -m.n_ratings)
    assert len(remakes) >= 2
    assert matcher.match("King Kong").movie == remakes[0]  # no year: the most rated
    for movie in remakes:
        assert matcher.match(f"King Kong ({movie.year})").movie == movie
        assert matcher.match(f"King Kong {movie.year}").movie == movie


def test_a_film_outside_the_catalog_is_unresolved_with_close_matches(matcher, catalog):
    assert matcher.match("Oppenheimer") is None
    suggestions = matcher.close_matches("Oppenheimer", k=5)
    assert len(suggestions) == 5 and all(m.movie_id in catalog for m in suggestions)
    assert all("oppenheimer" not in m.name.lower() for m in suggestions)


def test_close_matches_of_a_missing_sequel_lead_with_the_series(matcher):
    assert {m.name for m in matcher.close_matches("Toy Story 4", k=3)} == {"Toy Story", "Toy Story 2", "Toy Story 3"}


# --- films named in a sentence ---

def mentions(matcher, text):
    found = matcher.find_mentions(text)
    return [m.title for m in found.resolved], found.unresolved


@pytest.mark.parametrize("text, titles", [
    ("I loved Heat and Casino", ["Heat (1995)", "Casino (1995)"]),
    ("I like The Matrix, Se7en and toy story 2", ["The Matrix (1999)", "Seven (1995)", "Toy Story 2 (1999)"]),
    ("loved up and inside out", ["Up (2009)", "Inside Out (2015)"]),  # lower case, but an explicit list
    ("I want something like Heat but funnier", ["Heat (1995)"]),
    ("We watched Alien and then Aliens", ["Alien (1979)", "Aliens (1986)"]),
    ('My favourites are "Alien" and Aliens.', ["Alien (1979)", "Aliens (1986)"]),
    ("I enjoyed Heat (1995) and Ronin", ["Heat (1995)", "Ronin (1998)"]),
    ("I like Godfather part 2 and Toy Story 3", ["The Godfather: Part II (1974)", "Toy Story 3 (2010)"]),
    ("Movies like Se7en or 12 Monkeys please", ["Seven (1995)", "Twelve Monkeys (1995)"]),
    ("I loved Pulp Fictoin", ["Pulp Fiction (1994)"]),  # an explicit item gets a fuzzy match
    ("I loved 9 and Up", ["9 (2009)", "Up (2009)"]),  # a bare number is a film when listed explicitly
    ("I have seen Heat 10 times", ["Heat (1995)"]),
])
def test_films_named_in_a_sentence(matcher, text, titles):
    assert mentions(matcher, text) == (titles, [])


@pytest.mark.parametrize("text, titles", [
    ("something with heat", []),  # a lower-case word in running text is not a title
    ("recommend me something tense like the 90s thrillers", []),
    ("I loved Korean films", []),
    ("top 10 thrillers please", []),  # "10" (1979) is in the catalog
    ("Something from 1984 maybe", []),  # so is "1984"
    ("I liked Toy Story 2 more than 3", ["Toy Story 2 (1999)"]),  # "3" is not "3:10 to Yuma"
])
def test_no_film_is_read_into_ordinary_words(matcher, text, titles):
    assert mentions(matcher, text) == (titles, [])


@pytest.mark.parametrize("text, unresolved", [
    ("I loved Oppenheimer and Barbie", ["Oppenheimer", "Barbie"]),
    ("I love Toy Story 4", ["Toy Story 4"]),  # not Toy Story (1995), which the name starts with
    ('Have you seen "Toy Story 4"?', ["Toy Story 4"]),
    ("I loved Godfather part 4", ["Godfather part 4"]),
])
def test_explicit_names_outside_the_catalog_come_back_unresolved_never_guessed(matcher, text, unresolved):
    assert mentions(matcher, text) == ([], unresolved)


def test_unresolved_names_sit_beside_resolved_ones(matcher):
    assert mentions(matcher, "I loved Heat and Oppenheimer") == (["Heat (1995)"], ["Oppenheimer"])
