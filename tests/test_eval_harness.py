"""A small evaluation run end to end: pipelines, metrics, report and chart, the JSON contracts."""

import json

import pytest

from eval import commands, pipelines
from eval.harness import evaluate
from eval.judge import cites_signal, cited_signals
from eval.pipelines import EvalContext, Ranking
from eval.report import write_report
from eval.transcripts.build import build_eval_transcripts
from eval.transcripts.files import Transcript, save_transcripts

FAST = ["baseline", "fused+rerank", "fused", "knn", "popularity", "itemknn"]


@pytest.fixture(scope="module")
def workspace(eval_workspace):
    return eval_workspace


@pytest.fixture(scope="module")
def transcripts(workspace):
    built = build_eval_transcripts(workspace.catalog, n=3).transcripts
    assert len(built) == 3
    return built


@pytest.fixture(scope="module")
def evaluation(workspace, transcripts):
    return evaluate(EvalContext(workspace), transcripts, FAST, progress=None)


def test_every_requested_pipeline_ranks_every_transcript(evaluation, transcripts, workspace):
    assert list(evaluation.runs) == ["baseline", "enriched+rerank", "fused", "knn", "popularity", "itemknn"]
    for run in evaluation.runs.values():
        assert [s.transcript_id for s in run.scored] == [t.id for t in transcripts]
        for s in run.scored:
            assert 5 <= len(s.ranking.movie_ids) <= 10 and len(set(s.ranking.movie_ids)) == len(s.ranking.movie_ids)
            assert all(m in workspace.catalog for m in s.ranking.movie_ids)
            assert 0.0 <= s.recall5 <= 1.0 and 0.0 <= s.ndcg10 <= 1.0


def test_named_films_are_never_recommended(evaluation, workspace):
    ctx = EvalContext(workspace)
    for run in evaluation.runs.values():
        for s, t in zip(run.scored, evaluation.transcripts):
            assert not set(s.ranking.movie_ids) & ctx.conversation(t).mentioned


def test_a_mentioned_title_in_the_held_out_set_scores_nothing(workspace, monkeypatch):
    ctx = EvalContext(workspace)
    heat = ctx.services.matcher.match("Heat").movie.movie_id
    other = next(m for m in workspace.catalog.movies if m != heat)
    transcript = Transcript("x1", 5, ("I loved Heat", "something tense", "90s please"), (heat, other))
    monkeypatch.setitem(pipelines.PIPELINES, "echo", _Echo([heat]))
    result = evaluate(ctx, [transcript], ["echo"], progress=None)
    scored = result.runs["echo"].scored[0]
    assert scored.relevant == {other} and scored.recall5 == 0.0 and scored.hit5 == 0.0


class _Echo:
    def __init__(self, ids, candidates=()):
        self.ids, self.candidates = ids, candidates

    def run(self, ctx, conversation):
        return Ranking(list(self.ids), list(self.candidates))


def test_hit_at_10_and_recall_at_50_read_the_top_10_and_the_candidates(workspace, monkeypatch):
    ctx = EvalContext(workspace)
    ids = list(workspace.catalog.movies)
    held = (ids[300], ids[301])  # never named: the turns say no titles
    shown = ids[100:110]
    ninth = [*shown[:8], held[0], shown[9]]
    deep = [*shown, *ids[200:230], held[1], *ids[230:239]]  # held[1] is the 41st candidate
    monkeypatch.setitem(pipelines.PIPELINES, "ninth", _Echo(ninth, [*ninth, *ids[200:240]]))
    monkeypatch.setitem(pipelines.PIPELINES, "deep", _Echo(shown, deep))
    monkeypatch.setitem(pipelines.PIPELINES, "beyond50", _Echo(shown, [*deep[:40], *ids[240:250], held[1]]))
    transcript = Transcript("x3", -1, ("something tense", "the 90s"), held)
    result = evaluate(ctx, [transcript], ["ninth", "deep", "beyond50"], progress=None)
    ninth_row, deep_row, beyond = (result.summary(n) for n in ("ninth", "deep", "beyond50"))
    assert ninth_row["hit@5"] == 0.0 and ninth_row["hit@10"] == 1.0 and ninth_row["recall@50"] == 0.5
    assert deep_row["hit@10"] == 0.0 and deep_row["recall@50"] == 0.5
    assert beyond["recall@50"] == 0.0  # the 51st candidate is outside the 50


def test_every_pipeline_ranks_50_candidates_starting_with_what_it_shows(evaluation):
    for name, run in evaluation.runs.items():
        for s in run.scored:
            pool = s.ranking.pool
            assert pool[:len(s.ranking.movie_ids)] == s.ranking.movie_ids and len(set(pool)) == len(pool)
            assert len(pool) == 50 or name == "itemknn", name  # item-kNN ranks only films with a similarity


