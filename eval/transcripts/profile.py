"""What one person's ratings say about their taste, as the few signals a conversation would state.

A `TasteProfile` is read from the profile part of one user's likes (ratings >= 4.0 inside the catalog; the
other part is held out and never read here, see build.py) and chosen so that the conditions a
transcript states cover that part broadly, because era and genres become hard filters:

    era      the narrowest run of whole decades holding >= 85% of the liked films' years; open-ended
             ("since 1980") when it reaches the catalog's last decade, "any era" when it spans them all
    genres   a greedy cover: the genre liked most, then the one covering most of the rest, ... until
             >= 85% of the likes have one of them (at most 3)
    mood     the reader's mood with the highest coverage x lift: share of likes having one of its genres,
             times that share over the catalog's
    language "subtitles are fine" with >= 2 liked films that carry an original non-English title,
             "English-language" with none, unstated with exactly one
    loved    two films from the person's highest-rated likes inside the stated era and genres, the most
             typical of their genre mix first (cosine of genre vectors), then the most rated; only films
             rated >= 20 times, because people name films others know
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd

from index.catalog import Catalog, Movie
from index.collab import LIKE_THRESHOLD
from tools.preferences import MOODS

ERA_COVERAGE = 0.85
GENRE_COVERAGE = 0.85
MAX_GENRES = 3
LOVED_COUNT = 2
NAMEABLE_RATINGS = 20
# Genres a person can say in words the rule reader knows (tools/preferences/vocabulary.py GENRES); IMAX is a format.
SAYABLE_GENRES = ("Action", "Adventure", "Animation", "Children", "Comedy", "Crime", "Documentary", "Drama",
                  "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War",
                  "Western")


@dataclass(frozen=True)
class Era:
    start: int | None  # first year of the first decade; None: open ("before 2000", or any era)
    end: int | None  # last year of the last decade; None: open ("since 1980", or any era)

    @property
    def any(self) -> bool:
        return self.start is None and self.end is None

    def contains(self, year: int | None) -> bool:
        if self.any:
            return True
        if year is None:
            return False
        return (self.start is None or year >= self.start) and (self.end is None or year <= self.end)


@dataclass(frozen=True)
class TasteProfile:
    user_id: int
    likes: tuple[int, ...]  # the profile part of the likes: the only films the turns are drawn from
    held_out: tuple[int, ...]  # the other part of the likes, never looked at while writing the turns
    era: Era
    genres: tuple[str, ...]
    mood: str
    subtitles: bool | None
    loved: tuple[int, ...]


def user_likes(ratings: pd.DataFrame, user_id: int, catalog: Catalog) -> list[tuple[int, float]]:
    """(movie id, rating) of the films `user_id` liked, best rated first (ties by movie id)."""
    rows = ratings[(ratings["user_id"] == user_id) & (ratings["rating"] >= LIKE_THRESHOLD)]
    rows = rows[rows["movie_id"].isin(catalog.movies)]
    rows = rows.sort_values(["rating", "movie_id"], ascending=[False, True])
    return [(int(m), float(r)) for m, r in zip(rows["movie_id"], rows["rating"])]


def profile_of(catalog: Catalog, user_id: int, likes: list[tuple[int, float]], nameable,
               held_out: tuple[int, ...] = ()) -> TasteProfile | None:
    """The profile of `likes` (the profile part), or None when it has fewer than two nameable loved films in
    its conditions. `held_out` is only carried along, never read.

    `nameable(movie) -> bool` says whether the way people type the film's name resolves to it.
    """
    movies = [catalog[m] for m, _ in likes]
    era = decade_span([m.year for m in movies if m.year], catalog)
    genres = genre_cover(movies)
    candidates = [(catalog[m], r) for m, r in likes
                  if catalog[m].n_ratings >= NAMEABLE_RATINGS and era.contains(catalog[m].year)
                  and set(catalog[m].genres) & set(genres)]
    mix = _genre_vector(movies)
    candidates.sort(key=lambda mr: (-mr[1], -_cosine(_genre_vector([mr[0]]), mix), -mr[0].n_ratings,
                                    mr[0].movie_id))
    loved = [m.movie_id for m, _ in candidates if nameable(m)][:LOVED_COUNT]
    if len(loved) < LOVED_COUNT:
        return None
    return TasteProfile(user_id=user_id, likes=tuple(m for m, _ in likes), held_out=tuple(sorted(held_out)),
                        era=era, genres=genres,
                        mood=characteristic_mood(movies, catalog), subtitles=_subtitles(movies), loved=tuple(loved))


def decade_span(years: list[int], catalog: Catalog, coverage: float = ERA_COVERAGE) -> Era:
    """The narrowest run of whole decades that holds `coverage` of `years` (most covered on ties)."""
    decades = sorted({y // 10 * 10 for y in years})
    first = min(m.year for m in catalog if m.year) // 10 * 10
    last = max(m.year for m in catalog if m.year) // 10 * 10
    need = coverage * len(years)
    best: tuple[int, int, int] | None = None  # (width, -covered, start)
    for a in decades:
        for b in decades:
            covered = sum(a <= y // 10 * 10 <= b for y in years)
            if b >= a and covered >= need:
                key = (b - a, -covered, a)
                best = key if best is None or key < best else best
    if best is None:
        return Era(None, None)
    a, b = best[2], best[2] + best[0]
    return Era(None if a <= first else a, None if b >= last else b + 9)


def genre_cover(movies: list[Movie], coverage: float = GENRE_COVERAGE, most: int = MAX_GENRES) -> tuple[str, ...]:
    chosen: list[str] = []
    left = [set(m.genres) & set(SAYABLE_GENRES) for m in movies]
    total = len(left)
    while len(chosen) < most and left and (total - len(left)) < coverage * total:
        counts = Counter(g for genres in left for g in genres)
        if not counts:
            break
        genre = min(counts, key=lambda g: (-counts[g], SAYABLE_GENRES.index(g)))
        chosen.append(genre)
        left = [genres for genres in left if genre not in genres]
    return tuple(chosen)


def characteristic_mood(movies: list[Movie], catalog: Catalog) -> str:
    """The mood that best sums up the likes: the share of likes having one of its genres times how much
    more often than in the catalog (coverage x lift), so a broad mood does not win on breadth alone."""
    def share(pool: list[Movie], genres: tuple[str, ...]) -> float:
        return sum(bool(set(m.genres) & set(genres)) for m in pool) / max(len(pool), 1)

    everyone = list(catalog)

    def score(mood: str) -> float:
        genres = MOODS[mood][1]
        mine = share(movies, genres)
        return mine * mine / max(share(everyone, genres), 1e-9)

    return max(MOODS, key=score)


def _subtitles(movies: list[Movie]) -> bool | None:
    foreign = sum(m.original_title is not None for m in movies)
    return True if foreign >= 2 else False if foreign == 0 else None


def _genre_vector(movies: list[Movie]) -> np.ndarray:
    vector = np.zeros(len(SAYABLE_GENRES))
    for movie in movies:
        for genre in movie.genres:
            if genre in SAYABLE_GENRES:
                vector[SAYABLE_GENRES.index(genre)] += 1
    return vector


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    norm = np.linalg.norm(a) * np.linalg.norm(b)
    return float(a @ b / norm) if norm else 0.0
