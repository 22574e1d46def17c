"""What the reading changes downstream: dislikes push neighbours down, seen films never come back, children's
audiences keep to children's genres, and no reason cites a disliked film as a love."""

import asyncio

import pytest
from llama_index.core.schema import NodeWithScore, TextNode

from index.build import build_baseline
from index.store import BASELINE
from index.workspace import Workspace
from tools.candidates import Candidate, SearchRequest
from tools.preferences import Preferences
from tools.reasons import evidence_reason
from tools.rerank import DISLIKED_KEY, JustifiedRerank, Pick, Picks
from tools.search import NOT_FOR_CHILDREN, NOT_FOR_YOUNG_CHILDREN, recommend, request_from
from tools.services import MovieServices
from tools.session import ToolSession
from ui.panel import signals_markdown


@pytest.fixture(scope="module")
def services(tmp_path_factory):
    ws = Workspace.open(tmp_path_factory.mktemp("ws"), llm_choice="none", limit=400)
    build_baseline(ws, show_progress=False)
    return MovieServices.from_workspace(ws, use_llm=False)


def movie(services, name):
    return services.matcher.match(name).movie


def session_after(services, *turns):
    session = ToolSession(services, collection=BASELINE)
    for turn in turns:
        session.note_user_turn(turn)
    return session


def test_a_disliked_film_pushes_its_neighbours_down(services):
    generator = services.generator(BASELINE)
    heat, titanic = movie(services, "Heat"), movie(services, "Titanic")
    neighbours = services.collab.similarity_to([titanic.movie_id])
    closest = max((m for m in neighbours if m in generator.position and m != heat.movie_id), key=neighbours.get)
    plain = generator.generate(SearchRequest(text="", seeds=(heat.movie_id,)), k=400)
    pushed = generator.generate(SearchRequest(text="", seeds=(heat.movie_id,), disliked=(titanic.movie_id,)), k=400)
    rank = lambda found, mid: [c.movie.movie_id for c in found].index(mid)  # noqa: E731
    assert rank(pushed, closest) > rank(plain, closest)
    assert titanic.movie_id not in {c.movie.movie_id for c in pushed}
    score = {c.movie.movie_id: c.score for c in plain}
    assert all(c.score <= score[c.movie.movie_id] + 1e-9 for c in pushed)


def test_seen_films_are_never_recommended(services):
    session = session_after(services, "I have seen Toy Story (1995) and I've seen Aladdin (1992) too",
                            "something funny", "the 90s please")
    seen = {m.movie_id for m in session.preferences.seen}
    assert seen == {movie(services, "Toy Story").movie_id, movie(services, "Aladdin").movie_id}
    shown = asyncio.run(recommend(session)).recommendations + asyncio.run(recommend(session)).recommendations
    assert len(shown) == 10 and not seen & {r.movie_id for r in shown}


def test_a_film_for_young_children_is_a_childrens_film_without_horror(services):
    session = session_after(services, "something fun for my 6 year old and my 9 year old",
                            "maybe from the 90s", "funny please")
    request = request_from(session.preferences, services.latest_year)
    unsuitable = {*NOT_FOR_CHILDREN, *NOT_FOR_YOUNG_CHILDREN}
    assert set(request.genres) == {"Children", "Animation"} and unsuitable <= set(request.avoid_genres)
    picks = asyncio.run(recommend(session)).recommendations
    assert len(picks) == 5
    for pick in picks:
        genres = set(services.catalog[pick.movie_id].genres)
        assert genres & {"Children", "Animation"} and not genres & unsuitable


def test_a_family_evening_allows_any_family_genre_but_never_horror(services):
    prefs = Preferences(audience="family", genres=("Children",))
    request = request_from(prefs, services.latest_year)
    assert {"Comedy", "Adventure", "Children"} <= set(request.genres) and "Horror" in request.avoid_genres
    asked = request_from(Preferences(audience="family", genres=("Comedy",)), services.latest_year)
    assert asked.genres == ("Comedy",) and "Horror" in asked.avoid_genres
    mystery = request_from(Preferences(audience="kids", ages=(8,), genres=("Thriller",)), services.latest_year)
    assert mystery.genres == ("Thriller",) and "Thriller" not in mystery.avoid_genres
    teens = request_from(Preferences(audience="kids", genres=("Action",)), services.latest_year)
    assert "Thriller" not in teens.avoid_genres and "Horror" in teens.avoid_genres


