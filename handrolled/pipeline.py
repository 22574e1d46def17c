"""The hand-rolled pipeline end to end, and its function API.

    turns -> input guard -> preference rules -> fused top 50 (retrieve.py) -> LLM rerank to 5 (rerank.py)
          -> output guard -> Recommendations

`recommend(turns, data_dir=...)` replays one conversation; `eval_recommend(turns, workspace)` is the adapter
that eval/pipelines.py registers as pipeline `handrolled` (its answer, then its answer to "more": ten films).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from handrolled import ingest
from handrolled.guarded import checked, screen_turns
from handrolled.llm import make_client, resolve_llm, with_model
from handrolled.reasons import evidence_reason
from handrolled.rerank import Reranker
from handrolled.retrieve import Request, Retriever, request_from
from index.catalog import Catalog, load_catalog
from index.collab import Collaborative
from index.errors import UserError
from index.matching import TitleMatcher
from index.recommendation import Recommendation
from tools.preferences import Preferences

CANDIDATES = 50
SMALL_WINDOW = 8192
SMALL_WINDOW_CANDIDATES = 12
LLM_TIMEOUT = 120.0
RECIPES = ("auto", "baseline", "enriched")


@dataclass
class Answer:
    """One recommendation answer and what the checks saw on the way."""
    recommendations: list[Recommendation]
    request: Request
    candidates: int = 0
    candidate_ids: list[int] = field(default_factory=list)  # what the rerank ordered, best first
    invented_ids: list[int] = field(default_factory=list)
    fallback: bool = False
    error: str | None = None
    reasons_replaced: int = 0  # LLM reasons the output guard rejected


@dataclass
class Result:
    recommendations: list[Recommendation]
    invented_ids: list[int]
    blocked: int  # turns the input guard filtered
    fallback: bool
    llm: str
    collection: str
    seconds: float
    candidate_ids: list[int] = field(default_factory=list)  # the first answer's candidates, best first

    def to_json(self, pipeline: str = "handrolled") -> dict:
        return {"pipeline": pipeline, "llm": self.llm, "recommendations": [r.to_json() for r in self.recommendations],
                "blocked": self.blocked > 0}


class Handrolled:
    def __init__(self, catalog: Catalog, collection, reranker: Reranker, llm: str, collection_name: str):
        self.catalog = catalog
        self.matcher = TitleMatcher(catalog)
        self.latest_year = max((m.year or 0 for m in catalog), default=0)
        self.retriever = Retriever(catalog, collection, Collaborative.from_catalog(catalog))
        self.reranker = reranker
        self.llm = llm
        self.collection_name = collection_name

    @classmethod
    def open(cls, data_dir: str | Path, catalog: Catalog | None = None, llm: str = "auto", recipe: str = "auto",
             chroma_host: str | None = None, max_candidates: int = CANDIDATES,
             show_progress: bool = False) -> "Handrolled":
        """Load the catalog, build or reuse our collection, and connect the LLM (if any)."""
        if recipe not in RECIPES:
            raise UserError(f"unknown collection recipe {recipe!r}; choose one of {', '.join(RECIPES)}")
        data_dir = Path(data_dir)
        catalog = catalog or load_catalog(*catalog_spec(data_dir), cache_dir=data_dir)
        client = ingest.chroma_client(data_dir, chroma_host)
        if recipe == "auto":
            recipe = "enriched" if ingest.enrichment_ready(client) else "baseline"
        texts = ingest.enriched_texts(client) if recipe == "enriched" else \
            {m.movie_id: ingest.baseline_text(m) for m in catalog}
        name = ingest.COLLECTIONS[recipe]
        report = ingest.build(client, name, catalog, texts, show_progress)
        if show_progress:
            print(report.describe())
        settings = resolve_llm(llm)
        reranker = Reranker(None, max_candidates=max_candidates)
        if settings is not None:
            llm_client = make_client(settings, LLM_TIMEOUT)
            settings = with_model(settings, llm_client)
            if settings.context_window < SMALL_WINDOW:  # 50 candidates overflow a 4096-token window
                max_candidates = min(max_candidates, SMALL_WINDOW_CANDIDATES)
            reranker = Reranker(llm_client, settings.model, max_candidates=max_candidates, deadline=LLM_TIMEOUT)
        label = settings.describe() if settings else "none"
        return cls(catalog, ingest.open_collection(client, name), reranker, label, name)

    def read(self, turns: list[str]) -> tuple[Preferences, int]:
        """(preferences from the turns the input guard allows, number of blocked turns)."""
        screened = screen_turns(turns)
        prefs = Preferences()
        for turn in screened.turns:
            prefs = prefs.update(turn, self.matcher, self.latest_year)
        return prefs, len(screened.blocked)

    def answer(self, prefs: Preferences, exclude: tuple[int, ...] = ()) -> Answer:
        request = request_from(prefs, exclude)
        candidates = self.retriever.search(request, k=CANDIDATES)
        result = self.reranker.rerank(candidates, request, conversation(prefs))
        proposed = [Recommendation(p.candidate.movie.movie_id, p.candidate.movie.title, p.candidate.movie.year,
                                   p.reason, p.candidate.movie.genres) for p in result.picks]
        evidence = {c.movie.movie_id: evidence_reason(c, request) for c in candidates}
        shown, replaced = checked(proposed, evidence, set(evidence), self.catalog, prefs.named_ids)
        return Answer(shown, request, len(candidates), [c.movie.movie_id for c in candidates], result.invented_ids,
                      result.fallback, result.error, replaced)

    def recommend(self, turns: list[str], more: bool = False) -> Result:
        """The answer to a conversation; with `more`, followed by the answer to "more" (ten films)."""
        started = time.perf_counter()
        prefs, blocked = self.read(turns)
        answers = [self.answer(prefs)]
        if more:
            answers.append(self.answer(prefs, exclude=tuple(r.movie_id for r in answers[0].recommendations)))
        return Result([r for a in answers for r in a.recommendations], [i for a in answers for i in a.invented_ids],
                      blocked, any(a.fallback for a in answers), self.llm, self.collection_name,
                      time.perf_counter() - started, answers[0].candidate_ids)


def conversation(prefs: Preferences) -> str:
    said = " / ".join(f'"{n}"' for n in prefs.notes[-4:])
    return f"{prefs.summary()}. In their words: {said}" if said else prefs.summary()


def catalog_spec(data_dir: Path) -> tuple[str, int]:
    """The catalog `movierec index` recorded in the data dir, else the bundled 5000."""
    record = data_dir / "catalog.json"
    spec = json.loads(record.read_text()) if record.is_file() else {}
    return spec.get("source", "bundled"), int(spec.get("limit", 5000))


def recommend(turns: list[str], data_dir: str | Path = ".movierec", llm: str = "auto", more: bool = False,
              **options) -> Result:
    """Function API: five (or, with `more`, ten) catalog movies with reasons for the user turns."""
    return Handrolled.open(data_dir, llm=llm, **options).recommend(turns, more)


_OPEN: dict[tuple, Handrolled] = {}


def eval_recommend(turns: list[str], workspace) -> Result:
    """The `handrolled` pipeline of eval/pipelines.py; `workspace` is used for its data dir, catalog and
    --llm choice only (index.workspace imports LlamaIndex, so nothing else of it is touched)."""
    key = (str(workspace.root), workspace.chroma_host, workspace.catalog.fingerprint, workspace.llm_choice)
    if key not in _OPEN:
        _OPEN[key] = Handrolled.open(workspace.root, workspace.catalog, llm=workspace.llm_choice,
                                     chroma_host=workspace.chroma_host)
    return _OPEN[key].recommend(list(turns), more=True)
