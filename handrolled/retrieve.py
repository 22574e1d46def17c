"""Fused retrieval by hand: the same five signals as tools/candidates.py, without LlamaIndex.

Every catalog movie that passes the hard conditions (years, required and avoided genres, exclusions) gets
a weighted sum of signals scaled to [0, 1]: content (dense Chroma query with a `where` filter and BM25,
fused by reciprocal rank, k = 60), item-kNN from the loved films (index/collab/, shared), popularity
percentile, share of wanted genres, and +-1 for a non-English original when subtitles are welcome or not.
The weights are read from tools/fusion_weights.json, so both paths rank with the same numbers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from handrolled.ingest import embed, genre_key, stored_texts
from handrolled.keyword import BM25
from index.catalog import Catalog, Movie
from index.collab import Collaborative
from index.errors import UserError
from tools.preferences import MOODS, Preferences

WEIGHTS_FILE = Path(__file__).resolve().parents[1] / "tools" / "fusion_weights.json"
SIGNALS = ("content", "knn", "popularity", "genre", "language")
DEFAULT_WEIGHTS = {"content": 0.3, "knn": 1.0, "popularity": 0.3, "genre": 0.3, "language": 0.1}
CONTENT_DEPTH = 200
KEYWORD_DEPTH = 800
RRF_K = 60.0


def fusion_weights(path: Path = WEIGHTS_FILE) -> dict[str, float]:
    if not path.is_file():
        return dict(DEFAULT_WEIGHTS)
    weights = json.loads(path.read_text()).get("weights", {})
    if not all(isinstance(weights.get(s), (int, float)) for s in SIGNALS):
        raise UserError(f"{path} needs a number for each of {', '.join(SIGNALS)} under 'weights'")
    return {s: float(weights[s]) for s in SIGNALS}


@dataclass(frozen=True)
class Request:
    text: str
    seeds: tuple[int, ...] = ()  # loved films
    year_min: int | None = None
    year_max: int | None = None
    genres: tuple[str, ...] = ()  # hard: at least one
    avoid_genres: tuple[str, ...] = ()  # hard: none
    exclude: tuple[int, ...] = ()  # hard: never returned
    wanted_genres: tuple[str, ...] = ()  # soft
    subtitles: bool | None = None
    moods: tuple[str, ...] = ()
    era: str | None = None


def request_from(prefs: Preferences, exclude: tuple[int, ...] = ()) -> Request:
    mood_genres = tuple(g for mood in prefs.moods for g in MOODS[mood][1])
    return Request(text=query_text(prefs), seeds=tuple(m.movie_id for m in prefs.loved),
                   year_min=prefs.year_min, year_max=prefs.year_max, genres=prefs.genres,
                   avoid_genres=prefs.avoid_genres, exclude=tuple(dict.fromkeys((*prefs.named_ids, *exclude))),
                   wanted_genres=tuple(dict.fromkeys((*prefs.genres, *mood_genres))), subtitles=prefs.subtitles,
                   moods=prefs.moods, era=prefs.era)


def query_text(prefs: Preferences) -> str:
    """As the agent's path words it: summary, themes, the person's own descriptive sentences."""
    parts = [", ".join(prefs.moods), " ".join(prefs.genres), prefs.era or "", ", ".join(prefs.keywords)]
    if prefs.audience in ("kids", "family"):
        parts.append("a family film children enjoy")
    if prefs.loved:
        parts.append("like " + ", ".join(m.title for m in prefs.loved))
    notes = [note for note in prefs.notes if len(note.split()) >= 3][-4:]
    return ". ".join(p for p in [*parts, *notes] if p)


def where_filter(request: Request) -> dict | None:
    """The hard conditions in Chroma's `where` syntax, applied before the nearest-neighbour ranking."""
    clauses: list[dict] = []
    if request.year_min is not None:
        clauses.append({"year": {"$gte": request.year_min}})
    if request.year_max is not None:
        clauses.append({"year": {"$lte": request.year_max}})
    wanted = [{genre_key(g): 1} for g in request.genres]
    if wanted:
        clauses.append(wanted[0] if len(wanted) == 1 else {"$or": wanted})
    clauses += [{genre_key(g): {"$ne": 1}} for g in request.avoid_genres]
    excluded = [*request.exclude, *request.seeds]
    if excluded:
        clauses.append({"movie_id": {"$nin": excluded}})
    return None if not clauses else clauses[0] if len(clauses) == 1 else {"$and": clauses}


def dense_ids(collection, text: str, k: int, where: dict | None = None) -> list[int]:
    """Movie ids nearest to `text`, best first."""
    found = collection.query(query_embeddings=embed([text]), n_results=k, where=where, include=["distances"])
    return [int(i) for i in found["ids"][0]]


