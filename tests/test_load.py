"""The load test (eval/bench/load.py) end to end on a small catalog, and the leak checks it relies on.

Three sessions at once against a real `movierec ui --llm none` process: no error, no leak. No timing is
asserted; the numbers are the script's output, for people.
"""

import pytest

from eval.bench.__main__ import main
from eval.bench.load import run_load
from eval.bench.load_sessions import check_turn, expected_states, personas
from index.build import build_baseline
from index.matching import TitleMatcher
from index.workspace import Workspace

TURNS = 4


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    ws = Workspace.open(tmp_path_factory.mktemp("load"), llm_choice="none", limit=400)
    build_baseline(ws, show_progress=False)
    ws.remember_catalog()
    return ws


@pytest.fixture(scope="module")
def people(workspace):
    matcher = TitleMatcher(workspace.catalog)
    found = personas(workspace.catalog, matcher, 3, TURNS)
    latest = max(m.year or 0 for m in workspace.catalog)
    return found, [expected_states(p, matcher, latest, TURNS) for p in found]


def test_three_sessions_at_once_have_no_errors_and_no_leaks(workspace, capsys):
    warm, level = run_load(workspace.root, [3], TURNS, turn_timeout=120)
    assert (level.sessions, level.errors, level.leaks) == (3, [], [])
    assert [len(turn) for turn in level.seconds] == [3] * TURNS  # every turn of every session answered
    assert "3 sessions at once" in capsys.readouterr().out


def test_every_session_has_its_own_film_mood_and_a_conversation_ending_in_picks(people):
    found, states = people
    assert len({p.film.movie_id for p in found}) == 3 and len({p.mood for p in found}) == 3
    for state in states:
        assert [len(s.signals) for s in state] == [1, 2, 3, 3]


def test_another_sessions_film_in_the_panel_is_a_leak(people):
    (ann, bob, _), states = people
    panel = (f"**1 of 5 signals**: 2 more before I recommend\n\n- **Mood**: _not yet_\n- **Era**: _not yet_\n"
             f"- **Language**: _not yet_\n- **Genres**: _not yet_\n- **Films you loved**: {ann.film.title}")
    assert check_turn(ann, 0, states[0][0], "Noted. Next, what mood?", panel, [bob], []) == ([], [])
    leaked = panel.replace(ann.film.title, f"{ann.film.title}, {bob.film.title}")
    errors, leaks = check_turn(ann, 0, states[0][0], "Noted. Next, what mood?", leaked, [bob], [])
    assert errors == [] and any(bob.film.title in leak for leak in leaks)


def test_picks_shown_twice_are_a_memory_leak(people):
    (ann, bob, _), states = people
    answer = "Here are five picks for you:\n" + "\n".join(f"{i}. **Film {i} (1990)** · Drama" for i in range(1, 6))
    _, leaks = check_turn(ann, 3, states[0][3], answer, "", [bob], ["Film 2 (1990)"])
    assert any("already shown" in leak for leak in leaks)


def test_a_data_dir_without_an_index_is_one_line_and_exit_2(tmp_path, capsys):
    Workspace.open(tmp_path, llm_choice="none", limit=400).remember_catalog()
    assert main(["load", "--data-dir", str(tmp_path), "--sessions", "1", "--start-timeout", "120"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("eval.bench load: movierec ui exited with 2") and "not built yet" in err


def test_fifty_sessions_find_fifty_distinct_people(workspace):
    found = personas(workspace.catalog, TitleMatcher(workspace.catalog), 51, TURNS)  # 50 and the warm-up
    assert len({p.film.movie_id for p in found}) == 51 and len({p.mood for p in found}) > 5
