"""report.md and the recall@5 chart for one evaluation run."""

from __future__ import annotations

import json
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on servers and in tests
import matplotlib.pyplot as plt  # noqa: E402

from eval import metrics  # noqa: E402
from eval.harness import REFERENCE, Evaluation  # noqa: E402
from eval.judge import RUBRIC, RUBRIC_VERSION  # noqa: E402
from eval.pipelines import ALIASES  # noqa: E402
from eval.transcripts.build import describe  # noqa: E402
from index.store import ENRICHED, find_collection  # noqa: E402
from tools.candidates import WEIGHTS_FILE  # noqa: E402

CHART = "recall_at_5.png"
SPLIT = """\
Transcripts come from evaluation users only (`user_id % 5 == 0`; their ratings never feed the collaborative
statistics, the popularity prior or the tuning). Each user's likes (ratings >= 4.0) are split in half
first (seeded); the turns state a mood, an era, 1-3 genres, possibly a subtitles stance, and two loved films,
all read from the profile half only; the held-out set is the other half, never looked at while writing the
turns. Two relevance sets: `all` (the held-out half) and `asked` (the part of it that passes the
conversation's own hard conditions). Details: eval/transcripts/build.py and eval/transcripts/profile.py."""


def write_report(evaluation: Evaluation, out_dir: Path, catalog, workspace=None,
                 transcripts_label: str = "the project's 20 fixed transcripts (eval/transcripts/fixed.json)") -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    chart = plot_recall(evaluation, out_dir / CHART)
    summaries = {name: evaluation.summary(name) for name in evaluation.runs}
    shares = list(evaluation.hard_share.values())
    lines = [
        "# movierec evaluation",
        "",
        f"- run: {time.strftime('%Y-%m-%d %H:%M')}; catalog: {catalog.source} ({len(catalog)} movies)",
        f"- LLM: {evaluation.llm}; judge: " + (f"{evaluation.judge_model} (rubric {RUBRIC_VERSION})"
                                                if evaluation.judge_model
                                                else "skipped (no LLM; only the rule check ran)"),
        f"- transcripts: {transcripts_label}, n = {len(evaluation.transcripts)}; "
        f"turns blocked by the input guard: {evaluation.blocked_turns}",
        f"- tool-path rows (enriched+rerank, fused, content, knn, genre, prior) search the "
        f"`{evaluation.tool_collection}` collection",
        "",
        "## Results",
        "",
        "Means over transcripts with 95% bootstrap intervals (2000 resamples, fixed seed); Δ is the paired "
        f"difference to `{REFERENCE}`.",
        "",
        results_table(summaries),
        "",
        f"![recall@5 per pipeline]({chart.name})",
        "",
    ]
    goal = evaluation.goal()
    if goal:
        lines += ["Goal: the agent's pipeline ahead of the best peer by >= 0.03 recall@5, paired interval above 0:",
                  "", "| relevance set | agent | best peer | peer | Δ [95% CI] | met |", "|---|---|---|---|---|---|"]
        lines += [f"| {label} | {g['agent']:.3f} | `{g['best_peer']}` | {g['peer']:.3f} | {g['difference'][0]:+.3f} "
                  f"[{g['difference'][1]:+.3f}, {g['difference'][2]:+.3f}] | {'yes' if g['met'] else 'no'} |"
                  for label, g in goal.items()]
        lines.append("")
    paired = evaluation.paired()
    if paired:
        lines += ["Paired differences in recall@5 (same transcripts, 95% bootstrap interval):", "",
                  "| comparison | Δ recall@5 |", "|---|---|"]
        lines += [f"| {pair} | {d[0]:+.3f} [{d[1]:+.3f}, {d[2]:+.3f}] |" for pair, d in paired.items()]
        lines.append("")
    if ALIASES:
        lines += [", ".join(f"`{a}` is `{b}`" for a, b in ALIASES.items()) + " (the same pipeline).", ""]
    if evaluation.skipped:
        lines += ["Not run: " + "; ".join(f"`{n}` ({why})" for n, why in evaluation.skipped.items()) + ".", ""]
    lines += [
        "## Metrics",
        "",
        "- recall@5 = |top5 ∩ H| / min(5, |H|), H = held-out liked films minus films the turns name;",
        "  plain recall@5 = |top5 ∩ H| / |H|; hit@5 (hit@10) = 1 if any of the top 5 (10) is in H;",
        "  recall@50 = |C ∩ H| / min(50, |H|), C = the 50 candidates the pipeline ranked (for the rerank rows:",
        "  the 10 shown, then the first search's fused candidates), i.e. could it find the films at all;",
        "  ndcg@10 with binary gains; coverage@5 = distinct films in all top-5 lists / catalog size (no interval:",
        "  resampling transcripts repeats lists and can only lower it);",
        "  popularity@5 = mean popularity percentile (training rating counts) of the top 5 (popularity bias);",
        "  hallucinated = ids an LLM returned that were not candidates (rerank invented ids), summed.",
        "- reasons citing a signal: share of shown reasons that name a stated mood, genre, era, language or"
        " loved film (rule check, no LLM).",
        "",
        "## Split",
        "",
        SPLIT,
        "",
        f"Held-out films that pass the transcript's own hard conditions (era, genres): mean "
        f"{sum(shares) / max(len(shares), 1):.0%}, lowest {min(shares, default=0):.0%}, highest "
        f"{max(shares, default=0):.0%}. Films outside them cannot be recommended by the tool-path rows.",
        "",
        describe(evaluation.transcripts, catalog),
        "",
        "## Enriched collection",
        "",
        enrichment_note(workspace),
        "",
        "## Fusion weights",
        "",
        weights_note(),
        "",
    ]
    if evaluation.judge_model:
        lines += ["## Judge rubric " + RUBRIC_VERSION, "", "```", RUBRIC, "```", ""]
    path = out_dir / "report.md"
    path.write_text("\n".join(lines))
    (out_dir / "results.json").write_text(json.dumps(evaluation.to_json(), indent=2) + "\n")
    return path


