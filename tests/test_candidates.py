"""Fused candidate generation and search_movies on a small real collection (bundled catalog, 400 movies)."""

import asyncio

import numpy as np
import pytest

from index.build import build_baseline
from index.store import BASELINE
from index.workspace import Workspace
from tools.candidates import FusionWeights, SearchRequest
from tools.search import recommend, search_movies
from tools.services import MovieServices
from tools.session import ToolSession


@pytest.fixture(scope="module")
def services(tmp_path_factory):
    ws = Workspace.open(tmp_path_factory.mktemp("ws"), llm_choice="none", limit=400)
    build_baseline(ws, show_progress=False)
    return MovieServices.from_workspace(ws, use_llm=False)


@pytest.fixture(scope="module")
def generator(services):
    return services.generator(BASELINE)


def movie_named(services, name):
    return services.matcher.match(name).movie


def test_hard_conditions_hold_for_every_candidate(services, generator):
    heat, casino = movie_named(services, "Heat"), movie_named(services, "Casino")
    request = SearchRequest(text="tense crime thriller", seeds=(heat.movie_id,), year_min=1990, year_max=1999,
                            genres=("Crime", "Thriller"), avoid_genres=("Comedy",), exclude=(casino.movie_id,))
    found = generator.generate(request, k=50)
    assert len(found) >= 20
    for c in found:
        assert 1990 <= c.movie.year <= 1999
        assert {"Crime", "Thriller"} & set(c.movie.genres)
        assert "Comedy" not in c.movie.genres
        assert c.movie.movie_id not in (heat.movie_id, casino.movie_id)
    allowed = generator.allowed(request)
    assert allowed.sum() >= len(found)


def test_each_signal_alone_orders_by_that_signal(services, generator):
    heat = movie_named(services, "Heat")
    request = SearchRequest(text="", seeds=(heat.movie_id,))
    knn_only = generator.generate(request, k=10, weights=FusionWeights(0, 1, 0, 0, 0))
    sims = services.collab.similarity_to([heat.movie_id])
    expected = sorted((m for m in sims if m in generator.position), key=lambda m: -sims[m])[:10]
    assert [c.movie.movie_id for c in knn_only] == expected
    assert all(c.because_of == (heat.title,) for c in knn_only)

    popular = generator.generate(SearchRequest(text=""), k=5, weights=FusionWeights(0, 0, 1, 0, 0))
    counts = [c.movie.n_ratings for c in popular]
    assert counts == sorted(counts, reverse=True)


def test_content_retrieval_finds_what_the_words_say(generator):
    found = generator.generate(SearchRequest(text="Toy Story animation"), k=5, weights=FusionWeights(1, 0, 0, 0, 0))
    assert any(c.movie.name.startswith("Toy Story") for c in found)
    assert found[0].signals["content"] == pytest.approx(1.0)


def test_fusion_mixes_evidence(services, generator):
    heat = movie_named(services, "Heat")
    request = SearchRequest(text="tense heist", seeds=(heat.movie_id,), wanted_genres=("Crime", "Thriller"))
    mask, matrix, _ = generator.signal_matrix(request)
    fused = generator.generate(request, k=50)
    scores = np.array([c.score for c in fused])
    assert np.all(np.diff(scores) <= 1e-12)  # best first
    weights = generator.weights.for_loved(1).as_array()  # one loved film: half the shift toward the words
    top = fused[0]
    assert top.score == pytest.approx(float(np.dot([top.signals[s] for s in top.signals], weights)))
    assert mask.sum() == len(generator.movies) - 1  # only the seed itself is excluded


def test_fewer_loved_films_weigh_the_words_more():
    tuned = FusionWeights(content=0.05, knn=1.0, popularity=1.5, genre=0.1, language=0.2)
    assert tuned.for_loved(2) == tuned and tuned.for_loved(3) == tuned
    none, one = tuned.for_loved(0), tuned.for_loved(1)
    assert (none.content, none.genre) == pytest.approx((0.3, 0.35))
    assert (one.content, one.genre) == pytest.approx((0.175, 0.225))
    assert (none.knn, none.popularity, none.language) == (1.0, 1.5, 0.2)


def test_named_films_never_come_back_and_repeats_are_avoided(services):
    session = ToolSession(services, collection=BASELINE)
    for turn in ("I loved Heat and Pulp Fiction, hated Titanic", "something tense", "90s please"):
        session.note_user_turn(turn)
    named = {movie_named(services, n).movie_id for n in ("Heat", "Pulp Fiction", "Titanic")}
    assert set(session.preferences.named_ids) == named
    first = asyncio.run(recommend(session))
    second = asyncio.run(recommend(session))
    shown = [r.movie_id for r in first.recommendations + second.recommendations]
    assert len(first.recommendations) == len(second.recommendations) == 5
    assert not named & set(shown)
    assert len(set(shown)) == 10
    assert all(services.catalog[m] for m in shown)
    assert all(r.reason.endswith(".") and len(r.reason.split()) >= 4 for r in first.recommendations)


def test_search_tool_asks_before_it_recommends(services):
    session = ToolSession(services, collection=BASELINE)
    session.note_user_turn("something funny")
    text = asyncio.run(search_movies(session, query="funny"))
    assert "?" in text and not session.shown
    session.note_user_turn("from the 80s, subtitles are fine")
    text = asyncio.run(search_movies(session, query="funny 80s", genres=["comedy", "not-a-genre"]))
    assert text.count("**") == 10 and len(session.shown) == 5
    assert all(1980 <= r.year <= 1989 and "Comedy" in r.genres for r in session.shown)


def test_an_llm_era_counts_only_when_the_person_gave_none(services):
    session = ToolSession(services, collection=BASELINE)
    for turn in ("something funny", "subtitles are fine", "I loved Groundhog Day"):
        session.note_user_turn(turn)
    asyncio.run(recommend(session, year_min=2000, year_max=2016))
    assert all(r.year >= 2000 for r in session.shown)
    session.note_user_turn("actually, the 80s")
    asyncio.run(recommend(session, year_min=2000, year_max=2016))
    assert all(1980 <= r.year <= 1989 for r in session.shown[5:])
