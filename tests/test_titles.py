"""MovieLens title conventions both ways: trailing articles, a.k.a. aliases, original titles, years."""

import pytest

from index.titles import display_title, front_article, normalize, parse_title, split_year, to_movielens


@pytest.mark.parametrize("raw, name, year, aliases, original", [
    ("American President, The (1995)", "The American President", 1995, (), None),
    ("Seven (a.k.a. Se7en) (1995)", "Seven", 1995, ("Se7en",), None),
    ("Twelve Monkeys (a.k.a. 12 Monkeys) (1995)", "Twelve Monkeys", 1995, ("12 Monkeys",), None),
    ("Postman, The (Postino, Il) (1994)", "The Postman", 1994, ("Il Postino",), "Il Postino"),
    ("Léon: The Professional (a.k.a. The Professional) (Léon) (1994)", "Léon: The Professional", 1994,
     ("The Professional", "Léon"), None),
    ("Heavyweights (Heavy Weights) (1995)", "Heavyweights", 1995, ("Heavy Weights",), None),
    ("Homme, L' (2000)", "L'Homme", 2000, (), None),
    ("From Dusk Till Dawn 2: Texas Blood Money (1999) ", "From Dusk Till Dawn 2: Texas Blood Money", 1999, (), None),
    ("Office, The (2005–2013)", "The Office", 2005, (), None),
    ("Babylon 5", "Babylon 5", None, (), None),
    ("I Am Legend (2007)", "I Am Legend", 2007, (), None),
])
def test_parse_title(raw, name, year, aliases, original):
    parsed = parse_title(raw)
    assert (parsed.name, parsed.year, parsed.aliases, parsed.original_title) == (name, year, aliases, original)


def test_the_year_column_fills_in_when_the_title_has_none():
    assert parse_title("Dangerous Minds", 1995).year == 1995
    assert parse_title("Heat (1995)", 2001).year == 1995  # the title's own year wins
    assert parse_title("Babylon 5").year is None


@pytest.mark.parametrize("title, bare, year", [
    ("Heat (1995)", "Heat", 1995), ("Babylon 5", "Babylon 5", None), ("1984 (1984)", "1984", 1984),
    ("Office, The (2005–2013)", "Office, The", 2005), ("Show (2005-)", "Show", 2005),
    ("(500) Days of Summer (2009)", "(500) Days of Summer", 2009),
])
def test_split_year(title, bare, year):
    assert split_year(title) == (bare, year)


@pytest.mark.parametrize("reading_order", [
    "The American President (1995)", "A Bug's Life (1998)", "L'Homme (2000)", "Heat (1995)", "Babylon 5",
    "Il Postino (1994)",
])
def test_to_movielens_is_the_inverse_of_front_article(reading_order):
    movielens = to_movielens(reading_order)
    bare, year = split_year(movielens)
    assert display_title(front_article(bare), year) == reading_order


def test_to_movielens_moves_articles_to_the_end():
    assert to_movielens("The American President (1995)") == "American President, The (1995)"
    assert to_movielens("I Am Legend (2007)") == "I Am Legend (2007)"  # "I" stays: it is not an article here


def test_display_title_omits_a_missing_year():
    assert display_title("Heat", 1995) == "Heat (1995)"
    assert display_title("Babylon 5", None) == "Babylon 5"


@pytest.mark.parametrize("a, b", [
    ("The American President", "American President"), ("Amélie", "amelie"), ("Fast & Furious", "fast and furious"),
    ("Léon: The Professional", "leon the professional"), ("  Heat!  ", "heat"),
])
def test_normalize_makes_typed_and_catalog_names_equal(a, b):
    assert normalize(a) == normalize(b)


def test_normalize_keeps_different_names_apart():
    assert normalize("Toy Story 2") != normalize("Toy Story 3")
    assert normalize("Alien") != normalize("Aliens")
