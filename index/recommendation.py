"""A recommended movie with its one-sentence reason: what every pipeline returns and the JSON contract."""

from __future__ import annotations

from collections.abc import Sequence
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


NOTHING_FOUND = "I found nothing in the catalog that fits all of that. Could you loosen one condition (era or genre)?"


FIVE_PICKS = "Here are five picks for you:"


def render_list(recommendations: Sequence[Recommendation], header: str | None = None) -> str:
    """A numbered Markdown list, one film a line: "1. **Heat (1995)** · Crime, Thriller — reason"."""
    if not recommendations:
        return NOTHING_FOUND
    lines = [header or (FIVE_PICKS if len(recommendations) == 5 else "Here is what I found:")]
    for i, rec in enumerate(recommendations, 1):
        genres = f" · {', '.join(rec.genres)}" if rec.genres else ""
        reason = f" — {rec.reason}" if rec.reason else ""
        lines.append(f"{i}. **{rec.title}**{genres}{reason}")
    return "\n".join(lines)
