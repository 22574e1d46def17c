"""One evaluation run: every pipeline on every transcript, the metrics per transcript, summaries with intervals.

Data (transcripts), models (eval/pipelines.py) and metrics (eval/metrics.py) stay apart; this module only
replays and aggregates. Two relevance sets per transcript: `all` (the held-out films minus those the turns
name) and `asked` (those of them that pass the conversation's hard conditions, era and genres: what the
person asked for); transcripts whose `asked` set is empty drop out of the `asked` means. Intervals are percentile bootstraps over transcripts with a fixed seed; differences to
`baseline` are paired (the same resampled transcripts for both pipelines).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field

import numpy as np
from tqdm import tqdm

from eval import metrics
from eval.judge import Judge, cites_signal
from eval.pipelines import DEPTH, EvalContext, Ranking, resolve, run_pipeline
from eval.transcripts.conditions import hard_condition_share, passes_hard_conditions
from eval.transcripts.files import Transcript
from tools.search import request_from

REFERENCE = "baseline"
FULL = "enriched+rerank"  # the agent's pipeline, compared pairwise with every other row
PEERS = ("popularity", "prior", "itemknn", "itemknn+conditions", "knn", "ease", "ease+conditions", "als",
         "als+conditions")  # the classical recommenders, with and without the conversation's hard conditions
GOAL_MARGIN = 0.03  # recall@5 the agent's pipeline must lead the best peer by, interval above 0
RELEVANCE_SETS = {"all": ("recall@5", "recall5"), "asked": ("recall@5_asked", "recall5_asked")}


@dataclass
class Scored:
    """One pipeline on one transcript."""
    transcript_id: str
    ranking: Ranking
    relevant: set[int]
    seconds: float
    recall5: float
    recall5_asked: float  # NaN when no held-out film passes the conversation's hard conditions
    plain_recall5: float
    hit5: float
    hit10: float
    recall50: float  # of the candidates the pipeline ranked (Ranking.pool)
    ndcg10: float
    popularity5: float
    cited: list[bool] = field(default_factory=list)  # per shown reason: cites a stated signal
    grades: list[int] = field(default_factory=list)  # per shown reason: the judge's 1-5 score


@dataclass
class PipelineRun:
    name: str
    scored: list[Scored]
    collection: str | None

    def values(self, attribute: str) -> list[float]:
        return [getattr(s, attribute) for s in self.scored]


@dataclass
class Evaluation:
    llm: str
    runs: dict[str, PipelineRun]
    skipped: dict[str, str]
    transcripts: list[Transcript]
    hard_share: dict[str, float]  # transcript id -> share of held out passing its hard conditions
    blocked_turns: int
    catalog_size: int
    popularity: dict[int, float]
    judge_model: str | None  # None: judge skipped (no LLM)
    tool_collection: str

    def summary(self, name: str) -> dict:
        run = self.runs[name]
        n = len(run.scored)
        ci = lambda values: [round(x, 4) for x in metrics.bootstrap_interval(values)]  # noqa: E731
        rankings = [s.ranking.movie_ids for s in run.scored]
        row = {
            "recall@5": round(float(np.mean(run.values("recall5"))), 4), "recall@5_ci": ci(run.values("recall5"))[1:],
            "ndcg@10": round(float(np.mean(run.values("ndcg10"))), 4), "ndcg@10_ci": ci(run.values("ndcg10"))[1:],
            "n": n, "hallucinated": int(sum(s.ranking.hallucinated for s in run.scored)),
            "recall@5_asked": round(float(np.nanmean(run.values("recall5_asked"))), 4),
            "recall@5_asked_ci": ci(run.values("recall5_asked"))[1:],
            "n_asked": int(np.sum(~np.isnan(run.values("recall5_asked")))),
            "plain_recall@5": round(float(np.mean(run.values("plain_recall5"))), 4),
            "hit@5": round(float(np.mean(run.values("hit5"))), 4), "hit@5_ci": ci(run.values("hit5"))[1:],
            "hit@10": round(float(np.mean(run.values("hit10"))), 4), "hit@10_ci": ci(run.values("hit10"))[1:],
            "recall@50": round(float(np.mean(run.values("recall50"))), 4),
            "recall@50_ci": ci(run.values("recall50"))[1:],
            # no interval: a bootstrap resample repeats transcripts, so it can only lose distinct films
            "coverage@5": round(metrics.coverage(rankings, self.catalog_size), 4),
            "popularity@5": round(float(np.nanmean(run.values("popularity5"))), 4),
            "popularity@5_ci": ci(run.values("popularity5"))[1:],
            "collection": run.collection, "seconds": round(sum(s.seconds for s in run.scored), 1),
        }
        if REFERENCE in self.runs and name != REFERENCE:
            diff = metrics.paired_difference(run.values("recall5"), self.runs[REFERENCE].values("recall5"))
            row["recall@5_minus_baseline"] = [round(x, 4) for x in diff]
        cited = [c for s in run.scored for c in s.cited]
        if cited:
            row["reasons_citing_a_signal"] = round(sum(cited) / len(cited), 4)
        grades = [g for s in run.scored for g in s.grades]
        if grades:
            row["judge_mean"] = round(float(np.mean(grades)), 3)
            row["judge_mean_ci"] = ci([float(np.mean(s.grades)) for s in run.scored if s.grades])[1:]
        return row

    def paired(self, against: str = FULL, attribute: str = "recall5") -> dict[str, list[float]]:
        """recall@5 of `against` minus each other pipeline's, paired over transcripts, with intervals
        (`attribute="recall5_asked"`: the asked relevance set, over the transcripts where it is not empty)."""
        if against not in self.runs:
            return {}
        mine = np.array(self.runs[against].values(attribute))
        out = {}
        for name, run in self.runs.items():
            if name != against:
                theirs = np.array(run.values(attribute))
                keep = ~(np.isnan(mine) | np.isnan(theirs))
                out[f"{against} - {name}"] = [round(x, 4) for x in metrics.paired_difference(mine[keep],
                                                                                             theirs[keep])]
        return out

    def goal(self, against: str | None = None) -> dict:
        """Per relevance set: the best peer by mean recall@5, the paired difference of the agent's pipeline
        to it, and the verdict. Without an LLM the rerank keeps the fused order, so `fused` stands in for
        `enriched+rerank` when only it was run."""
        against = against or (FULL if FULL in self.runs or self.llm != "none" else "fused")
        peers = [p for p in PEERS if p in self.runs]
        if against not in self.runs or not peers:
            return {}
        out = {}
        for label, (key, attribute) in RELEVANCE_SETS.items():
            summaries = {p: self.summary(p)[key] for p in peers}
            best = max(summaries, key=summaries.get)
            diff = self.paired(against, attribute)[f"{against} - {best}"]
            out[label] = {"pipeline": against, "agent": self.summary(against)[key], "best_peer": best,
                          "peer": summaries[best],
                          "difference": diff, "met": diff[0] >= GOAL_MARGIN and diff[1] > 0}
        return out

    def to_json(self) -> dict:
        return {
            "llm": self.llm,
            "pipelines": {name: self.summary(name) for name in self.runs},
            "skipped": self.skipped,
            "transcripts": len(self.transcripts),
            "tool_collection": self.tool_collection,
            "blocked_turns": self.blocked_turns,
            "held_out_under_hard_conditions": round(float(np.mean(list(self.hard_share.values()))), 4),
            "judge": {"model": self.judge_model, "skipped": self.judge_model is None},
            "paired_recall@5": self.paired(),
            "paired_recall@5_asked": self.paired(attribute="recall5_asked"),
            "goal": self.goal(),
        }


def llm_label(ctx: EvalContext) -> str:
    backend = ctx.workspace.backend
    return "none" if backend.llm is None else f"{backend.name}:{backend.model}"


def evaluate(ctx: EvalContext, transcripts: list[Transcript], names: list[str] | None = None,
             judge: Judge | None = None, progress=sys.stderr) -> Evaluation:
    runnable, skipped = resolve(names, ctx)
    conversations = [ctx.conversation(t) for t in transcripts]
    percentile = ctx.services.collab.popularity_percentile()
    asked = {c.transcript.id: asked_set(ctx, c) for c in conversations}
    runs = {}
    for name in runnable:
        scored = []
        bar = tqdm(conversations, desc=f"eval {name}", unit="transcript", file=progress, disable=progress is None,
                   dynamic_ncols=True)
        for conversation in bar:
            bar.set_postfix_str(conversation.transcript.id)
            started = time.perf_counter()
            ranking = run_pipeline(name, ctx, conversation)
            relevant = metrics.relevant_set(conversation.transcript.held_out, conversation.mentioned)
            ranked = ranking.movie_ids
            shown = ranked[:5]
            wanted = asked[conversation.transcript.id]
            item = Scored(conversation.transcript.id, ranking, relevant, time.perf_counter() - started,
                          metrics.recall_at_k(ranked, relevant, 5),
                          metrics.recall_at_k(ranked, wanted, 5) if wanted else float("nan"),
                          metrics.plain_recall_at_k(ranked, relevant, 5),
                          metrics.hit_at_k(ranked, relevant, 5), metrics.hit_at_k(ranked, relevant, 10),
                          metrics.recall_at_k(ranking.pool, relevant, DEPTH), metrics.ndcg_at_k(ranked, relevant, 10),
                          metrics.mean_popularity(ranked, percentile, 5))
            reasons = [(m, ranking.reasons[m]) for m in shown if ranking.reasons.get(m)] if ranking.explained else []
            item.cited = [cites_signal(reason, conversation.preferences) for _, reason in reasons]
            if judge is not None and reasons:
                item.grades = [judge.grade(conversation, ctx.catalog[m], reason).score for m, reason in reasons]
            scored.append(item)
        bar.close()
        runs[name] = PipelineRun(name, scored, scored[0].ranking.collection if scored else None)
    latest = ctx.services.latest_year
    hard = {t.id: hard_condition_share(t, ctx.catalog, ctx.services.matcher, latest) for t in transcripts}
    return Evaluation(llm=llm_label(ctx), runs=runs, skipped=skipped, transcripts=transcripts, hard_share=hard,
                      blocked_turns=sum(c.blocked for c in conversations), catalog_size=len(ctx.catalog),
                      popularity=percentile, judge_model=judge.model if judge else None,
                      tool_collection=ctx.tool_collection)


def asked_set(ctx: EvalContext, conversation) -> set[int]:
    """The held-out films (minus those named) that pass the conversation's own hard conditions."""
    request = request_from(conversation.preferences, ctx.services.latest_year)
    relevant = metrics.relevant_set(conversation.transcript.held_out, conversation.mentioned)
    return {m for m in relevant if m in ctx.catalog and passes_hard_conditions(ctx.catalog[m], request)}


def catalog_mismatch(ctx: EvalContext, transcripts: list[Transcript]) -> str | None:
    """A warning when the transcripts were built from another catalog (their held-out films or likes differ)."""
    ratings = ctx.catalog.eval_ratings
    rated = {(int(u), int(m)) for u, m in zip(ratings["user_id"], ratings["movie_id"])}
    missing = sum(m not in ctx.catalog for t in transcripts for m in t.held_out)
    # transcripts from outside (`"user_id": -1`, e.g. ReDial's) have no ratings to check
    unrated = sum((t.user_id, m) not in rated for t in transcripts if t.user_id >= 0 for m in t.held_out)
    total = sum(len(t.held_out) for t in transcripts)
    if missing or unrated:
        return (f"{missing} of {total} held-out ids are not in this catalog and {unrated} are not ratings of "
                f"the transcript's user here: were these transcripts built for another catalog?")
    return None