def test_avoided_genres_and_not_animated_are_hard_conditions(services):
    session = session_after(services, "a comedy from the 90s, maybe something not animated",
                            "I don't really like romantic stuff")
    assert set(session.preferences.avoid_genres) == {"Animation", "Romance"}
    picks = asyncio.run(recommend(session)).recommendations
    assert picks and all(not {"Animation", "Romance"} & set(services.catalog[p.movie_id].genres) for p in picks)


def test_dislikes_and_themes_reach_the_request_and_the_query(services):
    prefs = session_after(services, "I didn't really like Titanic (1997)", "a heist with a twist please").preferences
    request = request_from(prefs, services.latest_year)
    assert request.disliked == (movie(services, "Titanic").movie_id,) and request.seeds == ()
    assert "heist" in request.text and "twist" in request.text and "a heist with a twist please" in request.text


def candidate(services, because_of):
    heat = movie(services, "Heat")
    return Candidate(movie=heat, score=1.0, signals={"knn": 1.0}, because_of=because_of)


def test_an_evidence_reason_never_cites_a_disliked_film(services):
    request = SearchRequest(text="")
    reason = evidence_reason(candidate(services, ("Titanic (1997)", "Casino (1995)")), request, ("Titanic (1997)",))
    assert "Titanic" not in reason and "Casino (1995)" in reason
    only = evidence_reason(candidate(services, ("Titanic (1997)",)), request, ("Titanic (1997)",))
    assert "Titanic" not in only and only.endswith(".")


def test_an_evidence_reason_names_the_era_and_genre_in_plain_words(services):
    adventure = next(m for m in services.catalog if m.genres and m.genres[0] == "Adventure" and m.year)
    pick = Candidate(movie=adventure, score=1.0, signals={"knn": 1.0})
    decade = evidence_reason(pick, SearchRequest(text="", era="90s", wanted_genres=("Adventure",)))
    since = evidence_reason(pick, SearchRequest(text="", era="from 1990", wanted_genres=("Adventure",)))
    assert decade.startswith(f"An Adventure pick from {adventure.year}, in the 90s you asked for")
    assert since.startswith(f"An Adventure pick from {adventure.year}, within the era you asked for")
    prefs = Preferences().update("Anything from the 70s through the 2000s works.", services.matcher, 2018)
    assert prefs.era == "70s or 2000s"


class ScriptedPicks:
    """Stands in for the LLM: returns fixed picks."""

    def __init__(self, picks):
        self.picks = picks

    def structured_predict(self, *args, **kwargs):
        return Picks(picks=self.picks)


def test_an_llm_reason_citing_a_disliked_film_is_replaced_by_the_evidence():
    nodes = [NodeWithScore(node=TextNode(id_=str(i), text=f"film {i}", metadata={
        "movie_id": i, "title": f"Film {i}", "genres": "Drama", "evidence_reason": f"Evidence for {i}.",
        DISLIKED_KEY: "Titanic|Titanic (1997)"}), score=1.0) for i in range(1, 4)]
    rerank = JustifiedRerank(llm=None, top_n=2)
    object.__setattr__(rerank, "llm", ScriptedPicks([Pick(id=2, reason="Since you loved Titanic, try this."),
                                                     Pick(id=1, reason="A quiet drama about two sisters.")]))
    outcome = rerank.rerank(nodes, "x")
    reasons = [n.node.metadata["reason"] for n in outcome.nodes]
    assert reasons == ["Evidence for 2.", "A quiet drama about two sisters."]


def test_the_panel_shows_dislikes_seen_films_and_audience(services):
    prefs = session_after(services, "I wasn't a fan of Titanic (1997) and I've seen Heat (1995)",
                          "for my daughters, ages 12 and 10").preferences
    panel = signals_markdown(prefs)
    assert "**Not for you**: Titanic (1997)" in panel and "**Already seen** (never suggested): Heat (1995)" in panel
    assert "**Watching**: children (ages 12, 10)" in panel
    assert prefs.ages == (12, 10)
