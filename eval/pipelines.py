"""The pipelines the evaluation compares, each replayed on a transcript's user turns to a ranked top 10
(what the person is shown) and the 50 candidates it ranked (recall@50: could the films be found at all).

    baseline         the lab's baseline: the user turns joined, embedded, dense top-k from "baseline"
    enriched         the same on the "enriched" collection
    enriched+rerank  the agent's tool path: a ToolSession fed the turns, `tools.search.recommend` (fused
                     candidates -> JustifiedRerank); top 10 = its answer, then its answer to "more"
                     (alias: fused+rerank); candidates = those 10, then the first search's fused 50
    llm-read+rerank  the same with each turn read by the LLM (tools/preferences/llm_reader.py), as the chat does when
                     an LLM is active; needs one (--llm)
    fused            all signals with the tuned weights (FusionWeights.for_loved), no rerank
    content, knn, genre, prior
                     one signal alone under the same hard conditions (prior = the popularity signal);
                     ties keep catalog order, which is most-rated first
    popularity       most liked by training users, no conditions
    itemknn          item-item CF from the films the person loved, no conditions
    ease, als        EASE / implicit ALS from the films the person named (loved +1, disliked -1), no conditions
    itemknn+conditions, ease+conditions, als+conditions
                     the same peers restricted to the films that pass the conversation's hard conditions
                     (`prior` is popularity+conditions)
    handrolled       handrolled/ (another engineer's), when it provides `eval_recommend`

The tool-path rows (enriched+rerank, fused, content, knn, genre, prior) search the agent's collection,
"enriched", or "baseline" while enriched is not built (every row reports its collection). Films the turns
name are never returned by any pipeline. Adding a pipeline is one line in PIPELINES.
"""

from __future__ import annotations

import asyncio
import importlib
from dataclasses import dataclass, field
from functools import cached_property
from typing import Protocol

import numpy as np

from eval.transcripts.files import Transcript

from eval.transcripts.reading import read_turns
from index.store import BASELINE, ENRICHED, collection_metadata
from index.workspace import Workspace
from tools.candidates import SIGNALS, FusionWeights
from tools.preferences import Preferences
from tools.preferences.llm_reader import LLMReader
from tools.search import request_from, recommend
from tools.services import MovieServices
from tools.session import ToolSession

TOP_K = 10
DEPTH = 50  # candidates every pipeline ranks (the agent's search hands the rerank 50)


@dataclass
class Ranking:
    movie_ids: list[int]  # the top 10, best first
    candidates: list[int] = field(default_factory=list)  # up to DEPTH ranked, best first; starts with movie_ids
    reasons: dict[int, str] = field(default_factory=dict)
    hallucinated: int = 0  # ids an LLM returned that were not among its candidates (RerankOutcome.invented_ids)
    collection: str | None = None
    explained: bool = True  # False: `reasons` only describe a retrieval score, there is nothing to judge

    @property
    def pool(self) -> list[int]:
        """The deep list recall@50 reads: the candidates, or the top 10 of a pipeline that ranks no more."""
        return self.candidates or self.movie_ids


@dataclass
class Conversation:
    """A transcript as the system receives it: the turns the input guard let through, read by the rules."""
    transcript: Transcript
    turns: tuple[str, ...]
    blocked: int  # turns the input guard filtered out
    preferences: Preferences

    @property
    def mentioned(self) -> set[int]:
        return set(self.preferences.named_ids)


class Pipeline(Protocol):
    def run(self, ctx: "EvalContext", conversation: Conversation) -> Ranking: ...


class EvalContext:
    """What every pipeline shares for one evaluation run: workspace, tool services, caches."""

    def __init__(self, workspace: Workspace, use_llm: bool = True, screen: bool = True):
        self.workspace = workspace
        self.services = MovieServices.from_workspace(workspace, use_llm=use_llm)
        self.screen = screen
        self._conversations: dict[str, Conversation] = {}
        self._signals: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
        self._indexes: dict = {}

    @property
    def catalog(self):
        return self.services.catalog

    @cached_property
    def tool_collection(self) -> str:
        """The collection the agent searches: "enriched", or "baseline" while enrichment is not built."""
        return ENRICHED if collection_built(self.workspace, ENRICHED) else BASELINE

    def conversation(self, transcript: Transcript) -> Conversation:
        if transcript.id not in self._conversations:
            turns, blocked = screened(transcript.turns) if self.screen else (tuple(transcript.turns), 0)
            prefs = read_turns(turns, self.services.matcher, self.services.latest_year)
            self._conversations[transcript.id] = Conversation(transcript, turns, blocked, prefs)
        return self._conversations[transcript.id]

    def index(self, collection: str):
        if collection not in self._indexes:
            self._indexes[collection] = self.workspace.index(collection)
        return self._indexes[collection]

    def signal_matrix(self, conversation: Conversation, collection: str) -> tuple[np.ndarray, np.ndarray]:
        key = (conversation.transcript.id, collection)
        if key not in self._signals:
            request = request_from(conversation.preferences, self.services.latest_year)
            mask, matrix, _ = self.services.generator(collection).signal_matrix(request)
            self._signals[key] = (mask, matrix)
        return self._signals[key]


