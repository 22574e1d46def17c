"""`movierec recommend --transcript`, `movierec eval` and `movierec audit` (ui/cli.py parses, these run).

With --json, stdout carries exactly the JSON of the contract (../shared/DESIGN.md); the backend line and the
report path go to stderr.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from eval.harness import catalog_mismatch, evaluate, llm_label
from eval.pipelines import ALIASES, PIPELINES, EvalContext, collection_built, run_pipeline
from eval.transcripts.files import load_transcripts
from index.errors import UserError
from index.store import BASELINE, ENRICHED
from index.workspace import Workspace

DEFAULT_PIPELINE = "enriched+rerank"


def _say(text: str, as_json: bool) -> None:
    print(text, file=sys.stderr if as_json else sys.stdout)


def _transcripts(path: str | None):
    try:
        return load_transcripts(path)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UserError(f"cannot read transcripts from {path or 'eval/transcripts/fixed.json'}: {exc}") from exc


def recommend_command(ws: Workspace, transcript_file: str, pipeline: str = DEFAULT_PIPELINE,
                      transcript_id: str | None = None, as_json: bool = False) -> int:
    transcripts = _transcripts(transcript_file)
    chosen = [t for t in transcripts if transcript_id in (None, t.id)]
    if not chosen:
        raise UserError(f"no transcript with id {transcript_id!r} in {transcript_file}")
    name = ALIASES.get(pipeline, pipeline)
    if name not in PIPELINES:
        raise UserError(f"unknown pipeline {pipeline!r}; choose from {', '.join([*PIPELINES, *ALIASES])}")
    ctx = EvalContext(ws)
    _say(f"catalog: {ws.catalog.source}; llm: {ws.backend.describe()}", as_json)
    conversation = ctx.conversation(chosen[0])
    ranking = run_pipeline(name, ctx, conversation)
    recommendations = []
    for movie_id in ranking.movie_ids[:5]:
        movie = ctx.catalog[movie_id]
        recommendations.append({"movie_id": movie.movie_id, "title": movie.title, "year": movie.year,
                                "reason": ranking.reasons.get(movie_id, "")})
    result = {"pipeline": pipeline, "llm": llm_label(ctx), "recommendations": recommendations,
              "blocked": conversation.blocked > 0, "preferences": conversation.preferences.to_json()}
    if as_json:
        print(json.dumps(result, ensure_ascii=False))
        return 0
    note = " (the input guard filtered a turn)" if result["blocked"] else ""
    print(f"{pipeline} on transcript {chosen[0].id}{note}")
    for i, rec in enumerate(recommendations, 1):
        print(f"{i}. {rec['title']}" + (f" — {rec['reason']}" if rec["reason"] else ""))
    return 0


def eval_command(ws: Workspace, transcript_file: str | None = None, pipelines: str | None = None,
                 out: str | None = None, as_json: bool = False, judge_reasons: bool = True) -> int:
    """`judge_reasons=False` skips the LLM judge (the rule check still runs): with the local model it grades
    every shown reason, minutes a conversation on 2 cores, when only the ranking is wanted."""
    from eval.judge import Judge
    from eval.report import write_report

    transcripts = _transcripts(transcript_file)
    ctx = EvalContext(ws)
    _say(f"catalog: {ws.catalog.source}; llm: {ws.backend.describe()}", as_json)
    if warning := catalog_mismatch(ctx, transcripts):
        print(f"movierec: warning: {warning}", file=sys.stderr)
    names = [n.strip() for n in pipelines.split(",") if n.strip()] if pipelines else None
    backend = ws.backend
    judged = judge_reasons and backend.llm is not None
    judge = Judge(backend.llm, f"{backend.name}:{backend.model}") if judged else None
    try:
        evaluation = evaluate(ctx, transcripts, names, judge)
    except ValueError as exc:
        raise UserError(str(exc)) from exc
    for name, why in evaluation.skipped.items():
        print(f"movierec: skipped pipeline {name}: {why}", file=sys.stderr)
    label = transcript_file or "the project's 20 fixed transcripts (eval/transcripts/fixed.json)"
    path = write_report(evaluation, Path(out) if out else ws.root, ctx.catalog, ws, label)
    if as_json:
        print(json.dumps(evaluation.to_json()))
    else:
        from eval.report import results_table

        print(results_table({name: evaluation.summary(name) for name in evaluation.runs}))
        if evaluation.judge_model is None:
            why = "--no-judge" if backend.llm is not None else "no LLM"
            print(f"judge: skipped ({why}); only the rule check of the reasons ran")
    _say(f"report: {path}", as_json)
    return 0


def audit_command(ws: Workspace, transcript_file: str | None = None, out: str | None = None,
                  as_json: bool = False) -> int:
    from eval.guards.audit import run_audit
    from tools.services import MovieServices

    transcripts = _transcripts(transcript_file)
    _say(f"catalog: {ws.catalog.source}; llm: {ws.backend.describe()}", as_json)
    services = MovieServices.from_workspace(ws)
    collection = ENRICHED if collection_built(ws, ENRICHED) else BASELINE
    backend = ws.backend
    result = run_audit(services, transcripts, collection,
                       "none" if backend.llm is None else f"{backend.name}:{backend.model}")
    target = (Path(out) if out else ws.root)
    target.mkdir(parents=True, exist_ok=True)
    path = target / "audit.md"
    path.write_text(result.to_markdown())
    print(json.dumps(result.to_json()) if as_json else result.to_markdown())
    _say(f"audit report: {path}", as_json)
    return 0
