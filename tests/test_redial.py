"""eval/redial: ReDial-format dialogues to transcripts, and the reading check's arithmetic, on synthetic data."""

import json
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest

from eval.redial import convert as conv
from eval.redial import dialogues as dlg
from eval.redial.__main__ import main
from eval.redial.dialogues import Dialogue, Utterance, load_dialogues, resolve
from eval.redial.reading import make_reader, reading_check
from eval.transcripts.files import load_transcripts, save_transcripts
from index.catalog import load_catalog
from index.errors import UserError
from index.matching import TitleMatcher
from tools.preferences import Preferences

SAMPLE = Path(__file__).parent / "data" / "redial_sample.json"
MOVIES = [
    (1, "Heat (1995)", "Action|Crime|Thriller"), (2, "Toy Story (1995)", "Animation|Children|Comedy"),
    (3, "Pulp Fiction (1994)", "Crime|Drama"), (4, "Fargo (1996)", "Crime|Drama|Thriller"),
    (5, "Jurassic Park (1993)", "Action|Adventure|Sci-Fi"), (6, "Groundhog Day (1993)", "Comedy|Romance"),
    (7, "Halloween (1978)", "Horror"), (8, "It (1990)", "Horror|Mystery"), (9, "Frozen (2013)", "Animation"),
]
RATINGS = [(u, m, 4.0) for u in range(1, 7) for m in range(1, 10)]


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    from conftest import write_movielens

    return load_catalog(str(write_movielens(tmp_path_factory.mktemp("ml") / "ml-redial", MOVIES, RATINGS)))


@pytest.fixture(scope="module")
def matcher(catalog):
    return TitleMatcher(catalog)


@pytest.fixture(scope="module")
def conversion(matcher):
    return conv.convert_all(load_dialogues(SAMPLE), matcher, 2013)


def test_year_exact_resolution_never_maps_a_remake_to_the_original(matcher):
    assert resolve("Halloween (1978)", matcher).movie_id == 7
    assert resolve("Halloween (2007)", matcher) is None and resolve("It (2017)", matcher) is None
    assert resolve("Halloween", matcher) is None  # no year: not resolved
    assert resolve("The Groundhog Day (1993)", matcher).movie_id == 6


def test_turns_stop_before_the_first_suggestion_of_the_accepted_film(conversion):
    first = next(t for t in conversion.transcripts if t.id == "redial-101")
    assert first.user_id == -1 and first.held_out == (6,)
    # the seeker's two turns before "Then Groundhog Day (1993) ...", ReDial's <...> duplicate removed
    assert first.turns == ("Hi! I want a funny movie for tonight, something from the 90s.",
                           "I wasn't a big fan of Jurassic Park (1993) , too scary.")


def test_several_accepted_films_cut_before_the_first_and_are_all_held_out(conversion):
    both = next(t for t in conversion.transcripts if t.id == "redial-109")
    assert both.turns == ("I want a crime film.",) and both.held_out == (4, 1)  # Fargo suggested first


def test_every_other_dialogue_is_dropped_with_its_reason(conversion):
    assert [t.id for t in conversion.transcripts] == ["redial-101", "redial-109"]
    assert conversion.dropped == {
        "102": conv.NOT_IN_CATALOG,  # It (2017); the catalog has the 1990 film
        "103": conv.NOT_IN_CATALOG,  # Halloween (2007); the catalog has 1978's
        "104": conv.NO_ACCEPTED, "105": conv.NO_TURNS, "106": conv.NAMED_FIRST,
        "107": conv.NO_YEAR, "108": conv.NOT_SUGGESTED,
    }
    summary = conversion.summary("dev", 9)
    assert summary.startswith("dev: 2 of 9 dialogues converted (3 held-out films); dropped 7 (")
    assert f"{conv.NOT_IN_CATALOG}: 2" in summary


def _chat(*lines: tuple[str, ...], accepted: tuple[str, ...] = ()) -> Dialogue:
    """Utterances as (participant, text, *acts)."""
    return Dialogue("d1", tuple(Utterance(i, who, text, tuple(acts)) for i, (who, text, *acts) in enumerate(lines)),
                    accepted)


def test_an_acc_that_names_no_film_accepts_the_recommenders_latest_suggestions(matcher):
    chat = _chat(("USER", "Something from the 90s please.", "IQU"),
                 ("AGENT", "Heat (1995) or Fargo (1996) ?", "REC-S"),
                 ("USER", "What is the second one about?", "INQ"),
                 ("AGENT", "A kidnapping in the snow.", "R-ANS"),  # writes no film: the ACC answers the one before
                 ("USER", "I'll check those out, thanks!", "ACC"))
    transcript = conv.convert(chat, matcher, 2013)
    assert transcript.turns == ("Something from the 90s please.",) and transcript.held_out == (1, 4)


def test_an_acc_that_names_a_film_accepts_that_film_only(matcher):
    chat = _chat(("USER", "I want a comedy.", "IQU"),
                 ("AGENT", "Groundhog Day (1993) or Toy Story (1995) ?", "REC-S"),
                 ("USER", "Toy Story (1995) sounds fun.", "ACC"))
    assert conv.convert(chat, matcher, 2013).held_out == (2,)