def screened(turns) -> tuple[tuple[str, ...], int]:
    """The turns the input guard lets through (cleaned as it returns them), and how many it filtered."""
    try:
        from agent.guards import screen_input
    except ImportError:  # the guard is another engineer's module; without it every turn passes
        return tuple(turns), 0
    verdicts = [screen_input(turn) for turn in turns]
    return tuple(v.text for v in verdicts if v.allowed), sum(not v.allowed for v in verdicts)


def collection_built(workspace: Workspace, name: str) -> bool:
    return (collection_metadata(workspace.client, name) or {}).get("state") == "done"


def _ranking(ranked: list[int], **fields) -> Ranking:
    return Ranking(ranked[:TOP_K], ranked[:DEPTH], **fields)


def _top(scores: dict[int, float] | np.ndarray, ids, exclude: set[int], k: int = DEPTH) -> list[int]:
    """The k best-scored ids (stable: ties keep the order of `ids`), skipping `exclude`."""
    values = np.array([scores.get(m, 0.0) for m in ids]) if isinstance(scores, dict) else scores
    order = np.argsort(-values, kind="stable")
    return [int(ids[i]) for i in order if np.isfinite(values[i]) and int(ids[i]) not in exclude][:k]


@dataclass(frozen=True)
class DenseRetrieval:
    collection: str

    def run(self, ctx: EvalContext, conversation: Conversation) -> Ranking:
        exclude = conversation.mentioned
        retriever = ctx.index(self.collection).as_retriever(similarity_top_k=DEPTH + len(exclude))
        nodes = retriever.retrieve(" ".join(conversation.turns))
        hits = [(int(n.node.metadata["movie_id"]), n.score or 0.0) for n in nodes]
        hits = [(m, s) for m, s in hits if m not in exclude][:DEPTH]
        reasons = {m: f"Its catalog text is the closest match to what you said (cosine {s:.2f})."
                   for m, s in hits[:TOP_K]}
        return _ranking([m for m, _ in hits], reasons=reasons, collection=self.collection, explained=False)


@dataclass(frozen=True)
class AgentToolPath:
    collection: str | None = None  # None: the agent's collection (EvalContext.tool_collection)
    llm_reading: bool = False  # read the turns with the LLM, as the chat does, instead of the rules

    def run(self, ctx: EvalContext, conversation: Conversation) -> Ranking:
        collection = self.collection or ctx.tool_collection
        session = ToolSession(ctx.services, collection=collection)
        services = ctx.services
        reader = LLMReader(services.reranker.llm, services.matcher, services.latest_year) if self.llm_reading else None

        async def first_and_more():
            for turn in conversation.turns:
                if reader is None:
                    session.note_user_turn(turn)
                else:
                    await session.read_user_turn(turn, reader)
            return [await recommend(session), await recommend(session)]

        results = asyncio.run(first_and_more())
        recs = [r for result in results for r in result.recommendations]
        invented = sum(len(result.outcome.invented_ids) for result in results if result.outcome)
        shown = [r.movie_id for r in recs]
        pool = list(dict.fromkeys((*shown, *results[0].candidate_ids)))[:DEPTH]
        return Ranking(shown, pool, {r.movie_id: r.reason for r in recs}, invented, collection)


@dataclass(frozen=True)
class SignalFusion:
    weights: FusionWeights | None = None  # None: the tuned weights (tools/fusion_weights.json)

    def run(self, ctx: EvalContext, conversation: Conversation) -> Ranking:
        collection = ctx.tool_collection
        mask, matrix = ctx.signal_matrix(conversation, collection)
        weights = self.weights or ctx.services.weights.for_loved(len(conversation.preferences.loved))
        scores = matrix @ weights.as_array()
        scores = np.where(mask, scores, -np.inf)
        movie_ids = [m.movie_id for m in ctx.services.generator(collection).movies]
        return _ranking(_top(scores, movie_ids, conversation.mentioned), collection=collection)


def only(signal: str) -> SignalFusion:
    return SignalFusion(FusionWeights(**{s: float(s == signal) for s in SIGNALS}))


@dataclass(frozen=True)
class Popularity:
    def run(self, ctx: EvalContext, conversation: Conversation) -> Ranking:
        return _ranking(_top(ctx.services.collab.popularity(), list(ctx.catalog.movies), conversation.mentioned))


