"""search_movies: the fused top 50 for the conversation's preferences, reranked to five picks with reasons."""

from __future__ import annotations

from llama_index.core.schema import NodeWithScore, TextNode

from index.recommendation import Recommendation, render_list
from tools.candidates import Candidate, SearchRequest
from tools.preferences import GENRES, MOODS, Preferences
from tools.reasons import evidence_reason
from tools.session import SearchResult, ToolSession

MIN_SIGNALS = 3
CANDIDATES = 50
MOVIELENS_GENRES = tuple(dict.fromkeys(GENRES.values()))


def request_from(prefs: Preferences, latest_year: int, query: str = "", year_min: int | None = None,
                 year_max: int | None = None, genres: list[str] | None = None,
                 exclude_ids: tuple[int, ...] = ()) -> SearchRequest:
    """Preferences read from the person's words are authoritative; tool arguments only add to them.

    A small LLM sometimes passes an era nobody asked for: its years count only when the person gave none.
    """
    if prefs.era is None:
        year_min = year_min if year_min and 1900 <= year_min <= latest_year else None
        year_max = year_max if year_max and 1900 <= year_max <= latest_year + 1 else None
    else:
        year_min, year_max = prefs.year_min, prefs.year_max
    required = tuple(dict.fromkeys((*prefs.genres, *_valid_genres(genres or []))))
    mood_genres = tuple(g for mood in prefs.moods for g in MOODS[mood][1])
    return SearchRequest(
        text=_query_text(prefs, query),
        seeds=tuple(m.movie_id for m in prefs.loved),
        year_min=year_min, year_max=year_max,
        genres=required, avoid_genres=prefs.avoid_genres,
        exclude=tuple(dict.fromkeys((*prefs.named_ids, *exclude_ids))),
        wanted_genres=tuple(dict.fromkeys((*required, *mood_genres))),
        subtitles=prefs.subtitles, moods=prefs.moods, era=prefs.era,
    )


async def recommend(session: ToolSession, query: str = "", year_min: int | None = None, year_max: int | None = None,
                    genres: list[str] | None = None, exclude: list[str] | None = None) -> SearchResult:
    """Fused candidates -> JustifiedRerank -> five recommendations, remembered by the session."""
    services = session.services
    excluded = tuple(hit.movie.movie_id for title in exclude or [] if (hit := services.matcher.match(title)))
    shown = tuple(r.movie_id for r in session.shown)
    request = request_from(session.preferences, services.latest_year, query, year_min, year_max, genres,
                           excluded + shown)
    candidates = services.generator(session.collection).generate(request, k=CANDIDATES)
    outcome = await services.reranker.arerank(_nodes(candidates, request), _conversation(session.preferences))
    by_id = {c.movie.movie_id: c.movie for c in candidates}
    recommendations = [
        Recommendation(movie_id=(mid := int(n.node.metadata["movie_id"])), title=by_id[mid].title,
                       year=by_id[mid].year, reason=n.node.metadata["reason"], genres=by_id[mid].genres)
        for n in outcome.nodes
    ]
    session.remember(by_id[r.movie_id] for r in recommendations)
    session.shown.extend(recommendations)
    result = SearchResult(recommendations, outcome, request.text, len(candidates),
                          tuple(c.movie.movie_id for c in candidates))
    session.searches.append(result)
    return result


async def search_movies(session: ToolSession, query: str, year_min: int | None = None, year_max: int | None = None,
                        genres: list[str] | None = None, exclude: list[str] | None = None) -> str:
    """Find five catalog movies for the person, each with a one-sentence reason.

    Call it once at least three preferences are known (mood, era, language or subtitles, genres, loved films).

    Args:
        query: a short summary of everything the person wants, in your words.
        year_min: earliest release year, if they gave an era.
        year_max: latest release year, if they gave an era.
        genres: MovieLens genres they asked for, e.g. ["Crime", "Thriller"].
        exclude: titles they do not want recommended.
    """
    missing = session.preferences.missing
    if len(session.preferences.signals) < MIN_SIGNALS:
        return f"Before I pick, one more thing: {next_question(missing[0])}"
    result = await recommend(session, query, year_min, year_max, genres, exclude)
    return render(result)


def render(result: SearchResult) -> str:
    """The five picks as a readable Markdown list; the answer the person sees is built from this."""
    text = render_list(result.recommendations)
    if result.recommendations and result.outcome and result.outcome.fallback:
        text += "\n\n_(The language model did not answer in time, so these are ranked by the evidence alone.)_"
    return text


QUESTIONS = {
    "mood": "what mood are you in tonight: tense, funny, moving, scary, something light?",
    "genres": "any genres you love, or want to avoid?",
    "era": "any era you prefer, like the 80s, the 90s, or something recent?",
    "loved": "name a film or two you loved, so I can find what their fans enjoyed.",
    "language": "are subtitles fine, or English-language only?",
}


def next_question(kind: str) -> str:
    return QUESTIONS[kind]


def _valid_genres(genres: list[str]) -> list[str]:
    lookup = {g.lower(): g for g in MOVIELENS_GENRES}
    return [lookup[g.strip().lower()] for g in genres if isinstance(g, str) and g.strip().lower() in lookup]


def _query_text(prefs: Preferences, query: str) -> str:
    parts = [query.strip()] if query and query.strip() else []
    parts += [", ".join(prefs.moods), " ".join(prefs.genres), prefs.era or ""]
    if prefs.loved:
        parts.append("like " + ", ".join(m.title for m in prefs.loved))
    parts += prefs.notes[-3:]
    return ". ".join(p for p in parts if p)


def _conversation(prefs: Preferences) -> str:
    said = " / ".join(f'"{n}"' for n in prefs.notes[-4:])
    return f"{prefs.summary()}. In their words: {said}" if said else prefs.summary()


def _nodes(candidates: list[Candidate], request: SearchRequest) -> list[NodeWithScore]:
    nodes = []
    for c in candidates:
        meta = {"movie_id": c.movie.movie_id, "title": c.movie.title, "genres": "|".join(c.movie.genres),
                "evidence_reason": evidence_reason(c, request)}
        nodes.append(NodeWithScore(node=TextNode(id_=str(c.movie.movie_id), text=c.text, metadata=meta), score=c.score))
    return nodes
