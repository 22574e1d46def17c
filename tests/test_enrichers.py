"""Grounded enrichers and the enriched collection: co-liked lists from training users only, tags, the facts the
grounded prompt carries, which enrichers are available, and a collection rebuilt exactly when its inputs change."""

import pytest

from index.catalog import load_catalog
from index.enrich.cache import INVALID, OK, EnrichedCache, EnrichedRow
from index.enrich.collection import build_enriched
from index.enrich.enrichers import (CoLikedEnricher, EnricherChoiceError, EnrichmentSources, TagsEnricher,
                                    chosen_names, enrichers_behind, open_enrichment)
from index.enrich.prompts import CRITIC, GROUNDED, FactSource
from index.store import ENRICHED, baseline_text, collection_metadata, stored_nodes
from index.workspace import Workspace
from tools.rerank import _description
from ui.cli import main

MOVIES = [(1, "Heat (1995)", "Action|Crime|Thriller"), (2, "Casino (1995)", "Crime|Drama"),
          (3, "Ronin (1998)", "Action|Thriller"), (4, "Clueless (1995)", "Comedy|Romance"),
          (5, "Crouching Tiger, Hidden Dragon (Wo hu cang long) (2000)", "Action|Drama|Romance")]


def ratings_where(linkers):
    """Users 1-4 (training) like 1 with 3, and 2 with 4; the `linkers` like both 1 and 2, nothing else does."""
    rows = [(1, 1, 5.0), (1, 3, 4.5), (2, 1, 4.0), (2, 3, 5.0), (3, 2, 5.0), (3, 4, 4.0), (4, 2, 4.5), (4, 4, 4.0),
            (6, 5, 4.0), (7, 5, 5.0)]
    return rows + [(user, movie, 5.0) for user in linkers for movie in (1, 2)]


def co_liked_text(folder, movie_id):
    catalog = load_catalog(str(folder))
    return CoLikedEnricher(FactSource(catalog)).text(catalog[movie_id])


def test_co_liked_lists_ignore_evaluation_users(movielens_folder):
    evaluation = movielens_folder(MOVIES, ratings_where(linkers=(5, 10, 15)))  # user_id % 5 == 0
    assert co_liked_text(evaluation, 1) == "Fans also loved: Ronin (1998)."
    assert co_liked_text(evaluation, 2) == "Fans also loved: Clueless (1995)."


def test_the_same_link_from_training_users_does_show(movielens_folder):
    training = movielens_folder(MOVIES, ratings_where(linkers=(11, 12, 13)))
    assert "Casino (1995)" in co_liked_text(training, 1)
    assert "Heat (1995)" in co_liked_text(training, 2)


def test_tags_enricher_needs_a_source_with_tags(movielens_folder):
    tagged = load_catalog(str(movielens_folder(MOVIES, ratings_where(()), tags=[(1, 1, "heist"), (2, 1, "Heist"),
                                                                               (3, 1, "al pacino")])))
    enricher = TagsEnricher.open(EnrichmentSources(tagged, EnrichedCache("/nonexistent")))
    assert enricher.text(tagged[1]) == "Viewers tag it: heist, al pacino."
    assert enricher.text(tagged[2]) is None
    untagged = load_catalog(str(movielens_folder(MOVIES, ratings_where(()))))
    enrichment = open_enrichment(EnrichmentSources(untagged, EnrichedCache("/nonexistent")))
    assert "tags" not in enrichment.names and "no tags.csv" in enrichment.skipped["tags"]


def test_the_grounded_prompt_carries_the_catalog_facts_and_forbids_invention(movielens_folder):
    catalog = load_catalog(str(movielens_folder(MOVIES, ratings_where(()) + [(8, 5, 4.5), (8, 3, 4.0), (9, 5, 4.0), (9, 3, 4.5)],
                                                tags=[(1, 5, "wuxia"), (2, 5, "Wuxia"), (3, 5, "beautiful")])))
    movie = catalog[5]
    facts = FactSource(catalog)
    grounded = "\n".join(m.content for m in GROUNDED.messages(movie, facts))
    for fact in ("Title: Crouching Tiger, Hidden Dragon", "Original title: Wo hu cang long", "Year: 2000",
                 "Genres: Action, Drama, Romance", "Viewers tag it: wuxia, beautiful",
                 f"Average viewer rating: {movie.mean_rating:.1f} out of 5 ({movie.n_ratings} ratings)",
                 "People who loved it also loved: Ronin (1998)", "Do not invent plot details"):
        assert fact in grounded
    critic = "\n".join(m.content for m in CRITIC.messages(movie, facts))
    assert "Title: Crouching Tiger, Hidden Dragon\nYear: 2000\nGenres: Action, Drama, Romance" in critic
    assert "wuxia" not in critic and "Ronin" not in critic and "rating" not in critic


def test_enricher_names_from_the_option_or_the_environment(monkeypatch):
    monkeypatch.delenv("MOVIEREC_ENRICHERS", raising=False)
    assert chosen_names(None) is None
    assert chosen_names("co-liked, critic") == ["critic", "co-liked"]  # canonical order, whatever was typed
    monkeypatch.setenv("MOVIEREC_ENRICHERS", "tags")
    assert chosen_names(None) == ["tags"] and chosen_names("grounded") == ["grounded"]
    with pytest.raises(EnricherChoiceError, match="unknown enricher 'plot'; choose from critic, grounded"):
        chosen_names("plot,tags")


