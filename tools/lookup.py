"""lookup_movie: catalog details for a title however it is typed, or the closest titles when it is missing."""

from __future__ import annotations

from index.catalog import Movie
from tools.session import ToolSession


async def lookup_movie(session: ToolSession, title: str) -> str:
    """Look a film up in the catalog by title (typos, missing year and "The" are fine).

    Args:
        title: the film's title as the person wrote it, e.g. "the matrix" or "Se7en (1995)".
    """
    services = session.services
    hit = services.matcher.match(title)
    if hit is None:
        close = services.matcher.close_matches(title)
        session.remember(close)
        suggestions = "; ".join(m.title for m in close)
        return f"{title!r} is not in the catalog. Closest titles: {suggestions}."
    session.remember([hit.movie])
    return describe(hit.movie)


def describe(movie: Movie) -> str:
    facts = [f"{movie.title} (id {movie.movie_id})", "genres: " + (", ".join(movie.genres) or "unknown")]
    if movie.aliases:
        facts.append("also known as: " + ", ".join(movie.aliases))
    if movie.mean_rating is not None:
        facts.append(f"rated {movie.mean_rating:.1f}/5 by {movie.n_ratings} MovieLens viewers")
    if movie.tags:
        facts.append("tags: " + ", ".join(movie.tags[:8]))
    return "; ".join(facts) + "."
