"""search_movies: the fused top 50 for the conversation's preferences, reranked to five picks with reasons."""

import asyncio
from typing import Annotated

from llama_index.core.bridge.pydantic import Field
from llama_index.core.schema import NodeWithScore, TextNode

from index.recommendation import FIVE_PICKS, Recommendation, render_list
from index.titles import split_year
from tools.candidates import Candidate, SearchRequest
from tools.preferences import GENRES, MOODS, Preferences
from tools.reasons import evidence_reason
from tools.rerank import DISLIKED_KEY
from tools.session import SearchResult, ToolSession

MIN_SIGNALS = 3
DESCRIPTIVE_WORDS = 3  # shorter messages ("yes", "90s is fine") add nothing the summary lacks
CANDIDATES = 50
MOVIELENS_GENRES = tuple(dict.fromkeys(GENRES.values()))
CHILDREN_AUDIENCES = ("kids", "family")
YOUNG_CHILD = 12  # up to this age a film for them is a children's film or a cartoon
CHILDREN_GENRES = ("Children", "Animation", "Adventure", "Comedy", "Fantasy", "Musical")  # at least one
NOT_FOR_CHILDREN = ("Horror", "Film-Noir")  # unless the person asked for one
NOT_FOR_YOUNG_CHILDREN = ("Thriller", "Crime", "War")
# Bounded in the tool schema, so a call generated under its grammar ends: unbounded, a 1.5B model listed
# films to exclude until it ran out of tokens, and the call did not parse. (Real annotations, not strings:
# LlamaIndex builds the tool schema from the signature as written.)
GenreList = Annotated[list[str], Field(max_length=6)] | None
TitleList = Annotated[list[str], Field(max_length=8)] | None


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
    avoided = prefs.avoid_genres
    required = tuple(dict.fromkeys((*prefs.genres, *_valid_genres(genres or []))))
    mood_genres = tuple(g for mood in prefs.moods for g in MOODS[mood][1])
    wanted = tuple(dict.fromkeys((*required, *mood_genres)))
    if prefs.audience in CHILDREN_AUDIENCES:
        young = bool(prefs.ages) and max(prefs.ages) <= YOUNG_CHILD
        unsuitable = (*NOT_FOR_CHILDREN, *(NOT_FOR_YOUNG_CHILDREN if young else ()))
        avoided = tuple(dict.fromkeys((*avoided, *(g for g in unsuitable if g not in required))))
        if not set(required) - {"Children"}:  # "a family movie": any genre children watch, not only "Children"
            required = ("Children", "Animation") if young else CHILDREN_GENRES
        wanted = tuple(dict.fromkeys((*wanted, "Children")))
    required = tuple(g for g in required if g not in avoided)
    return SearchRequest(
        text=_query_text(prefs, query),
        seeds=tuple(m.movie_id for m in prefs.loved),
        year_min=year_min, year_max=year_max,
        genres=required, avoid_genres=avoided,
        exclude=tuple(dict.fromkeys((*prefs.named_ids, *exclude_ids))),
        disliked=tuple(m.movie_id for m in prefs.disliked),
        wanted_genres=tuple(g for g in wanted if g not in avoided),
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
    # Embedding, Chroma, BM25 and numpy take 0.1-1 s: off the event loop, so other sessions' turns go on.
    candidates = await asyncio.to_thread(lambda: services.generator(session.collection).generate(request, k=CANDIDATES))
    by_id = {c.movie.movie_id: c.movie for c in candidates}

    def recommendation(node: NodeWithScore) -> Recommendation:
        movie = by_id[int(node.node.metadata["movie_id"])]
        return Recommendation(movie_id=movie.movie_id, title=movie.title, year=movie.year,
                              reason=node.node.metadata["reason"], genres=movie.genres)

    def show(node: NodeWithScore) -> None:  # a pick streamed before the others are written
        session.remember([by_id[int(node.node.metadata["movie_id"])]])
        session.on_pick(recommendation(node))

    outcome = await services.reranker.arerank(_nodes(candidates, request, session.preferences),
                                              _conversation(session.preferences),
                                              on_pick=show if session.on_pick else None)
    recommendations = [recommendation(n) for n in outcome.nodes]
    session.remember(by_id[r.movie_id] for r in recommendations)
    session.shown.extend(recommendations)
    result = SearchResult(recommendations, outcome, request.text, len(candidates),
                          tuple(c.movie.movie_id for c in candidates))
    session.searches.append(result)
    return result


async def search_movies(session: ToolSession, query: str, year_min: int | None = None, year_max: int | None = None,
                        genres: GenreList = None, exclude: TitleList = None) -> str:
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


def render_draft(picks: list[Recommendation]) -> str:
    """The picks streamed so far, laid out as the first lines of the list `render` shows in the end."""
    return render_list(picks, header=FIVE_PICKS)


def render(result: SearchResult) -> str:
    """The five picks as a readable Markdown list; the answer the person sees is built from this."""
    text = render_list(result.recommendations)
    outcome = result.outcome
    if result.recommendations and outcome and outcome.fallback:
        kept = len(result.recommendations) - outcome.filled
        text += ("\n\n_(The language model did not answer in time, so these are ranked by the evidence alone.)_"
                 if not kept else f"\n\n_(The language model stopped after {kept}, so the last {outcome.filled} "
                                  f"are ranked by the evidence alone.)_")
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
    """What content retrieval matches: the summary, the themes, and the person's own descriptive sentences."""
    parts = [query.strip()] if query and query.strip() else []
    parts += [", ".join(prefs.moods), " ".join(prefs.genres), prefs.era or "", ", ".join(prefs.keywords)]
    if prefs.audience in CHILDREN_AUDIENCES:
        parts.append("a family film children enjoy")
    if prefs.loved:
        parts.append("like " + ", ".join(m.title for m in prefs.loved))
    parts += [note for note in prefs.notes if len(note.split()) >= DESCRIPTIVE_WORDS][-4:]
    return ". ".join(p for p in parts if p)


def _conversation(prefs: Preferences) -> str:
    said = " / ".join(f'"{n}"' for n in prefs.notes[-4:])
    return f"{prefs.summary()}. In their words: {said}" if said else prefs.summary()


def _nodes(candidates: list[Candidate], request: SearchRequest, prefs: Preferences) -> list[NodeWithScore]:
    disliked = tuple(m.title for m in prefs.disliked)
    not_loved = "|".join(name for m in prefs.disliked for name in (m.name, *m.aliases))
    nodes = []
    for c in candidates:
        meta = {"movie_id": c.movie.movie_id, "title": c.movie.title, "genres": "|".join(c.movie.genres),
                "evidence_reason": evidence_reason(c, request, disliked), DISLIKED_KEY: not_loved,
                "fans_of": ", ".join(split_year(title)[0] for title in c.because_of[:2])}
        nodes.append(NodeWithScore(node=TextNode(id_=str(c.movie.movie_id), text=c.text, metadata=meta), score=c.score))
    return nodes
