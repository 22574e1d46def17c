"""Chroma collections through LlamaIndex: build, reopen, filtered queries, fingerprint reuse, a Chroma server."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import chromadb
import pytest
from chromadb.api.client import SharedSystemClient
from chromadb.api.models.Collection import Collection
from llama_index.core.vector_stores import FilterCondition, MetadataFilter, MetadataFilters

from processes import stop

from index.catalog import load_catalog
from index.store import (BASELINE, PREVIOUS, STAGING, StoreError, baseline_text, build_collection, chroma_client,
                         genre_key, movie_nodes, open_index, stored_nodes)

EMBEDDER = "all-MiniLM-L6-v2 (test)"


@pytest.fixture(scope="module")
def catalog():
    return load_catalog("bundled", limit=150)


@pytest.fixture(scope="module")
def nodes(catalog):
    return movie_nodes(catalog, {m.movie_id: baseline_text(m) for m in catalog})


class Loader:
    """`load_embed_model` for build_collection that counts how often the model was needed."""

    def __init__(self, model):
        self.model, self.calls = model, 0

    def __call__(self):
        self.calls += 1
        return self.model


def build(client, nodes, model, embedder=EMBEDDER):
    loader = Loader(model)
    result = build_collection(client, BASELINE, nodes, embedder, loader, show_progress=False)
    return result, loader.calls


def reopened(data_dir: Path):
    """A client that reads the store from disk again, as a new process would."""
    SharedSystemClient.clear_system_cache()
    return chroma_client(data_dir)


@pytest.fixture(scope="module")
def built(tmp_path_factory, nodes, minilm):
    data_dir = tmp_path_factory.mktemp("store")
    result, loads = build(chroma_client(data_dir), nodes, minilm)
    assert (result.reused, result.count, loads) == (False, len(nodes), 1)
    return data_dir


def test_the_local_client_is_persistent_with_telemetry_off(built):
    client = chroma_client(built)
    assert client.get_settings().anonymized_telemetry is False
    assert (built / "chroma").is_dir()


def test_a_reopened_store_holds_every_movie_with_its_text_and_metadata(built, catalog):
    stored = {node.metadata["movie_id"]: node for node in stored_nodes(reopened(built), BASELINE)}
    assert set(stored) == set(catalog.movies)
    heat = next(m for m in catalog if m.title == "Heat (1995)")
    node = stored[heat.movie_id]
    assert node.get_content() == "Heat (1995) | Action, Crime, Thriller"
    assert node.metadata["year"] == 1995 and node.metadata["genres"] == "Action|Crime|Thriller"
    assert node.metadata[genre_key("Crime")] == 1 and genre_key("Comedy") not in node.metadata


def test_stored_nodes_and_filters_read_large_collections_in_pages(built, catalog, minilm, monkeypatch):
    import index.store as store

    monkeypatch.setattr(store, "_PAGE", 7)  # 150 movies in 22 pages; Chroma fails one `get` of ~32k+ rows
    assert sorted(n.metadata["movie_id"] for n in stored_nodes(reopened(built), BASELINE)) == sorted(catalog.movies)
    before_1980 = MetadataFilters(filters=[MetadataFilter(key="year", operator="<", value=1980)])
    retriever = open_index(reopened(built), BASELINE, minilm).as_retriever(similarity_top_k=len(catalog),
                                                                             filters=before_1980)
    assert {n.node.metadata["movie_id"] for n in retriever.retrieve("a film")} == \
        {m.movie_id for m in catalog if m.year and m.year < 1980}


def test_a_reopened_index_finds_a_movie_by_its_own_text(built, catalog, minilm):
    heat = next(m for m in catalog if m.title == "Heat (1995)")
    found = open_index(reopened(built), BASELINE, minilm).as_retriever(similarity_top_k=5).retrieve(baseline_text(heat))
    assert found[0].node.metadata["movie_id"] == heat.movie_id
    assert [n.score for n in found] == sorted((n.score for n in found), reverse=True)


def test_a_filtered_query_returns_exactly_the_matching_movies(built, catalog, minilm):
    nineties = [m for m in catalog if m.year and 1990 <= m.year <= 1999]
    excluded = [m.movie_id for m in nineties if "Comedy" in m.genres][:3]
    filters = MetadataFilters(filters=[
        MetadataFilter(key="year", operator=">=", value=1990),
        MetadataFilter(key="year", operator="<=", value=1999),
        MetadataFilters(filters=[MetadataFilter(key=genre_key("Comedy"), value=1),
                                 MetadataFilter(key=genre_key("Crime"), value=1)], condition=FilterCondition.OR),
        MetadataFilter(key="movie_id", operator="nin", value=excluded),
    ])
    retriever = open_index(reopened(built), BASELINE, minilm).as_retriever(similarity_top_k=len(catalog),
                                                                             filters=filters)
    found = {n.node.metadata["movie_id"] for n in retriever.retrieve("a funny crime caper")}
    wanted = {m.movie_id for m in nineties if {"Comedy", "Crime"} & set(m.genres)} - set(excluded)
    assert len(excluded) == 3 and len(wanted) >= 10
    assert found == wanted


F, FS = MetadataFilter, MetadataFilters
SAME_AS_CHROMA = {
    "year range": FS(filters=[F(key="year", operator=">=", value=1990), F(key="year", operator="<", value=1996)]),
    "year equal": FS(filters=[F(key="year", value=1994)]),
    "genre flag": FS(filters=[F(key=genre_key("Animation"), value=1)]),
    "genre avoided (a missing key passes !=)": FS(filters=[F(key=genre_key("Drama"), operator="!=", value=1)]),
    "genre or": FS(filters=[F(key=genre_key("Horror"), value=1), F(key=genre_key("Western"), value=1)],
                   condition=FilterCondition.OR),
    "ids in": FS(filters=[F(key="movie_id", operator="in", value=[1, 2, 3, 32, 47, 50, 999999])]),
    "ids not in": FS(filters=[F(key="movie_id", operator="nin", value=[1, 2, 3, 32, 47])]),
    "string equal": FS(filters=[F(key="genres", value="Comedy|Drama|Romance")]),
    "string not in (a missing key passes nin)": FS(filters=[F(key="genres", operator="nin", value=["Drama"])]),
    "nested": FS(filters=[FS(filters=[F(key="year", operator="<=", value=1980),
                                      F(key="n_ratings", operator=">", value=150)], condition=FilterCondition.OR),
                          F(key=genre_key("Comedy"), operator="!=", value=1)]),
    "unknown key": FS(filters=[F(key="director", value="Michael Mann")]),
    "nothing matches": FS(filters=[F(key="year", operator=">", value=2100)]),
}


@pytest.mark.parametrize("name", SAME_AS_CHROMA)
def test_filters_applied_in_memory_select_what_chromas_where_selects(built, catalog, minilm, name, monkeypatch):
    from llama_index.core.vector_stores import VectorStoreQuery
    from llama_index.vector_stores.chroma import ChromaVectorStore

    collection = reopened(built).get_collection(BASELINE)
    query = VectorStoreQuery(query_embedding=minilm.get_query_embedding("a film"), similarity_top_k=len(catalog),
                             filters=SAME_AS_CHROMA[name])
    expected = ChromaVectorStore(chroma_collection=collection).query(query)
    calls = []
    original = Collection.query
    monkeypatch.setattr(Collection, "query", lambda self, **kw: calls.append(kw) or original(self, **kw))
    found = open_index(reopened(built), BASELINE, minilm).vector_store.query(query)
    assert found.ids == expected.ids  # the same movies in the same order
    assert all("where" not in call for call in calls)


def test_an_unbuilt_collection_names_the_command_to_run(tmp_path, minilm):
    with pytest.raises(StoreError, match="run `movierec index`"):
        open_index(chroma_client(tmp_path), BASELINE, minilm)
    with pytest.raises(StoreError):
        stored_nodes(chroma_client(tmp_path), BASELINE)


# --- the fingerprint decides whether to rebuild ---

def test_an_unchanged_build_is_reused_without_loading_the_embedder(built, nodes, minilm):
    result, loads = build(reopened(built), nodes, minilm)
    assert (result.reused, result.count, loads) == (True, len(nodes), 0)


def test_a_changed_text_or_embedder_rebuilds(tmp_path, nodes, minilm):
    client = chroma_client(tmp_path)
    build(client, nodes[:40], minilm)
    changed = [node.model_copy() for node in nodes[:40]]
    changed[7].set_content(changed[7].get_content() + " | with a description")
    result, loads = build(client, changed, minilm)
    assert (result.reused, loads) == (False, 1)
    assert {n.get_content() for n in stored_nodes(client, BASELINE)} == {n.get_content() for n in changed}
    assert build(client, changed, minilm)[0].reused
    assert not build(client, changed, minilm, embedder="another embedder")[0].reused
    assert not build(client, changed[:39], minilm, embedder="another embedder")[0].reused  # one movie fewer


class Interrupted(BaseException):
    """Stands in for Ctrl-C; a BaseException so nothing on the way swallows it."""


def test_a_build_interrupted_while_embedding_is_rebuilt(tmp_path, nodes, minilm, monkeypatch):
    client = chroma_client(tmp_path)
    with monkeypatch.context() as patch:
        patch.setattr(type(minilm), "get_text_embedding_batch",
                      lambda *args, **kwargs: (_ for _ in ()).throw(Interrupted()))
        with pytest.raises(Interrupted):
            build(client, nodes[:30], minilm)
    assert client.get_collection(BASELINE + STAGING).metadata["state"] == "building"
    with pytest.raises(StoreError, match="not built yet"):
        open_index(client, BASELINE, minilm)
    result, loads = build(client, nodes[:30], minilm)
    assert (result.reused, result.count, loads) == (False, 30, 1)
    assert open_index(client, BASELINE, minilm) is not None
    assert names(client) == {BASELINE}  # the interrupted build's leftovers are gone


def test_a_build_interrupted_after_inserting_every_node_is_rebuilt(tmp_path, nodes, minilm, monkeypatch):
    client = chroma_client(tmp_path)
    with monkeypatch.context() as patch:
        def interrupt(self, *args, **kwargs):
            raise Interrupted()
        patch.setattr(Collection, "modify", interrupt)
        with pytest.raises(Interrupted):
            build(client, nodes[:30], minilm)
    collection = client.get_collection(BASELINE + STAGING)
    assert collection.count() == 30 and collection.metadata["state"] == "building"
    assert names(client) == {BASELINE + STAGING}
    result, loads = build(client, nodes[:30], minilm)
    assert (result.reused, loads) == (False, 1)
    assert client.get_collection(BASELINE).metadata["state"] == "done"


def test_an_interrupted_rebuild_leaves_the_previous_collection_to_readers(tmp_path, nodes, minilm, monkeypatch):
    client = chroma_client(tmp_path)
    build(client, nodes[:20], minilm)
    with monkeypatch.context() as patch:
        patch.setattr(type(minilm), "get_text_embedding_batch",
                      lambda *args, **kwargs: (_ for _ in ()).throw(Interrupted()))
        with pytest.raises(Interrupted):
            build(client, nodes[:25], minilm)
    assert len(stored_nodes(client, BASELINE)) == 20  # the complete old build, not the half-built one
    assert open_index(client, BASELINE, minilm).vector_store.client.count() == 20


def test_a_reader_keeps_the_collection_it_opened_while_a_rebuild_replaces_it(tmp_path, nodes, minilm):
    client = chroma_client(tmp_path)
    build(client, nodes[:20], minilm)
    index = open_index(client, BASELINE, minilm)
    build(client, nodes[:25], minilm)  # the rebuild renames, never deletes, the collection the reader holds
    retriever = index.as_retriever(similarity_top_k=3)
    assert [n.node.node_id for n in retriever.retrieve(nodes[3].get_content())][0] == nodes[3].node_id
    assert len(stored_nodes(client, BASELINE)) == 25  # whoever opens now gets the new build
    assert names(client) == {BASELINE, BASELINE + PREVIOUS}
    build(client, nodes[:30], minilm)
    assert names(client) == {BASELINE, BASELINE + PREVIOUS}  # only one previous build is kept


def test_between_the_two_renames_a_reader_finds_the_previous_build(tmp_path, nodes, minilm):
    client = chroma_client(tmp_path)
    build(client, nodes[:20], minilm)
    client.get_collection(BASELINE).modify(name=BASELINE + PREVIOUS)  # the instant a swap is half done
    assert len(stored_nodes(client, BASELINE)) == 20
    assert open_index(client, BASELINE, minilm) is not None


def names(client) -> set[str]:
    return {c.name for c in client.list_collections()}


# --- a Chroma server ---

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_bad_chroma_host_is_a_store_error(tmp_path):
    with pytest.raises(StoreError, match="HOST:PORT"):
        chroma_client(tmp_path, host="localhost")
    started = time.perf_counter()
    with pytest.raises(StoreError, match="cannot reach the Chroma server"):
        chroma_client(tmp_path, host=f"127.0.0.1:{free_port()}")
    assert time.perf_counter() - started < 10


@pytest.fixture
def chroma_server(tmp_path):
    """`chroma run` on a free 127.0.0.1 port with a temp path; yields "HOST:PORT", stops the server after."""
    chroma = Path(sys.executable).with_name("chroma")
    port = free_port()
    server = subprocess.Popen([str(chroma), "run", "--host", "127.0.0.1", "--port", str(port),
                               "--path", str(tmp_path / "server")], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, env={**os.environ, "ANONYMIZED_TELEMETRY": "False"})
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                chromadb.HttpClient(host="127.0.0.1", port=port).heartbeat()
                break
            except Exception:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"chroma run did not come up on port {port}")
                time.sleep(0.2)
        yield f"127.0.0.1:{port}"
    finally:
        stop(server, timeout=10)


@pytest.mark.server
def test_a_collection_built_on_a_chroma_server_is_queried_there(tmp_path, chroma_server, nodes, catalog, minilm):
    client = chroma_client(tmp_path, host=chroma_server)
    result, loads = build(client, nodes[:60], minilm)
    assert (result.reused, result.count, loads) == (False, 60, 1)
    assert not (tmp_path / "chroma").exists()  # nothing went to the local store
    again = chroma_client(tmp_path, host=chroma_server)
    assert build(again, nodes[:60], minilm)[0].reused
    target = catalog[int(nodes[10].id_)]
    retriever = open_index(again, BASELINE, minilm).as_retriever(
        similarity_top_k=5, filters=MetadataFilters(filters=[MetadataFilter(key="year", value=target.year)]))
    found = retriever.retrieve(baseline_text(target))
    assert found[0].node.metadata["movie_id"] == target.movie_id
    assert all(n.node.metadata["year"] == target.year for n in found)