def _interval(row: dict, key: str, digits: int = 3) -> str:
    low, high = row.get(f"{key}_ci", (None, None))
    value = row[key]
    return f"{value:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]" if low is not None else f"{value:.{digits}f}"


def results_table(summaries: dict[str, dict]) -> str:
    lines = ["| pipeline | collection | recall@5 | recall@5 asked | Δ recall@5 vs baseline | plain recall@5 | hit@5 "
             "| hit@10 | recall@50 | ndcg@10 | coverage@5 | popularity@5 | hallucinated | reasons citing a signal "
             "| judge (1-5) | n |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, row in summaries.items():
        delta = row.get("recall@5_minus_baseline")
        delta_text = f"{delta[0]:+.3f} [{delta[1]:+.3f}, {delta[2]:+.3f}]" if delta else "–"
        cited = f"{row['reasons_citing_a_signal']:.0%}" if "reasons_citing_a_signal" in row else "–"
        judged = _interval(row, "judge_mean", 2) if "judge_mean" in row else "–"
        lines.append(f"| {name} | {row['collection'] or 'catalog'} | {_interval(row, 'recall@5')} "
                     f"| {_interval(row, 'recall@5_asked')} | {delta_text} "
                     f"| {row['plain_recall@5']:.3f} | {_interval(row, 'hit@5')} | {_interval(row, 'hit@10')} "
                     f"| {_interval(row, 'recall@50')} | {_interval(row, 'ndcg@10')} "
                     f"| {row['coverage@5']:.4f} | {_interval(row, 'popularity@5', 2)} | {row['hallucinated']} "
                     f"| {cited} | {judged} | {row['n']} |")
    return "\n".join(lines)


def plot_recall(evaluation: Evaluation, path: Path) -> Path:
    names = list(evaluation.runs)
    stats = [metrics.bootstrap_interval(evaluation.runs[n].values("recall5")) for n in names]
    means = [s[0] for s in stats]
    errors = [[s[0] - s[1] for s in stats], [s[2] - s[0] for s in stats]]
    figure, axis = plt.subplots(figsize=(max(6.0, 0.8 * len(names) + 2), 4))
    axis.bar(names, means, yerr=errors, capsize=4, color="#4c72b0")
    axis.set_ylabel("recall@5 (95% bootstrap interval)")
    axis.set_title(f"recall@5 over {len(evaluation.transcripts)} transcripts (LLM: {evaluation.llm})")
    axis.set_ylim(0, 1)
    plt.setp(axis.get_xticklabels(), rotation=30, ha="right")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def enrichment_note(workspace) -> str:
    """What stands behind the enriched collection, from its metadata and the enrichment cache."""
    if workspace is None:
        return "No workspace given."
    collection = find_collection(workspace.client, ENRICHED)
    if collection is None:
        return "The `enriched` collection is not built in this data dir (run `movierec enrich`)."
    meta = {k: v for k, v in (collection.metadata or {}).items() if k not in ("fingerprint", "hnsw:space")}
    lines = [f"Collection metadata: {', '.join(f'{k} = {v}' for k, v in sorted(meta.items())) or 'none'}; "
             f"{collection.count()} movies."]
    cache = workspace.enriched_path
    if cache.is_file():
        writers: dict[str, int] = {}
        for line in cache.read_text().splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            who = f"{record.get('prompt', '?')} by {record.get('model', '?')} ({record.get('status', '?')})"
            writers[who] = writers.get(who, 0) + 1
        lines.append(f"Enrichment cache {cache.name}: " + ", ".join(f"{n} rows {w}" for w, n in writers.items()) + ".")
    return " ".join(lines)


def weights_note() -> str:
    if not WEIGHTS_FILE.is_file():
        return "tools/fusion_weights.json is absent: the defaults in tools/candidates.py are in use."
    record = json.loads(WEIGHTS_FILE.read_text())
    weights = ", ".join(f"{k} {v:g}" for k, v in record["weights"].items())
    return f"{weights}. {record.get('procedure', '')} Tuning numbers: {record.get('recall', {})}."
