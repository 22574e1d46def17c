"""What the tools share per process: catalog, title matcher, collaborative model, one searcher per collection."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from index.collab import Collaborative
from index.collab.als import ALS
from index.collab.cache import fitted
from index.collab.ease import EASE
from index.matching import TitleMatcher
from index.store import BASELINE, ENRICHED, collection_nodes
from index.workspace import Workspace
from tools.candidates import CandidateGenerator, FusionWeights
from tools.rerank import JustifiedRerank

COLLECTIONS = (ENRICHED, BASELINE)
# 50 candidates make a ~3500-token rerank prompt: more than a 4096-token window holds beside the conversation.
# Such models see the first 12: each line is ~55 tokens, and a 1.5B model on 2 cores reads ~30 tokens a second.
SMALL_WINDOW = 8192
SMALL_WINDOW_CANDIDATES = 12


@dataclass(eq=False)
class MovieServices:
    workspace: Workspace
    reranker: JustifiedRerank
    weights: FusionWeights = field(default_factory=FusionWeights.load)
    second_opinion: bool = True  # may the input guard ask the LLM about turns it is unsure of (Backend.screens_turns)
    agent_asks: bool = True  # does the agent write the clarifying questions (Backend.writes_questions)
    _generators: dict[str, CandidateGenerator] = field(default_factory=dict, repr=False)

    @classmethod
    def from_workspace(cls, ws: Workspace, use_llm: bool = True, **rerank_options) -> "MovieServices":
        llm = ws.backend.llm if use_llm else None
        if llm is not None and llm.metadata.context_window < SMALL_WINDOW:
            rerank_options.setdefault("max_candidates", SMALL_WINDOW_CANDIDATES)
        return cls(workspace=ws, reranker=JustifiedRerank(llm=llm, **rerank_options),
                   second_opinion=ws.backend.screens_turns if use_llm else True,
                   agent_asks=ws.backend.writes_questions if use_llm else True)

    @property
    def catalog(self):
        return self.workspace.catalog

    @cached_property
    def matcher(self) -> TitleMatcher:
        return TitleMatcher(self.catalog)

    @cached_property
    def collab(self) -> Collaborative:
        return Collaborative.from_catalog(self.catalog)

    @cached_property
    def ease(self) -> EASE:
        """Fitted once per like matrix and kept under `<data dir>/collab/`."""
        return fitted(EASE, self.collab, self.workspace.root / "collab")

    @cached_property
    def als(self) -> ALS:
        return fitted(ALS, self.collab, self.workspace.root / "collab")

    @cached_property
    def latest_year(self) -> int:
        return max(m.year or 0 for m in self.catalog)

    def warm_up(self, collection: str = ENRICHED) -> None:
        """Build what the first search would otherwise build inside someone's turn: the title matcher and the
        collection's generator."""
        self.matcher  # noqa: B018 (a cached property, built here)
        self.generator(collection)

    def generator(self, collection: str = ENRICHED) -> CandidateGenerator:
        """Built on first use (opening the collection and indexing BM25 take a few seconds)."""
        if collection not in COLLECTIONS:
            raise ValueError(f"unknown collection {collection!r}; use one of {COLLECTIONS}")
        if collection not in self._generators:
            index = self.workspace.index(collection)
            nodes = collection_nodes(index.vector_store.client)  # the same collection, even if a build swaps it
            models = {name: getattr(self, name) for name in ("ease", "als") if getattr(self.weights, name)}
            self._generators[collection] = CandidateGenerator(self.catalog, self.collab, index, nodes, self.weights,
                                                              models=models)
        return self._generators[collection]