@dataclass(frozen=True)
class CollabPeer:
    """A collaborative model alone from the named films; `conditions`: only films the hard conditions allow."""
    model: str  # "itemknn", "ease", "als"
    conditions: bool = False

    def run(self, ctx: EvalContext, conversation: Conversation) -> Ranking:
        prefs = conversation.preferences
        loved, disliked = [m.movie_id for m in prefs.loved], [m.movie_id for m in prefs.disliked]
        collab = ctx.services.collab
        if self.model == "itemknn":
            sims = collab.similarity_to(loved)
            scores = np.array([sims.get(int(m), 0.0) for m in collab.movie_ids])
        else:
            scores = getattr(ctx.services, self.model).scores(loved, disliked)
        ids = [int(m) for m in collab.movie_ids]
        scores = np.where(scores != 0, scores, -np.inf) if self.model == "itemknn" else scores
        if self.conditions:
            generator = ctx.services.generator(ctx.tool_collection)
            mask, _ = ctx.signal_matrix(conversation, ctx.tool_collection)
            allowed = {generator.movies[i].movie_id for i in np.flatnonzero(mask)}
            scores = np.where([m in allowed for m in ids], scores, -np.inf)
        return _ranking(_top(scores, ids, conversation.mentioned))


@dataclass(frozen=True)
class External:
    """A pipeline in another package: `module.function(turns, workspace)` returns Recommendations (or an
    object with `.recommendations` and optionally `.invented_ids` and `.candidate_ids`)."""
    target: str

    @property
    def available(self) -> bool:
        module, _, name = self.target.partition(":")
        try:
            return callable(getattr(importlib.import_module(module), name, None))
        except ImportError:
            return False

    def run(self, ctx: EvalContext, conversation: Conversation) -> Ranking:
        module, _, name = self.target.partition(":")
        # the raw turns: the external pipeline screens them with its own guard
        result = getattr(importlib.import_module(module), name)(list(conversation.transcript.turns), ctx.workspace)
        recs = list(getattr(result, "recommendations", result))
        invented = len(getattr(result, "invented_ids", ()) or ())
        shown = [r.movie_id for r in recs]
        pool = list(dict.fromkeys((*shown, *(getattr(result, "candidate_ids", ()) or ()))))[:DEPTH]
        return Ranking(shown, pool, {r.movie_id: r.reason for r in recs}, invented,
                       getattr(result, "collection", None))


PIPELINES: dict[str, Pipeline] = {
    "baseline": DenseRetrieval(BASELINE),
    "enriched": DenseRetrieval(ENRICHED),
    "enriched+rerank": AgentToolPath(),
    "llm-read+rerank": AgentToolPath(llm_reading=True),
    "fused": SignalFusion(),
    "content": only("content"),
    "knn": only("knn"),
    "genre": only("genre"),
    "prior": only("popularity"),
    "popularity": Popularity(),
    "itemknn": CollabPeer("itemknn"),
    "ease": CollabPeer("ease"),
    "als": CollabPeer("als"),
    "itemknn+conditions": CollabPeer("itemknn", conditions=True),
    "ease+conditions": CollabPeer("ease", conditions=True),
    "als+conditions": CollabPeer("als", conditions=True),
    "handrolled": External("handrolled.pipeline:eval_recommend"),
}
ALIASES = {"fused+rerank": "enriched+rerank"}


def resolve(names: list[str] | None, ctx: EvalContext) -> tuple[list[str], dict[str, str]]:
    """(pipelines to run, {skipped name: why}); default: every pipeline that can run here."""
    chosen = [ALIASES.get(n, n) for n in (names or PIPELINES)]
    unknown = [n for n in chosen if n not in PIPELINES]
    if unknown:
        raise ValueError(f"unknown pipeline(s) {', '.join(unknown)}; choose from "
                         f"{', '.join([*PIPELINES, *ALIASES])}")
    runnable, skipped = [], {}
    for name in dict.fromkeys(chosen):
        pipeline = PIPELINES[name]
        if isinstance(pipeline, External) and not pipeline.available:
            skipped[name] = f"{pipeline.target} is not available yet"
        elif isinstance(pipeline, AgentToolPath) and pipeline.llm_reading and ctx.services.reranker.llm is None:
            skipped[name] = "reading the turns with an LLM needs an LLM backend (--llm)"
        elif isinstance(pipeline, DenseRetrieval) and not collection_built(ctx.workspace, pipeline.collection):
            skipped[name] = f"the {pipeline.collection!r} collection is not built"
        else:
            runnable.append(name)
    return runnable, skipped


def run_pipeline(name: str, ctx: EvalContext, conversation: Conversation) -> Ranking:
    return PIPELINES[ALIASES.get(name, name)].run(ctx, conversation)