def reciprocal_rank(*rankings: list[int], k: float = RRF_K) -> dict[int, float]:
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, movie_id in enumerate(ranking):
            fused[movie_id] = fused.get(movie_id, 0.0) + 1.0 / (k + rank)
    return fused


@dataclass
class Candidate:
    movie: Movie
    score: float
    signals: dict[str, float]
    text: str = ""
    because_of: tuple[str, ...] = field(default=())  # loved films whose fans loved this one


class Retriever:
    def __init__(self, catalog: Catalog, collection, collab: Collaborative, weights: dict[str, float] | None = None,
                 content_depth: int = CONTENT_DEPTH):
        self.catalog, self.collection, self.collab = catalog, collection, collab
        self.weights = np.array([(weights or fusion_weights())[s] for s in SIGNALS])
        self.content_depth = content_depth
        self.movies = list(catalog)
        self.position = {m.movie_id: i for i, m in enumerate(self.movies)}
        self.texts = stored_texts(collection)
        self.keyword = BM25(self.texts)
        percentile = collab.popularity_percentile()
        self.popularity = np.array([percentile.get(m.movie_id, 0.0) for m in self.movies])
        self.years = np.array([m.year or 0 for m in self.movies])
        self.foreign = np.array([m.original_title is not None for m in self.movies])

    def allowed(self, request: Request) -> np.ndarray:
        mask = np.ones(len(self.movies), dtype=bool)
        if request.year_min is not None:
            mask &= self.years >= request.year_min
        if request.year_max is not None:
            mask &= (self.years <= request.year_max) & (self.years > 0)
        if request.genres:
            mask &= np.array([bool(set(m.genres) & set(request.genres)) for m in self.movies])
        if request.avoid_genres:
            mask &= np.array([not set(m.genres) & set(request.avoid_genres) for m in self.movies])
        for movie_id in (*request.exclude, *request.seeds):
            if movie_id in self.position:
                mask[self.position[movie_id]] = False
        return mask

    def search(self, request: Request, k: int = 50) -> list[Candidate]:
        mask = self.allowed(request)
        matrix = np.zeros((len(self.movies), len(SIGNALS)))
        matrix[:, 0] = self._content(request, mask)
        matrix[:, 1], because = self._knn(request.seeds)
        matrix[:, 2] = self.popularity
        if request.wanted_genres:
            wanted = set(request.wanted_genres)
            matrix[:, 3] = [len(wanted & set(m.genres)) / len(wanted) for m in self.movies]
        if request.subtitles is not None:
            matrix[:, 4] = np.where(self.foreign, 1.0 if request.subtitles else -1.0, 0.0)
        scores = np.where(mask, matrix @ self.weights, -np.inf)
        top = [i for i in np.argsort(-scores, kind="stable")[:k] if np.isfinite(scores[i])]
        return [Candidate(self.movies[i], float(scores[i]), dict(zip(SIGNALS, matrix[i].tolist())),
                          self.texts.get(self.movies[i].movie_id, ""),
                          tuple(self.catalog[s].title for s in because.get(i, ()))) for i in top]

    def _content(self, request: Request, mask: np.ndarray) -> np.ndarray:
        scores = np.zeros(len(self.movies))
        if not request.text.strip() or not mask.any():
            return scores
        allowed_ids = {self.movies[i].movie_id for i in np.flatnonzero(mask)}
        dense = [m for m in dense_ids(self.collection, request.text, self.content_depth, where_filter(request))
                 if m in allowed_ids]
        keyword = self.keyword.top(request.text, KEYWORD_DEPTH, allowed_ids)
        fused = sorted(reciprocal_rank(dense, keyword).items(), key=lambda kv: -kv[1])[: self.content_depth]
        best = fused[0][1] if fused else 1.0
        for movie_id, score in fused:
            if movie_id in self.position:
                scores[self.position[movie_id]] = score / best
        return scores

    def _knn(self, seeds: tuple[int, ...]) -> tuple[np.ndarray, dict[int, list[int]]]:
        """Summed item-kNN similarity to the seeds (scaled to a peak of 1), and which seeds drove each movie."""
        per_seed = np.zeros((len(seeds), len(self.movies)))
        for row, seed in enumerate(seeds):
            for movie_id, sim in self.collab.similarity_to([seed]).items():
                if movie_id in self.position:
                    per_seed[row, self.position[movie_id]] = sim
        total = per_seed.sum(axis=0)
        because = {}
        if len(seeds):
            strong = per_seed >= 0.5 * per_seed.max(axis=0, keepdims=True)
            because = {int(i): [s for s, keep in zip(seeds, strong[:, i]) if keep] for i in np.flatnonzero(total > 0)}
        peak = total.max() if len(total) else 0.0
        return (total / peak if peak > 0 else total), because
