"""The hand-rolled retrieval agrees with the LlamaIndex path on the same store (bundled catalog, 300 movies):
same texts and metadata, same dense top 10 under the same filters, same fused candidates without BM25."""

import numpy as np
import pytest

from handrolled import ingest
from handrolled.retrieve import SIGNALS as HANDROLLED_SIGNALS, Request, Retriever, dense_ids, request_from, where_filter
from index.build import build_baseline
from index.enrich.collection import build_enriched
from index.store import BASELINE, ENRICHED, baseline_text, movie_metadata
from index.workspace import Workspace
from tools.candidates import SIGNALS, FusionWeights, SearchRequest, _filters
from tools.preferences import Preferences
from tools.search import request_from as llamaindex_request
from tools.services import MovieServices

TURNS = ["I want something tense tonight", "I loved Heat and Pulp Fiction", "90s is perfect", "subtitles are fine"]
CASES = [
    dict(text="a tense heist thriller"),
    dict(text="feel-good animated film for kids", year_min=1990, year_max=1999, genres=("Animation", "Children")),
    dict(text="dark crime saga about a family", avoid_genres=("Comedy",), exclude=(858, 1221)),
    dict(text="space opera with big battles", year_min=1977, genres=("Sci-Fi",), seeds=(260,)),
]


@pytest.fixture(scope="module")
def store(tmp_path_factory, minilm):
    ws = Workspace.open(tmp_path_factory.mktemp("agree"), llm_choice="none", limit=300)
    build_baseline(ws, show_progress=False)
    client = ingest.chroma_client(ws.root)  # a second client on the same path shares Chroma's system
    texts = {m.movie_id: ingest.baseline_text(m) for m in ws.catalog}
    ingest.build(client, ingest.COLLECTIONS["baseline"], ws.catalog, texts)
    return ws, client


def llamaindex_dense(ws, case, k=10):
    retriever = ws.index(BASELINE).as_retriever(similarity_top_k=k, filters=_filters(SearchRequest(**case)))
    return [int(n.node.metadata["movie_id"]) for n in retriever.retrieve(case["text"])]


def test_same_texts_and_filter_metadata(store):
    ws, client = store
    ours = client.get_collection(ingest.COLLECTIONS["baseline"]).get(include=["documents", "metadatas"])
    assert len(ours["ids"]) == len(ws.catalog)
    for movie_id, text, meta in zip(ours["ids"], ours["documents"], ours["metadatas"]):
        movie = ws.catalog[int(movie_id)]
        assert text == baseline_text(movie)
        assert meta == movie_metadata(movie)


@pytest.mark.parametrize("case", CASES, ids=[c["text"] for c in CASES])
def test_dense_top10_is_identical_on_the_llamaindex_collection(store, case):
    ws, client = store
    ours = dense_ids(client.get_collection(BASELINE), case["text"], 10, where_filter(Request(**case)))
    assert ours == llamaindex_dense(ws, case)
    assert len(ours) == 10


@pytest.mark.parametrize("case", CASES, ids=[c["text"] for c in CASES])
def test_dense_top10_agrees_on_our_own_collection(store, case):
    ws, client = store
    ours = dense_ids(client.get_collection(ingest.COLLECTIONS["baseline"]), case["text"], 10,
                     where_filter(Request(**case)))
    theirs = llamaindex_dense(ws, case)
    assert len(set(ours) & set(theirs)) >= 9
    for movie_id in ours:  # the filters held
        movie = ws.catalog[movie_id]
        assert movie_id not in (*case.get("exclude", ()), *case.get("seeds", ()))
        assert not set(movie.genres) & set(case.get("avoid_genres", ()))
        assert not case.get("genres") or set(movie.genres) & set(case["genres"])
        assert movie.year >= case.get("year_min", 0)


def test_fused_candidates_match_and_differ_only_by_keyword_search(store):
    ws, client = store
    services = MovieServices.from_workspace(ws, use_llm=False)
    generator = services.generator(BASELINE)
    prefs = Preferences()
    for turn in TURNS:
        prefs = prefs.update(turn, services.matcher, services.latest_year)
    theirs, ours = llamaindex_request(prefs, services.latest_year), request_from(prefs)
    assert (ours.text, ours.seeds, ours.exclude, ours.wanted_genres) == \
        (theirs.text, theirs.seeds, theirs.exclude, theirs.wanted_genres)
    retriever = Retriever(ws.catalog, client.get_collection(ingest.COLLECTIONS["baseline"]), services.collab)

    def both(weights):
        retriever.weights = np.array([getattr(weights, s) for s in HANDROLLED_SIGNALS])  # no EASE/ALS there
        return ([c.movie.movie_id for c in generator.generate(theirs, 50, weights=weights)],
                [c.movie.movie_id for c in retriever.search(ours, 50)])

    without_content = FusionWeights(content=0.0, knn=1.0, popularity=0.3, genre=0.3, language=0.1)
    llamaindex, handrolled = both(without_content)
    assert llamaindex == handrolled and len(handrolled) == 50
    llamaindex, handrolled = both(generator.weights)
    assert len(set(llamaindex) & set(handrolled)) >= 45  # the BM25s differ (stemming), nothing else
    assert np.isclose(retriever.weights, [getattr(generator.weights, s) for s in HANDROLLED_SIGNALS]).all()
    assert all(getattr(generator.weights, s) == 0 for s in set(SIGNALS) - set(HANDROLLED_SIGNALS))


def test_the_enriched_recipe_embeds_the_llamaindex_enriched_texts(store):
    ws, client = store
    assert not ingest.enrichment_ready(client)  # only baseline so far: the auto recipe stays on baseline
    with pytest.raises(ingest.IngestError, match="movierec index"):
        ingest.enriched_texts(client)
    build_enriched(ws, show_progress=False)  # no LLM here: raw text plus co-liked lists
    assert ingest.enrichment_ready(client)
    texts = ingest.enriched_texts(client)
    assert texts.keys() == {m.movie_id for m in ws.catalog}
    assert ingest.stored_texts(client.get_collection(ENRICHED), page=7) == texts  # read in pages, none lost
    assert sum("Fans also loved:" in t for t in texts.values()) > len(texts) // 2
    report = ingest.build(client, ingest.COLLECTIONS["enriched"], ws.catalog, texts)
    ours = client.get_collection(ingest.COLLECTIONS["enriched"]).get(include=["documents"])
    theirs = client.get_collection(ENRICHED).get(include=["documents"])
    assert report.count == len(ws.catalog)
    assert dict(zip(ours["ids"], ours["documents"])) == dict(zip(theirs["ids"], theirs["documents"]))
