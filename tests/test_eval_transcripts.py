"""The evaluation split: deterministic, evaluation users only, readable by the rule reader; tuning apart."""

import json
from dataclasses import replace
from importlib import resources

import pytest

from eval.transcripts.build import (MAX_LIKES, MIN_LIKES, SEED, build_conversations, build_eval_transcripts,
                                    split_likes, user_order)
from eval.transcripts.files import Transcript, load_transcripts
from eval.transcripts.profile import Era, decade_span, genre_cover, profile_of, user_likes
from eval.transcripts.reading import read_turns
from eval.tuning import weights
from index.catalog import load_catalog
from index.collab import Collaborative
from index.matching import TitleMatcher
from index.population import is_eval_user


@pytest.fixture(scope="module")
def catalog():
    return load_catalog("bundled")


@pytest.fixture(scope="module")
def matcher(catalog):
    return TitleMatcher(catalog)


@pytest.fixture(scope="module")
def committed():
    return load_transcripts()


def latest(catalog):
    return max(m.year or 0 for m in catalog)


def test_the_committed_file_keeps_the_contract(committed):
    raw = json.loads(resources.files("eval.transcripts").joinpath("fixed.json").read_text())
    assert len(raw) == len(committed) == 20
    assert all(set(t) == {"id", "user_id", "turns", "held_out"} for t in raw)
    assert len({t["id"] for t in raw}) == 20 and len({t["user_id"] for t in raw}) == 20
    assert all(isinstance(turn, str) and turn for t in raw for turn in t["turns"])


def test_transcripts_come_from_evaluation_users_and_hold_out_the_other_half_of_their_likes(committed, catalog,
                                                                                          matcher):
    ratings = catalog.eval_ratings
    training_users = set(catalog.ratings["user_id"])
    for t in committed:
        assert is_eval_user(t.user_id)
        likes = user_likes(ratings, t.user_id, catalog)
        profile_part, held_out = split_likes(likes, t.user_id, SEED)
        assert t.held_out == held_out and set(t.held_out) | {m for m, _ in profile_part} == {m for m, _ in likes}
        assert abs(len(profile_part) - len(held_out)) <= 1
        named = set(read_turns(t.turns, matcher, latest(catalog)).named_ids)
        assert named <= {m for m, _ in profile_part} and not named & set(t.held_out)
        assert all(m in catalog for m in t.held_out)
        assert t.user_id not in training_users


def test_the_turns_never_depend_on_the_held_out_part(committed, catalog):
    # The profile (hence the turns) is read from the profile part alone: any held-out part gives the same one.
    for t in committed[:5]:
        profile_part, held_out = split_likes(user_likes(catalog.eval_ratings, t.user_id, catalog), t.user_id, SEED)
        real = profile_of(catalog, t.user_id, profile_part, lambda m: True, held_out)
        other = profile_of(catalog, t.user_id, profile_part, lambda m: True, tuple(catalog.movies)[:50])
        assert replace(real, held_out=()) == replace(other, held_out=())


def test_the_all_users_file_covers_every_eligible_evaluation_user(catalog):
    everyone = load_transcripts(resources.files("eval.transcripts").joinpath("all.json"))
    eligible = [u for u in catalog.eval_ratings["user_id"].unique()
                if MIN_LIKES <= len(user_likes(catalog.eval_ratings, u, catalog)) <= MAX_LIKES]
    assert len(everyone) >= 0.95 * len(eligible) and len({t.user_id for t in everyone}) == len(everyone)
    quick = load_transcripts()
    assert [t.user_id for t in quick] == [t.user_id for t in everyone[:20]]


def test_every_transcript_gives_the_rule_reader_three_signals_and_two_resolved_films(committed, catalog, matcher):
    for t in committed:
        prefs = read_turns(t.turns, matcher, latest(catalog))
        assert len(prefs.signals) >= 3, (t.id, prefs.signals)
        assert {"mood", "era", "genres", "loved"} <= set(prefs.signals), t.id
        assert len(prefs.loved) == 2 and not prefs.unresolved and not prefs.disliked, t.id
        assert not prefs.avoid_genres and not prefs.avoid_moods, t.id


def test_the_build_is_deterministic_and_reproduces_the_committed_file(committed, catalog):
    first = build_eval_transcripts(catalog)
    second = build_eval_transcripts(catalog)
    assert first.transcripts == second.transcripts
    assert first.transcripts == committed


def test_user_order_depends_only_on_seed_and_ids():
    assert user_order([15, 5, 10]) == user_order([10, 15, 5, 5])
    assert user_order(range(5, 500, 5), seed="a") != user_order(range(5, 500, 5), seed="b")


def test_the_eval_builder_refuses_training_users(catalog):
    leaked = replace(catalog, eval_ratings=catalog.ratings)
    with pytest.raises(AssertionError):
        build_eval_transcripts(leaked, n=1)


def test_tuning_conversations_use_training_users_only_and_leave_the_statistics(catalog):
    users = weights.tuning_users(catalog)
    assert users and not any(is_eval_user(u) for u in users)
    build = build_conversations(catalog, catalog.ratings, users, 5, weights.SEED, prefix="u")
    fold = {t.user_id for t in build.transcripts}
    assert len(fold) == 5 and not any(is_eval_user(u) for u in fold)
    held = weights.without_users(catalog, fold)
    assert not set(held.ratings["user_id"]) & fold
    assert len(held.ratings) < len(catalog.ratings) and len(catalog.ratings) > 0  # the original is untouched
    collab = Collaborative.from_catalog(held)
    assert collab.likes.shape[0] == held.ratings["user_id"].nunique()


def test_era_is_the_narrowest_run_of_decades_covering_most_likes(catalog):
    years = [1991, 1993, 1995, 1997, 1999, 1985, 1987, 2001, 1994, 1996]
    assert decade_span(years, catalog) == Era(1980, 1999)  # 9 of 10 >= 85%; the 90s alone hold 7
    assert decade_span([1994] * 9 + [1955], catalog) == Era(1990, 1999)
    assert decade_span([2012] * 9 + [2005], catalog).end is None  # reaches the last decade: "since ..."


def test_genres_cover_most_likes_greedily(catalog):
    movies = [m for m in catalog if m.genres][:50]
    genres = genre_cover(movies)
    assert 1 <= len(genres) <= 3
    covered = sum(bool(set(m.genres) & set(genres)) for m in movies) / len(movies)
    assert covered >= 0.85 or len(genres) == 3


def test_transcript_json_round_trip():
    t = Transcript("t99", 5, ("I want something tense", "90s"), (1, 2))
    assert Transcript.from_json(json.loads(json.dumps(t.to_json()))) == t