def test_films_the_seeker_watched_or_named_before_are_not_accepted(matcher):
    chat = _chat(("USER", "I loved Heat (1995) , any crime films?", "PRO"),
                 ("AGENT", "Fargo (1996) is by the Coens, like Heat (1995) in mood.", "REC-S"),
                 ("USER", "Fargo (1996) is one of my favorites! Anything else?", "SEE"),
                 ("AGENT", "Pulp Fiction (1994) or Jurassic Park (1993)", "REC-S"),
                 ("USER", "I've seen Jurassic Park (1993) , but I will watch Pulp Fiction (1994) .", "SEE", "ACC"),
                 ("AGENT", "Groundhog Day (1993) then, or Heat (1995) again.", "REC-S"),
                 ("USER", "Groundhog Day (1993) is one of my favorites, and I'll rewatch Heat (1995) !", "SEE", "ACC"))
    # Heat was loved before it was suggested; Fargo drew no ACC; Jurassic Park was seen; Groundhog Day was
    # loved beside a SEE act: only Pulp Fiction is left, and the turns stop before its suggestion
    transcript = conv.convert(chat, matcher, 2013)
    assert transcript.held_out == (3,) and len(transcript.turns) == 2


def test_acc_films_join_the_metadatas_and_the_cut_is_before_the_first_suggested(matcher):
    chat = _chat(("USER", "Something scary.", "IQU"),
                 ("AGENT", "Halloween (1978) is a classic.", "REC-S"),
                 ("USER", "Oh yes, I need to see that.", "ACC"),
                 ("AGENT", "It (1990) is good too.", "REC-S"),
                 ("USER", "Thanks, bye.", "OTH"), accepted=("It",))
    assert conv.convert(chat, matcher, 2013).held_out == (7, 8)


def test_an_acc_on_a_film_the_catalog_lacks_is_dropped_as_not_in_the_catalog(matcher):
    chat = _chat(("USER", "Something scary.", "IQU"), ("AGENT", "It (2017) is great.", "REC-S"),
                 ("USER", "I'll watch it!", "ACC"))
    assert conv.convert(chat, matcher, 2013) == conv.NOT_IN_CATALOG


def _dialogue(*seeker_texts: str) -> Dialogue:
    utterances = []
    for text in seeker_texts:
        utterances += [Utterance(len(utterances), "AGENT", "...", ("OTH",)),
                       Utterance(len(utterances) + 1, "USER", text, ("PRO",))]
    return Dialogue("d1", tuple(utterances), ())


def _label(turn, **fields):
    return {"conversation_id": "d1", "turn": turn, "loved": [], "disliked": [], "seen": [], "genres": [],
            "avoid_genres": [], "audience": None, "ages": [], **fields}


def test_precision_and_recall_on_a_hand_made_case(catalog, matcher):
    heat, frozen, toy = catalog[1], catalog[9], catalog[2]
    states = {  # what a scripted reader holds after each utterance, whatever came before
        "u1": dict(loved=(heat, frozen), genres=("Comedy",)),
        "u2": dict(loved=(heat, frozen, toy), genres=("Comedy", "Horror"), audience="kids"),
        "u3": dict(loved=(), disliked=(heat,)),
    }
    seen_by_reader = []

    def reader(prefs: Preferences, text: str) -> Preferences:
        seen_by_reader.append(prefs)
        return replace(prefs, **states[text])

    labels = {("d1", 1): _label(1, loved=["Heat (1995)", "Not A Catalog Film (1999)"], genres=["Comedy", "Drama"]),
              ("d1", 3): _label(3, loved=["Heat (1995)"], disliked=["Frozen (2013)"], genres=["Horror"],
                                audience="family")}  # u3 carries no label: read, never scored
    result = reading_check([_dialogue("u1", "u2", "u3")], "dev", reader, matcher, labels)
    assert [p.loved for p in seen_by_reader] == [(), (heat, frozen), (heat, frozen, toy)]  # the state is carried
    data = result.to_json()
    signals = data["signals"]
    # u1 reads Heat (tp) and Frozen (fp); u2 adds Toy Story (fp) and still holds the restated Heat (tp)
    assert signals["loved"] == {"precision": 0.5, "recall": 1.0, "tp": 2, "fp": 2, "fn": 0}
    assert signals["disliked"] == {"precision": None, "recall": 0.0, "tp": 0, "fp": 0, "fn": 1}
    assert signals["genres"] == {"precision": 1.0, "recall": 0.6667, "tp": 2, "fp": 0, "fn": 1}
    assert signals["audience"] == {"precision": 0.0, "recall": 0.0, "tp": 0, "fp": 1, "fn": 1}
    assert data["gold_titles_not_in_catalog"] == {"loved": 1, "disliked": 0, "seen": 0}
    assert data["disliked_read_as_loved"] == 1 and result.disliked_as_loved == [("d1", 3, "Frozen (2013)")]
    assert data["utterances"] == 2 and data["reader_errors"] == 0


