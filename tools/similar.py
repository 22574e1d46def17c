"""similar_to: the worked example of adding a tool (see README, "Add a tool").

A tool is an async function whose first parameter is the conversation's `ToolSession`; its docstring and
typed arguments become the schema the LLM sees. Registering it is one line in tools/registry.py.
"""

from __future__ import annotations

from tools.session import ToolSession


async def similar_to(session: ToolSession, titles: list[str]) -> str:
    """Films that fans of the given films loved most (from MovieLens ratings, not from plot similarity).

    Args:
        titles: one or more film titles, e.g. ["Heat", "Ronin"].
    """
    services = session.services
    found = [hit.movie for title in titles if (hit := services.matcher.match(title))]
    if not found:
        return "None of those titles is in the catalog; try lookup_movie for the spelling."
    scores = services.collab.similarity_to(m.movie_id for m in found)
    named = {m.movie_id for m in found} | set(session.preferences.named_ids)
    ranked = [mid for mid in sorted(scores, key=scores.get, reverse=True) if mid not in named][:8]
    movies = [services.catalog[mid] for mid in ranked]
    session.remember(movies)
    names = ", ".join(m.title for m in found)
    return f"Fans of {names} also loved: " + "; ".join(m.title for m in movies) + "."
