"""A recommended movie with its one-sentence reason: what every pipeline returns and the JSON contract."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Recommendation:
    movie_id: int
    title: str
    year: int | None
    reason: str
    genres: tuple[str, ...] = ()

    def to_json(self) -> dict:
        return {"movie_id": self.movie_id, "title": self.title, "year": self.year, "reason": self.reason}