def test_a_reader_that_fails_keeps_the_state_and_is_counted(matcher, catalog):
    def reader(prefs, text):
        if text == "boom":
            raise ValueError("unparseable")
        return replace(prefs, loved=(catalog[1],))

    labels = {("d1", 3): _label(3, loved=["Heat (1995)"])}
    result = reading_check([_dialogue("fine", "boom")], "dev", reader, matcher, labels)
    assert result.reader_errors == 1 and result.tallies["loved"].tp == 1  # held from the first utterance


def test_the_rules_reader_is_the_default_and_unknown_readers_are_refused(catalog):
    rules = make_reader("rules", SimpleNamespace(catalog=catalog))
    prefs = rules(Preferences(), "I loved Heat (1995) and I want a comedy")
    assert [m.movie_id for m in prefs.loved] == [1] and "Comedy" in prefs.genres
    with pytest.raises(UserError, match="unknown reader 'nope'"):
        make_reader("nope", SimpleNamespace(catalog=catalog))


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """A data dir on the sample catalog, with the sample dialogues split into dev (101, 104, 109) and test."""
    from conftest import write_movielens

    folder = write_movielens(tmp_path / "ml-redial", MOVIES, RATINGS)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "catalog.json").write_text(json.dumps({"source": str(folder), "limit": 5000}))
    split = tmp_path / "split.json"
    split.write_text(json.dumps({"dev": ["101", "104", "109"], "test": ["102"]}))
    monkeypatch.setattr(dlg, "SPLIT_FILE", split)
    return data_dir


def test_build_writes_a_transcript_file_and_says_why_dialogues_dropped(data_dir, tmp_path, capsys):
    out = tmp_path / "dev.json"
    code = main(["build", "--split", "dev", "--data-dir", str(data_dir), "--dialogues", str(SAMPLE),
                 "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0 and f"dev: 2 of 3 dialogues converted (3 held-out films); dropped 1 ({conv.NO_ACCEPTED}: 1)" \
        in printed and "CC BY 4.0" in printed
    assert [(t.id, t.held_out) for t in load_transcripts(out)] == [("redial-101", (6,)), ("redial-109", (4, 1))]
    assert main(["build", "--split", "test", "--data-dir", str(data_dir), "--dialogues", str(SAMPLE),
                 "--out", str(out)]) == 0 and "test: 0 of 1 dialogues converted" in capsys.readouterr().out
    assert main(["build", "--split", "dev", "--data-dir", str(data_dir), "--dialogues", str(tmp_path / "none.json"),
                 "--out", str(out)]) == 2
    assert "cannot read the ReDial dialogues" in capsys.readouterr().err


def test_transcripts_from_outside_are_not_checked_for_ratings(catalog):
    from eval.harness import catalog_mismatch
    from eval.transcripts.files import Transcript

    ctx = SimpleNamespace(catalog=catalog)
    assert catalog_mismatch(ctx, [Transcript("redial-1", -1, ("hi",), (6,))]) is None
    assert "1 of 1 held-out ids are not in this catalog" in catalog_mismatch(ctx, [Transcript("r", -1, ("hi",), (99,))])


def test_converted_dialogues_run_through_eval_and_recommend(eval_workspace, tmp_path, capsys):
    from eval import commands

    ws = eval_workspace
    conversion = conv.convert_all(load_dialogues(SAMPLE), TitleMatcher(ws.catalog), 2016)
    assert [t.id for t in conversion.transcripts] == ["redial-101", "redial-109"]
    file = tmp_path / "redial.json"
    save_transcripts(conversion.transcripts, file)
    assert commands.eval_command(ws, str(file), "popularity,fused", str(tmp_path / "r"), True) == 0
    data = json.loads(capsys.readouterr().out)
    for row in data["pipelines"].values():
        assert row["n"] == 2 and 0.0 <= row["hit@10"] <= 1.0 and row["recall@50"] >= row["hit@10"] / 2
    assert commands.recommend_command(ws, str(file), "fused", "redial-109", as_json=True) == 0
    picks = json.loads(capsys.readouterr().out)["recommendations"]
    assert len(picks) == 5 and all(p["movie_id"] in ws.catalog for p in picks)


def test_the_reading_command_can_score_only_the_first_dialogues(data_dir, monkeypatch, capsys):
    from eval.redial import reading as reading_module

    dialogues = dlg.dialogues_of("dev", SAMPLE)
    every_turn = {(d.id, u.index): {} for d in dialogues for u in d.seeker_turns}
    monkeypatch.setattr(reading_module, "load_labels", lambda split: every_turn)

    def scored(*extra: str) -> dict:
        assert main(["reading", "--split", "dev", "--data-dir", str(data_dir), "--dialogues", str(SAMPLE),
                     "--json", *extra]) == 0
        return json.loads(capsys.readouterr().out)

    first, whole = scored("--first", "1"), scored()
    assert (first["dialogues"], first["utterances"]) == (1, len(dialogues[0].seeker_turns))
    assert (whole["dialogues"], whole["utterances"]) == (len(dialogues), len(every_turn)) and len(dialogues) > 1