def test_the_tool_path_and_fusion_agree_without_an_llm(evaluation):
    rerank, fused = evaluation.runs["enriched+rerank"], evaluation.runs["fused"]
    assert [s.ranking.movie_ids[:5] for s in rerank.scored] == [s.ranking.movie_ids[:5] for s in fused.scored]
    assert all(s.cited and all(s.cited) for s in rerank.scored)  # evidence reasons name what was said
    assert evaluation.judge_model is None


def test_summary_has_the_contract_keys_and_intervals(evaluation):
    data = evaluation.to_json()
    assert data["llm"] == "none" and data["judge"]["skipped"]
    for name, row in data["pipelines"].items():
        assert {"recall@5", "hit@10", "recall@50", "ndcg@10", "n", "hallucinated"} <= set(row)
        assert row["hit@5"] <= row["hit@10"] and row["recall@50"] >= 0
        assert row["n"] == 3 and row["hallucinated"] == 0
        low, high = row["recall@5_ci"]
        assert low <= row["recall@5"] <= high
    assert "recall@5_minus_baseline" in data["pipelines"]["fused"]
    paired = data["paired_recall@5"]
    assert set(paired) == {f"enriched+rerank - {n}" for n in data["pipelines"] if n != "enriched+rerank"}
    assert paired["enriched+rerank - fused"] == [0.0, 0.0, 0.0]  # the same top 5 without an LLM


def test_report_and_chart_are_written(evaluation, workspace, tmp_path):
    path = write_report(evaluation, tmp_path / "out", workspace.catalog, workspace)
    text = path.read_text()
    assert path.name == "report.md" and "| fused |" in text and "recall_at_5.png" in text
    assert "held out under hard conditions" in text and "## Split" in text
    chart = tmp_path / "out" / "recall_at_5.png"
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_unknown_pipelines_are_refused(workspace):
    with pytest.raises(ValueError):
        evaluate(EvalContext(workspace), [], ["no-such-pipeline"], progress=None)


def test_recommend_and_eval_print_exactly_the_json_contracts(workspace, transcripts, tmp_path, capsys):
    file = tmp_path / "t.json"
    save_transcripts(transcripts[:2], file)
    assert commands.recommend_command(workspace, str(file), "fused+rerank", as_json=True) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"pipeline", "llm", "recommendations", "blocked", "preferences"}
    said = out["preferences"]
    assert {"loved", "disliked", "seen", "genres", "avoid_genres", "era", "mood", "keywords", "audience",
            "language"} <= set(said)
    assert all(set(m) == {"movie_id", "title"} for m in said["loved"] + said["disliked"] + said["seen"])
    assert said == commands_preferences(workspace, transcripts[0])
    assert out["pipeline"] == "fused+rerank" and out["llm"] == "none" and out["blocked"] is False
    assert len(out["recommendations"]) == 5
    assert all(set(r) == {"movie_id", "title", "year", "reason"} and r["reason"] for r in out["recommendations"])

    assert commands.eval_command(workspace, str(file), "baseline,popularity", str(tmp_path / "r"), True) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data["pipelines"]) == {"baseline", "popularity"} and data["pipelines"]["baseline"]["n"] == 2
    assert (tmp_path / "r" / "report.md").is_file() and (tmp_path / "r" / "recall_at_5.png").is_file()


def test_no_judge_skips_the_llm_judge_but_not_the_evaluation(workspace, transcripts, tmp_path, capsys,
                                                             monkeypatch):
    from llama_index.core.llms import MockLLM

    from index.llm.backends import Backend

    monkeypatch.setattr(workspace, "_backend", Backend("openai-like", "scripted", MockLLM(), 1))
    file = tmp_path / "t.json"
    save_transcripts(transcripts[:1], file)
    judged = {}
    for judge_reasons in (True, False):
        assert commands.eval_command(workspace, str(file), "popularity", str(tmp_path / "r"), True,
                                     judge_reasons=judge_reasons) == 0
        judged[judge_reasons] = json.loads(capsys.readouterr().out)["judge"]
    assert judged[True] == {"model": "openai-like:scripted", "skipped": False}
    assert judged[False] == {"model": None, "skipped": True}


def commands_preferences(workspace, transcript) -> dict:
    return EvalContext(workspace).conversation(transcript).preferences.to_json()


def test_the_rule_check_finds_stated_signals(workspace):
    ctx = EvalContext(workspace)
    said = Transcript("x2", 5, ("I want something tense", "the 90s", "I loved Heat"), (1,))
    prefs = ctx.conversation(said).preferences
    assert cited_signals("Fans of Heat (1995) loved it.", prefs) == {"loved"}
    assert cited_signals("A gripping ride from 1996, right in the 90s.", prefs) == {"mood", "era"}
    assert not cites_signal("A well-liked film.", prefs)
