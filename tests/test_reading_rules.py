"""The rule reader on sentences the way real seekers write them (ReDial style: `Title (Year)`, "..." joins).

The sentences are written for these tests, in the style of the development dialogues; none is copied
from a dialogue.
"""

import pytest

from test_preferences import matcher, read  # noqa: F401  (a fixture and the helper, shared with the older rules' tests)


def titles(movies):
    return [m.title for m in movies]


@pytest.mark.parametrize("said, disliked", [
    ("I just do not really like Grease (1978) at all", ["Grease (1978)"]),
    ("I wasnt a huge fan of Shrek (2001) to be honest", ["Shrek (2001)"]),
    ("Heat (1995) was a big no for me", ["Heat (1995)"]),
    ("my kids got too scared by Jurassic Park (1993), so nothing like that", ["Jurassic Park (1993)"]),
    ("not interested in Scream (1996) , thanks", ["Scream (1996)"]),
    ("Alien (1979) ? I'll pass on that one", ["Alien (1979)"]),
    ("Twilight (2008) wasn't really my thing", ["Twilight (2008)"]),
    ("I didnt care much for Titanic (1997) ...", ["Titanic (1997)"]),
    ("Up (2009) seems a little too young for them", ["Up (2009)"]),
])
def test_negations_with_words_in_between_are_dislikes(matcher, said, disliked):
    prefs = read(matcher, said)
    assert titles(prefs.disliked) == disliked and prefs.loved == ()


def test_each_film_of_a_sentence_gets_its_own_stance(matcher):
    prefs = read(matcher, "I did not like Titanic (1997) , have not seen Heat (1995) and totally loved Grease (1978) .")
    assert titles(prefs.disliked) == ["Titanic (1997)"] and titles(prefs.loved) == ["Grease (1978)"]
    assert prefs.seen == () and 6 not in prefs.named_ids  # not seen yet: no stance, still recommendable


def test_a_list_after_one_verdict_shares_it(matcher):
    prefs = read(matcher, "so no Titanic (1997) , Heat (1995) or Alien (1979) please")
    assert titles(prefs.disliked) == ["Titanic (1997)", "Heat (1995)", "Alien (1979)"]


def test_turning_down_a_suggestion_after_but(matcher):
    prefs = read(matcher, "I liked Toy Story (1995) but not Shrek (2001)")
    assert titles(prefs.loved) == ["Toy Story (1995)"] and titles(prefs.disliked) == ["Shrek (2001)"]


@pytest.mark.parametrize("said", ["I have seen Frozen (2013) !", "I already watched Frozen (2013) with my sister",
                                  "Frozen (2013) yes I've seen that one"])
def test_seen_without_a_verdict(matcher, said):
    prefs = read(matcher, said)
    assert titles(prefs.seen) == ["Frozen (2013)"] and prefs.loved == () and prefs.disliked == ()


def test_a_verdict_after_seen_decides(matcher):
    assert titles(read(matcher, "I saw Heat (1995) last week and it was amazing").loved) == ["Heat (1995)"]
    prefs = read(matcher, "I have seen Scream (1996) ...But honestly I did not like it")
    assert titles(prefs.disliked) == ["Scream (1996)"] and prefs.seen == ()


@pytest.mark.parametrize("said", ["Have you seen Heat (1995) ?", "I haven't seen Heat (1995) yet",
                                  "I heard Heat (1995) is good", "Maybe I will watch Heat (1995) tonight!",
                                  "What is Heat (1995) about?"])
def test_asking_about_or_planning_a_film_is_no_stance(matcher, said):
    prefs = read(matcher, said)
    assert prefs.named_ids == ()


def test_a_question_keeps_an_earlier_love(matcher):
    prefs = read(matcher, "I loved Heat (1995)", "have you seen Heat (1995) too?")
    assert titles(prefs.loved) == ["Heat (1995)"]


def test_a_remake_the_catalog_lacks_is_not_the_original(matcher):
    prefs = read(matcher, "I just do not really like the Halloween (2007) movies")
    assert prefs.named_ids == () and prefs.unresolved == ("Halloween (2007)",)
    loved = read(matcher, "I loved Halloween (2007)")
    assert loved.loved == () and "Halloween (2007)" in loved.unresolved


def test_a_year_one_off_still_names_the_film(matcher):
    assert titles(read(matcher, "I loved Titanic (1998)").loved) == ["Titanic (1997)"]


