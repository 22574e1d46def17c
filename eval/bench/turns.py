"""`python -m eval.bench turns`: what a chat turn costs on a backend, over the fixed transcripts.

Each transcript's turns go, one by one, through a `ChatSession` (input guard, FunctionAgent with its Memory,
output guard), exactly as the UI sends them. Per turn it records wall seconds, LLM calls and tokens, the tools
the agent called, whether the LLM failed and the rules answered, and for the turn that recommends, the rerank
outcome. One JSON line per turn goes to `--out` as it finishes, so a long local run can be read while it goes.

`--path handrolled` replays the same turns through the hand-rolled chat (`handrolled/chat.py`) instead, for
the comparison in docs/comparison.md; it has no token meter and no tool calls, so those columns stay empty.

The summary answers: seconds per clarifying and per recommending turn (medians), tokens and calls per turn,
prompt tokens actually evaluated per turn (what the local model's prompt-head cache did not reuse), seconds
until the first recommended film was on screen (picks stream as the rerank writes them),
how often the model's tool calls were usable, how often the rerank JSON was valid, how often the model itself
called `search_movies` (otherwise the policy recommends after three signals), and recall@5 of the five films
the chat actually showed, against the transcript's held-out likes.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

from tqdm import tqdm

from agent.guards import warm_up
from agent.session import ChatSession, Reply
from eval.metrics import recall_at_k, relevant_set
from eval.transcripts.files import load_transcripts
from index.store import BASELINE, ENRICHED, collection_metadata
from index.workspace import Workspace
from tools.services import MovieServices


def add_parser(commands) -> None:
    turns = commands.add_parser("turns", help="seconds, tokens and validity per chat turn over the transcripts")
    turns.add_argument("--data-dir", help="a built data dir (default $MOVIEREC_DATA_DIR or .movierec)")
    turns.add_argument("--llm", default="auto", help="backend as in movierec --llm (default auto)")
    turns.add_argument("--transcripts", help="transcript file (default: the project's 20 fixed transcripts)")
    turns.add_argument("--limit", type=int, help="only the first N transcripts")
    turns.add_argument("--out", default="turns.jsonl", help="one JSON line per turn (default turns.jsonl)")
    turns.add_argument("--path", choices=("llamaindex", "handrolled"), default="llamaindex",
                       help="which implementation answers (default llamaindex)")
    turns.set_defaults(run=bench_turns)


def bench_turns(args) -> int:
    ws = Workspace.open(args.data_dir, llm_choice=args.llm)
    done = (collection_metadata(ws.client, ENRICHED) or {}).get("state") == "done"
    collection = ENRICHED if done else BASELINE
    if args.path == "handrolled":
        from handrolled.pipeline import Handrolled

        pipeline = Handrolled.open(ws.root, ws.catalog, llm=args.llm, recipe=collection)
        label, replay = pipeline.llm, lambda t, tick: _replay_handrolled(pipeline, t, tick)
    else:
        services = MovieServices.from_workspace(ws)
        label, replay = ws.backend.describe(), lambda t, tick: asyncio.run(_replay(services, collection, t, tick))
    transcripts = load_transcripts(args.transcripts)[: args.limit]
    started = time.perf_counter()
    if args.path != "handrolled":
        services.warm_up(collection)
    print(f"path: {args.path}; llm: {label}; collection: {collection}; transcripts: {len(transcripts)}; "
          f"collection opened in {time.perf_counter() - started:.1f} s and input screen loaded in "
          f"{warm_up():.1f} s at start (as the UI and the terminal chat do)", flush=True)
    rows = []
    bar = tqdm(total=sum(len(t.turns) for t in transcripts), desc=f"turns {args.path}", unit="turn",
               file=sys.stderr, dynamic_ncols=True)
    with Path(args.out).open("w") as out, bar:
        for transcript in transcripts:
            bar.set_postfix_str(transcript.id)
            for row in replay(transcript, bar.update):
                rows.append(row)
                out.write(json.dumps(row) + "\n")
                out.flush()
            seconds = sum(r["seconds"] for r in rows if r["id"] == transcript.id)
            bar.write(f"{transcript.id}: {len(transcript.turns)} turns, {seconds:.0f} s, recall@5 "
                      f"{rows[-1]['recall@5']}", file=sys.stdout)
    print(summary(rows))
    return 0


async def _replay(services: MovieServices, collection: str, transcript, tick=lambda: None) -> list[dict]:
    session = ChatSession(services, f"bench-{transcript.id}", collection)
    rows = []
    for number, text in enumerate(transcript.turns, 1):
        started = time.perf_counter()
        reply = await session.send(text)
        rows.append(_row(transcript.id, number, reply, time.perf_counter() - started, session))
        tick()
    rows[-1]["recall@5"] = _recall(transcript, session.replies, session.preferences)
    return rows


def _replay_handrolled(pipeline, transcript, tick=lambda: None) -> list[dict]:
    from handrolled.chat import Chat

    chat, rows, replies = Chat(pipeline), [], []
    has_llm = pipeline.reranker.client is not None
    for number, text in enumerate(transcript.turns, 1):
        started = time.perf_counter()
        reply = chat.send(text)
        replies.append(reply)
        rows.append({"id": transcript.id, "turn": number, "seconds": round(time.perf_counter() - started, 2),
                     "kind": "recommending" if reply.recommendations else "clarifying", "calls": None,
                     "tokens_in": None, "tokens_evaluated": None, "tokens_out": None,
                     "first_pick_seconds": round(time.perf_counter() - started, 2) if reply.recommendations else None,
                     "first_reason_seconds": round(time.perf_counter() - started, 2) if reply.recommendations else None,
                     "tool_calls": [], "blocked": reply.blocked,
                     "llm_failed": reply.fallback, "error": None, "rerank_llm": has_llm and bool(reply.recommendations),
                     "rerank_valid": has_llm and bool(reply.recommendations) and not reply.fallback,
                     "invented_ids": len(reply.invented_ids), "filled": 0, "removed": len(reply.removed),
                     "recall@5": None})
        tick()
    rows[-1]["recall@5"] = _recall(transcript, replies, chat.prefs)
    return rows


def _recall(transcript, replies, prefs) -> float | None:
    """recall@5 of the last five films the conversation showed."""
    final = next((r.recommendations for r in reversed(replies) if r.recommendations), [])
    relevant = relevant_set(transcript.held_out, prefs.named_ids)
    return round(recall_at_k([r.movie_id for r in final[:5]], relevant), 3) if relevant and final else None


def _first_pick(reply: Reply, seconds: float, shown: float | None) -> float | None:
    """Seconds until the first film (or its reason) was on screen: streamed picks show early, otherwise the
    whole turn."""
    if not reply.recommendations:
        return None
    return round(shown if shown is not None else seconds, 2)


def _row(transcript_id: str, number: int, reply: Reply, seconds: float, session: ChatSession) -> dict:
    search = session.tools.searches[-1] if reply.recommendations and session.tools.searches else None
    outcome = search.outcome if search else None
    return {
        "id": transcript_id, "turn": number, "kind": "recommending" if reply.recommendations else "clarifying",
        "seconds": round(seconds, 2), "calls": reply.usage.calls, "tokens_in": reply.usage.tokens_in,
        "tokens_evaluated": reply.usage.tokens_evaluated, "tokens_out": reply.usage.tokens_out,
        "first_pick_seconds": _first_pick(reply, seconds, reply.first_pick_seconds),
        "first_reason_seconds": _first_pick(reply, seconds, reply.first_reason_seconds),
        "tool_calls": reply.tool_calls, "blocked": reply.blocked,
        "llm_failed": reply.error is not None, "error": reply.error,
        "rerank_llm": bool(outcome and outcome.used_llm), "rerank_valid": bool(outcome and outcome.used_llm
                                                                              and not outcome.fallback),
        "invented_ids": len(outcome.invented_ids) if outcome else 0, "filled": outcome.filled if outcome else 0,
        "removed": len(reply.removed), "recall@5": None, "reading": reply.reading, "policy_search": reply.policy_search,
        "policy_question": reply.policy_question,
        "reading_error": reply.reading_error,
    }


def summary(rows: list[dict]) -> str:
    lines = []
    for kind in ("clarifying", "recommending"):
        group = [r for r in rows if r["kind"] == kind]
        if group:
            seconds = [r["seconds"] for r in group]
            line = f"{kind} turns: {len(group)}; median {statistics.median(seconds):.1f} s (p90 {_p90(seconds):.1f})"
            if group[0]["calls"] is not None:
                line += (f"; LLM calls {_mean(group, 'calls'):.1f}; tokens in {_mean(group, 'tokens_in'):.0f} / "
                         f"out {_mean(group, 'tokens_out'):.0f} per turn")
            lines.append(line)
            evaluated = [r["tokens_evaluated"] for r in group if r.get("tokens_evaluated") is not None]
            if evaluated:
                lines.append(f"  prompt tokens evaluated (after cache reuse) per {kind} turn: median "
                             f"{statistics.median(evaluated):.0f}, mean {statistics.mean(evaluated):.0f}, "
                             f"max {max(evaluated)}")
            for key, what in (("first_pick_seconds", "first pick on screen"),
                              ("first_reason_seconds", "first pick's reason on screen")):
                firsts = [r[key] for r in group if r.get(key) is not None]
                if firsts:
                    lines.append(f"  {what}: median {statistics.median(firsts):.1f} s (p90 {_p90(firsts):.1f})")
    agent_turns = [r for r in rows if not r["blocked"]]
    failed = sum(r["llm_failed"] for r in agent_turns)
    lines.append(f"turns the LLM answered without failing (tool calls parsed, no timeout): "
                 f"{len(agent_turns) - failed}/{len(agent_turns)}")
    read = [r for r in agent_turns if r.get("reading")]
    if read:
        lines.append(f"turns the LLM read (the rest: the rules' reading, after a timeout or invalid output): "
                     f"{sum(r['reading'] == 'llm' for r in read)}/{len(read)}")
    recommending = [r for r in rows if r["kind"] == "recommending"]
    if rows and rows[0]["calls"] is not None:  # the hand-rolled chat has no tools: its policy always searches
        by_policy = sum(bool(r.get("policy_search")) for r in recommending)
        by_model = sum("search_movies" in r["tool_calls"] for r in recommending)
        lines.append(f"recommending turns: the policy searched in {by_policy}/{len(recommending)} (picks due), "
                     f"the model called search_movies in {by_model}")
        clarifying = [r for r in agent_turns if r["kind"] == "clarifying"]
        lines.append(f"clarifying turns: the policy asked in {sum(bool(r.get('policy_question')) for r in clarifying)}"
                     f"/{len(clarifying)} (signals missing, nothing asked), the agent answered the rest")
    reranked = [r for r in recommending if r["rerank_llm"]]
    lines.append(f"rerank JSON valid: {sum(r['rerank_valid'] for r in reranked)}/{len(reranked)}; invented ids "
                 f"{sum(r['invented_ids'] for r in reranked)}; picks filled from retrieval order "
                 f"{sum(r['filled'] for r in reranked)}; titles removed by the output guard "
                 f"{sum(r['removed'] for r in rows)}")
    recalls = [r["recall@5"] for r in rows if r["recall@5"] is not None]
    if recalls:
        lines.append(f"recall@5 of the last five films the chat showed: {statistics.mean(recalls):.3f} "
                     f"over {len(recalls)} transcripts")
    return "\n".join(lines)


def _mean(rows: list[dict], key: str) -> float:
    return statistics.mean(r[key] for r in rows)


def _p90(values: list[float]) -> float:
    return sorted(values)[min(len(values) - 1, int(0.9 * len(values)))]