# --- the enriched collection ---

def row(movie_id, text, status=OK, model="gpt-4o-mini", prompt=CRITIC.version):
    return EnrichedRow(movie_id=movie_id, model=model, prompt=prompt, status=status, text=text, tokens_in=60,
                       tokens_out=80, tokens_from="usage", seconds=0.5, attempts=1, at="2026-01-01T00:00:00+00:00")


@pytest.fixture
def small_ws(tmp_path, minilm, monkeypatch):
    monkeypatch.delenv("MOVIEREC_ENRICHERS", raising=False)
    return Workspace.open(tmp_path / "data", llm_choice="none", limit=30)


def build(ws, names=None):
    result, enrichment = build_enriched(ws, names, show_progress=False)
    return result.reused, enrichment.names


def test_the_enriched_collection_is_rebuilt_exactly_when_its_inputs_change(small_ws):
    ws = small_ws
    assert build(ws) == (False, ["co-liked"])
    assert build(ws) == (True, ["co-liked"])
    assert enrichers_behind(collection_metadata(ws.client, ENRICHED)) == ["co-liked"]

    movies = list(ws.catalog)
    description = "A tense, beautifully shot crime saga about obsession on both sides of the law. " * 4
    with EnrichedCache(ws.enriched_path).writer() as writer:
        writer.append(row(movies[0].movie_id, description.strip()))
    assert build(ws) == (False, ["critic", "co-liked"])
    assert enrichers_behind(collection_metadata(ws.client, ENRICHED)) == ["critic", "co-liked"]
    assert "critic (gpt-4o-mini, critic-v1)" in collection_metadata(ws.client, ENRICHED)["enrichment"]
    text = {n.metadata["movie_id"]: n.get_content() for n in stored_nodes(ws.client, ENRICHED)}[movies[0].movie_id]
    assert text.startswith(baseline_text(movies[0]) + "\n" + description.strip() + " Fans also loved: ")
    assert _description(text) == " ".join(description.split())  # the rerank's line: without the co-liked part

    with EnrichedCache(ws.enriched_path).writer() as writer:  # failed rows are never embedded
        writer.append(row(movies[1].movie_id, "Too short.", status=INVALID))
    assert build(ws) == (True, ["critic", "co-liked"])
    assert build(ws, ["co-liked"]) == (False, ["co-liked"])


def test_an_enricher_asked_for_by_name_must_be_available(small_ws):
    assert enrichers_behind(collection_metadata(small_ws.client, ENRICHED)) == []  # nothing built yet
    with pytest.raises(EnricherChoiceError, match="enricher 'critic' is not available: .*no critic-v1 rows"):
        build_enriched(small_ws, ["critic"], show_progress=False)


def test_rows_of_the_backend_model_win_else_the_model_with_most_rows(tmp_path):
    catalog = load_catalog("bundled", limit=10)
    cache = EnrichedCache(tmp_path / "enriched.jsonl")
    ids = list(catalog.movies)
    with cache.writer() as writer:
        for i in ids[:3]:
            writer.append(row(i, f"Local {i}.", model="qwen"))
        writer.append(row(ids[0], "Remote.", model="gpt-4o-mini"))
    by_most = open_enrichment(EnrichmentSources(catalog, cache), ["critic"]).enrichers[0]
    by_backend = open_enrichment(EnrichmentSources(catalog, cache, llm_model="gpt-4o-mini"), ["critic"]).enrichers[0]
    assert (by_most.model, by_backend.model) == ("qwen", "gpt-4o-mini")
    assert by_backend.text(catalog[ids[0]]) == "Remote." and by_backend.text(catalog[ids[1]]) is None


# --- the command line ---

def test_enrich_without_an_llm_says_so_and_builds_from_the_grounded_enrichers(tmp_path, capsys, minilm, monkeypatch):
    monkeypatch.delenv("MOVIEREC_ENRICHERS", raising=False)
    data = tmp_path / "d"
    assert main(["--llm", "none", "--data-dir", str(data), "index", "--limit", "25"]) == 0
    out = capsys.readouterr().out
    assert "collection 'baseline': 25 movies, built" in out and "collection 'enriched': 25 movies, built" in out
    assert "enrichers: co-liked: " in out and "not used: critic: " in out
    assert main(["--llm", "none", "--data-dir", str(data), "enrich"]) == 0
    out = capsys.readouterr().out
    assert "no LLM pass (--llm none)" in out and "collection 'enriched': 25 movies, reused" in out
    assert not (data / "enriched.jsonl").exists()


@pytest.mark.parametrize("option, words", [("tags", "enricher 'tags' is not available"),
                                           ("bogus", "unknown enricher 'bogus'")])
def test_a_bad_enricher_choice_is_one_line_and_exit_2(tmp_path, capsys, option, words):
    assert main(["--llm", "none", "--data-dir", str(tmp_path / "d"), "enrich", "--enrichers", option]) == 2
    err = capsys.readouterr().err
    assert err.startswith("movierec: ") and words in err and err.count("\n") == 1