def test_a_short_name_inside_a_longer_title_is_not_that_film(matcher):
    prefs = read(matcher, "Not a fan of Heat Wave Forever (2018) honestly")
    assert prefs.named_ids == ()


def test_a_genre_word_is_not_a_film(matcher):
    prefs = read(matcher, "I am not really a Romance movie person")
    assert prefs.named_ids == () and prefs.avoid_genres == ("Romance",)


@pytest.mark.parametrize("said, genres, avoid", [
    ("maybe something not animated", (), ("Animation",)),
    ("a film with real people please", (), ("Animation",)),
    ("a thriller but not too scary", ("Thriller",), ("Horror",)),
    ("I like anything but westerns", (), ("Western",)),
    ("I'm not really into comic book movies", (), ("Action",)),
    ("I don't really like romantic stuff", (), ("Romance",)),
    ("a chick flick for tonight", ("Romance",), ()),
])
def test_genres_and_avoided_genres(matcher, said, genres, avoid):
    prefs = read(matcher, said)
    assert prefs.genres == genres and prefs.avoid_genres == avoid


@pytest.mark.parametrize("said, audience, ages", [
    ("something for my 6 year old", "kids", (6,)),
    ("I have two sons, ages 9 and 7, what should we watch", "kids", (9, 7)),
    ("fun for all ages ... good for like 5 and 10 year olds", "family", (5, 10)),
    ("a family movie night with the grandkids", "family", ()),
    ("date night with my girlfriend tomorrow", "date", ()),
    ("hanging out with some young teens this weekend", "kids", ()),
    ("something for the adults only, the kids are asleep", "adults", ()),
    ("it is for my niece, she is 8 years old", "kids", (8,)),
    ("a movie set 20 years ago", None, ()),
])
def test_audience_and_ages(matcher, said, audience, ages):
    prefs = read(matcher, said)
    assert (prefs.audience, prefs.ages) == (audience, ages) and prefs.unresolved == ()


def test_audience_persists_and_ages_accumulate(matcher):
    prefs = read(matcher, "a movie for my daughter, she is 7 years old", "her brother is 11 years old", "funny please")
    assert prefs.audience == "kids" and prefs.ages == (7, 11)


def test_themes_are_keywords_but_not_when_ruled_out(matcher):
    prefs = read(matcher, "something with time travel or a heist", "no zombies please")
    assert prefs.keywords == ("time travel", "heist")


def test_the_summary_says_what_was_read(matcher):
    summary = read(matcher, "I have seen Frozen (2013)", "for my 6 year old").summary()
    assert "already seen: Frozen (2013)" in summary and "watching: kids (ages 6)" in summary


def test_to_json_is_the_contract(matcher):
    prefs = read(matcher, "I liked Toy Story (1995) but not Shrek (2001)", "I've seen Up (2009)",
                 "something funny from the 90s with dinosaurs, subtitles are fine")
    data = prefs.to_json()
    assert data["loved"] == [{"movie_id": 1, "title": "Toy Story (1995)"}]
    assert data["disliked"] == [{"movie_id": 4306, "title": "Shrek (2001)"}]
    assert data["seen"] == [{"movie_id": 68954, "title": "Up (2009)"}]
    assert data["mood"] == ["funny"] and data["era"] == "90s" and data["keywords"] == ["dinosaurs"]
    assert data["language"] == {"subtitles": True, "languages": []} and data["audience"] is None
    assert {"genres", "avoid_genres"} <= set(data)


def test_a_verdict_around_the_title(matcher):
    assert titles(read(matcher, "I was never a Titanic (1997) fan").disliked) == ["Titanic (1997)"]


def test_a_pronoun_is_not_a_film_and_seeming_is_not_loving(matcher):
    assert read(matcher, "I think I would like them if I had the time").named_ids == ()
    prefs = read(matcher, "I saw some of Heat (1995) . It seemed like an ok movie.")
    assert titles(prefs.seen) == ["Heat (1995)"] and prefs.loved == ()


def test_a_title_ending_in_dots_is_found_in_its_sentence(matcher):
    prefs = read(matcher, "Did not like Titanic but will check out When Harry Met Sally")
    assert titles(prefs.disliked) == ["Titanic (1997)"] and prefs.loved == () and len(prefs.named_ids) == 1
