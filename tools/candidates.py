"""Fused candidate generation: what the person said, what similar viewers loved, and what many people love.

Every catalog movie that passes the hard conditions (years, required genres, avoided genres, exclusions) gets
a weighted sum of five signals, each scaled to [0, 1]:

    content     hybrid retrieval of the preference text: dense (Chroma) and BM25 fused by reciprocal rank
    knn         item-kNN: summed similarity to the films the person loved (index/collab.py)
    popularity  popularity percentile among training users, a prior that breaks ties toward known films
    genre       share of the wanted genres (stated, or implied by the mood) the movie has
    language    +1 for an originally non-English film when subtitles are welcome, -1 when they are not
    ease, als   EASE and implicit ALS from the loved films (index/collab/), scaled by their best score

Films the person disliked subtract their item-kNN similarity (DISLIKED_PENALTY), so their neighbours sink.
The weights live in tools/fusion_weights.json, written by `python -m eval.tuning.weights` from conversations built
out of training users only (never `user_id % 5 == 0`); see that file for the procedure and its numbers.
Those conversations all name two loved films; a person who names fewer gives item-kNN less to go on, so
their words count more (`FusionWeights.for_loved`).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
from llama_index.core import VectorStoreIndex
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.llms import MockLLM
from llama_index.core.retrievers import QueryFusionRetriever
from llama_index.core.retrievers.fusion_retriever import FUSION_MODES
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
from llama_index.core.vector_stores import FilterCondition, FilterOperator, MetadataFilter, MetadataFilters
from llama_index.retrievers.bm25 import BM25Retriever

from index.catalog import Catalog, Movie
from index.collab import Collaborative
from index.store import genre_key

WEIGHTS_FILE = Path(__file__).with_name("fusion_weights.json")
DEBIAS_VARIABLE = "MOVIEREC_DEBIAS"  # subtracted from the tuned popularity weight
CONTENT_DEPTH = 200
SIGNALS = ("content", "knn", "popularity", "genre", "language", "ease", "als")
DISLIKED_PENALTY = 0.5  # in units of the knn weight (1.0): half as strong as a love pulling up
TUNED_LOVED = 2  # loved films every tuning conversation names (eval/transcripts/profile.py)
FEWER_LOVED_SHIFT = {"content": 0.25, "genre": 0.25}  # added in full with no loved film (README, ReDial dev)


@dataclass(frozen=True)
class FusionWeights:
    content: float = 0.3
    knn: float = 1.0
    popularity: float = 0.3
    genre: float = 0.3
    language: float = 0.1
    ease: float = 0.0
    als: float = 0.0

    @classmethod
    def load(cls, path: Path = WEIGHTS_FILE, raw: bool = False) -> "FusionWeights":
        """The tuned weights, the popularity weight lowered by the debias knob ($MOVIEREC_DEBIAS, else the
        file's cross-validated default; `raw`: as tuned, no debias)."""
        if not path.is_file():
            return cls()
        data = json.loads(path.read_text())
        weights = cls(**data["weights"])
        debias = 0.0 if raw else float(os.environ.get(DEBIAS_VARIABLE) or data.get("debias", 0.0))
        return replace(weights, popularity=weights.popularity - debias)

    def for_loved(self, loved: int) -> "FusionWeights":
        """The weights for a conversation that names `loved` loved films: content and genre gain
        FEWER_LOVED_SHIFT in proportion to the films missing from TUNED_LOVED."""
        missing = max(TUNED_LOVED - loved, 0) / TUNED_LOVED
        return replace(self, **{s: getattr(self, s) + missing * extra for s, extra in FEWER_LOVED_SHIFT.items()})

    def as_array(self) -> np.ndarray:
        return np.array([getattr(self, s) for s in SIGNALS])


@dataclass(frozen=True)
class SearchRequest:
    text: str  # the preference summary that content retrieval embeds and keyword-matches
    seeds: tuple[int, ...] = ()  # films the person loved
    year_min: int | None = None
    year_max: int | None = None
    genres: tuple[str, ...] = ()  # hard: a movie must have at least one
    avoid_genres: tuple[str, ...] = ()  # hard: a movie must have none
    exclude: tuple[int, ...] = ()  # hard: never returned (films the person named)
    disliked: tuple[int, ...] = ()  # films the person did not like: their co-liked neighbours are pushed down
    wanted_genres: tuple[str, ...] = ()  # soft: the genre signal
    subtitles: bool | None = None
    moods: tuple[str, ...] = ()  # for reasons only
    era: str | None = None  # as the person said it, for reasons only


@dataclass
class Candidate:
    movie: Movie
    score: float
    signals: dict[str, float]
    text: str = ""  # the collection's text for this movie (raw + enrichment)
    because_of: tuple[str, ...] = field(default=())  # loved films whose fans loved this one

    def evidence(self) -> dict:
        return {"score": round(self.score, 4), **{k: round(v, 3) for k, v in self.signals.items()},
                "because_of": list(self.because_of)}


class PredicateRetriever(BaseRetriever):
    """Keeps the results of another retriever that pass a predicate: BM25 has no per-query metadata filter."""

    def __init__(self, inner: BaseRetriever, keep, **kwargs):
        self._inner, self._keep = inner, keep
        super().__init__(**kwargs)

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return [n for n in self._inner.retrieve(query_bundle) if self._keep(n.node)]


class CandidateGenerator:
    def __init__(self, catalog: Catalog, collab: Collaborative, index: VectorStoreIndex, nodes: list[TextNode],
                 weights: FusionWeights | None = None, content_depth: int = CONTENT_DEPTH, models: dict | None = None):
        self.catalog, self.collab, self.index = catalog, collab, index
        self.models = models or {}  # signal name -> fitted model with .scores(loved) over collab.movie_ids
        self.weights = weights or FusionWeights.load()
        self.content_depth = content_depth
        self.movies: list[Movie] = list(catalog)
        self.position = {m.movie_id: i for i, m in enumerate(self.movies)}
        self.texts = {int(n.metadata["movie_id"]): n.text for n in nodes}
        self.bm25 = BM25Retriever.from_defaults(nodes=nodes, similarity_top_k=min(len(nodes), 4 * content_depth))
        percentile = collab.popularity_percentile()
        self.popularity = np.array([percentile.get(m.movie_id, 0.0) for m in self.movies])
        self.years = np.array([m.year or 0 for m in self.movies])
        self.foreign = np.array([m.original_title is not None for m in self.movies])

    def allowed(self, request: SearchRequest) -> np.ndarray:
        mask = np.ones(len(self.movies), dtype=bool)
        if request.year_min is not None:
            mask &= self.years >= request.year_min
        if request.year_max is not None:
            mask &= (self.years <= request.year_max) & (self.years > 0)
        if request.genres:
            mask &= np.array([bool(set(m.genres) & set(request.genres)) for m in self.movies])
        if request.avoid_genres:
            mask &= np.array([not set(m.genres) & set(request.avoid_genres) for m in self.movies])
        for movie_id in (*request.exclude, *request.seeds, *request.disliked):
            if movie_id in self.position:
                mask[self.position[movie_id]] = False
        return mask

    def signal_matrix(self, request: SearchRequest) -> tuple[np.ndarray, np.ndarray, dict[int, list[int]]]:
        """(allowed mask, movies x signals matrix, per-movie seeds that drove item-kNN)."""
        mask = self.allowed(request)
        matrix = np.zeros((len(self.movies), len(SIGNALS)))
        matrix[:, 0] = self._content(request, mask)
        knn, because = self._knn(request.seeds)
        matrix[:, 1] = knn
        matrix[:, 2] = self.popularity
        if request.wanted_genres:
            wanted = set(request.wanted_genres)
            matrix[:, 3] = [len(wanted & set(m.genres)) / len(wanted) for m in self.movies]
        if request.subtitles is not None:
            matrix[:, 4] = np.where(self.foreign, 1.0 if request.subtitles else -1.0, 0.0)
        for name, model in self.models.items():
            matrix[:, SIGNALS.index(name)] = self._model_scores(model, request.seeds)
        return mask, matrix, because

    def generate(self, request: SearchRequest, k: int = 50, weights: FusionWeights | None = None) -> list[Candidate]:
        mask, matrix, because = self.signal_matrix(request)
        scores = matrix @ (weights or self.weights.for_loved(len(request.seeds))).as_array()
        if request.disliked:  # what fans of a disliked film love is what this person likely will not
            scores -= DISLIKED_PENALTY * self._knn(request.disliked)[0]
        scores[~mask] = -np.inf
        top = [i for i in np.argsort(-scores, kind="stable")[:k] if np.isfinite(scores[i])]
        return [Candidate(movie=self.movies[i], score=float(scores[i]),
                          signals=dict(zip(SIGNALS, matrix[i].tolist())),
                          text=self.texts.get(self.movies[i].movie_id, ""),
                          because_of=tuple(self.catalog[s].title for s in because.get(i, ())))
                for i in top]

    def _content(self, request: SearchRequest, mask: np.ndarray) -> np.ndarray:
        scores = np.zeros(len(self.movies))
        if not request.text.strip() or not mask.any():
            return scores
        allowed_ids = {self.movies[i].movie_id for i in np.flatnonzero(mask)}
        dense = self.index.as_retriever(similarity_top_k=self.content_depth, filters=_filters(request))
        keyword = PredicateRetriever(self.bm25, lambda node: int(node.metadata["movie_id"]) in allowed_ids)
        fusion = QueryFusionRetriever([dense, keyword], llm=MockLLM(), mode=FUSION_MODES.RECIPROCAL_RANK,
                                      similarity_top_k=self.content_depth, num_queries=1, use_async=False)
        results = fusion.retrieve(request.text)
        if not results:
            return scores
        best = max(r.score or 0.0 for r in results) or 1.0
        for result in results:
            position = self.position.get(int(result.node.metadata["movie_id"]))
            if position is not None and mask[position]:
                scores[position] = (result.score or 0.0) / best
        return scores

    def _model_scores(self, model, seeds: tuple[int, ...]) -> np.ndarray:
        column = np.zeros(len(self.movies))
        if not seeds:
            return column
        for movie_id, value in zip(self.collab.movie_ids, model.scores(seeds)):
            if int(movie_id) in self.position:
                column[self.position[int(movie_id)]] = value
        peak = column.max()
        return column / peak if peak > 0 else column

    def _knn(self, seeds: tuple[int, ...]) -> tuple[np.ndarray, dict[int, list[int]]]:
        total = np.zeros(len(self.movies))
        per_seed = {}
        for seed in seeds:
            column = np.zeros(len(self.movies))
            for movie_id, sim in self.collab.similarity_to([seed]).items():
                if movie_id in self.position:
                    column[self.position[movie_id]] = sim
            per_seed[seed] = column
            total += column
        because: dict[int, list[int]] = {}
        if per_seed:
            stacked = np.stack(list(per_seed.values()))
            strong = stacked >= 0.5 * stacked.max(axis=0, keepdims=True)
            for i in np.flatnonzero(total > 0):
                because[i] = [s for s, keep in zip(per_seed, strong[:, i]) if keep]
        peak = total.max()
        return (total / peak if peak > 0 else total), because


def _filters(request: SearchRequest) -> MetadataFilters | None:
    """The hard conditions as LlamaIndex metadata filters (Chroma applies them before ranking)."""
    filters: list = []
    if request.year_min is not None:
        filters.append(MetadataFilter(key="year", value=request.year_min, operator=FilterOperator.GTE))
    if request.year_max is not None:
        filters.append(MetadataFilter(key="year", value=request.year_max, operator=FilterOperator.LTE))
    if request.genres:
        filters.append(MetadataFilters(filters=[MetadataFilter(key=genre_key(g), value=1) for g in request.genres],
                                       condition=FilterCondition.OR))
    for genre in request.avoid_genres:
        filters.append(MetadataFilter(key=genre_key(genre), value=1, operator=FilterOperator.NE))
    excluded = [*request.exclude, *request.seeds, *request.disliked]
    if excluded:
        filters.append(MetadataFilter(key="movie_id", value=list(excluded), operator=FilterOperator.NIN))
    return MetadataFilters(filters=filters) if filters else None


def weights_record(weights: FusionWeights, **details) -> str:
    """The JSON written to tools/fusion_weights.json by the tuning script."""
    return json.dumps({"weights": asdict(weights), **details}, indent=2) + "\n"
