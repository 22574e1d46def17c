"""The LLM reader with a scripted LLM: valid readings, validation against the catalog, failures that leave
the rules' reading standing, the merge across turns, and the prompt's fixed head."""

import asyncio
import json

import pytest
from llama_index.core.base.llms.types import ToolCallBlock
from llama_index.core.llms import ChatMessage
from llama_index.core.llms.mock import MockFunctionCallingLLM

from index.catalog import load_catalog
from index.matching import TitleMatcher
from tools.preferences.llm_reader import LLMReader, Reading
from tools.preferences import Preferences

MOVIES = [
    (1, "Halloween (1978)", "Horror"), (2, "Heat (1995)", "Action|Crime|Thriller"),
    (3, "Godfather, The (1972)", "Crime|Drama"), (4, "Toy Story (1995)", "Animation|Children|Comedy"),
    (5, "Home Alone (1990)", "Children|Comedy"), (6, "Ronin (1998)", "Action|Crime|Thriller"),
]


@pytest.fixture(scope="module")
def matcher(tmp_path_factory):
    from conftest import write_movielens

    ratings = [(u, m, 4.0) for u in range(1, 8) for m, _, _ in MOVIES]
    folder = write_movielens(tmp_path_factory.mktemp("ml") / "reading", MOVIES, ratings)
    return TitleMatcher(load_catalog(str(folder)))


EMPTY = {"loved": [], "disliked": [], "seen": [], "genres": [], "avoid_genres": []}


def scripted(*readings, delay: float = 0.0):
    """An LLM whose structured reading of each turn is the next of `readings` (dict: the fields besides the
    required empty lists; or a raw string); records each prompt."""
    prompts = []

    class Scripted(MockFunctionCallingLLM):
        async def achat(self, messages, **kwargs):
            await asyncio.sleep(delay)
            return self.chat(messages, **kwargs)

    def respond(messages, **kwargs):
        prompts.append(messages)
        return ChatMessage(role="assistant", blocks=[ToolCallBlock(tool_call_id="r1", tool_name="Reading",
                                                                   tool_kwargs=_full(readings[len(prompts) - 1]))])
    return Scripted(response_generator=respond), prompts


def _full(reading):
    return {**EMPTY, **reading} if isinstance(reading, dict) else reading


def read(llm, matcher, *turns, prefs=None, **options):
    reader = LLMReader(llm, matcher, latest_year=2016, **options)
    outcomes = []
    prefs = prefs or Preferences()
    for turn in turns:
        outcomes.append(asyncio.run(reader.aread(prefs, turn)))
        prefs = outcomes[-1].preferences
    return outcomes


def titles(movies):
    return [m.title for m in movies]


def test_a_valid_reading_fills_the_preferences(matcher):
    llm, prompts = scripted({"loved": ["Heat (1995)"], "genres": ["Crime"], "moods": ["tense"],
                             "keywords": ["heist"], "year_min": 1990, "year_max": 1999, "era": "the 90s",
                             "audience": "kids", "ages": [12, 10], "subtitles": False})
    text = "I loved Heat (1995), want a 90s heist movie my 12 and 10 year olds can watch, no subtitles"
    [outcome] = read(llm, matcher, text)
    prefs = outcome.preferences
    assert outcome.used_llm and outcome.error is None
    assert titles(prefs.loved) == ["Heat (1995)"] and prefs.genres == ("Crime",) and prefs.moods == ("tense",)
    assert prefs.keywords == ("heist",) and (prefs.year_min, prefs.year_max, prefs.era) == (1990, 1999, "the 90s")
    assert prefs.audience == "kids" and prefs.ages == (12, 10) and prefs.subtitles is False
    assert set(prefs.signals) >= {"mood", "era", "language", "genres", "loved"}
    user = prompts[0][-1].content
    assert f"Message: {text}" in user and "Draft: {" in user  # the rules' reading, to correct


@pytest.mark.parametrize("said", ["Halloween (2007)", "Halloween (1978)", "Halloween"])
def test_a_film_of_another_year_stays_unresolved_and_is_not_loved(matcher, said):
    # The catalog has only the 1978 Halloween; the person means the 2007 one, and does not like it. A model
    # that copies the draft's catalog title, or drops the year, still names the person's film.
    llm, _ = scripted({"disliked": [said], "genres": ["Horror"]})
    [outcome] = read(llm, matcher, "I just do not really like the Halloween (2007) movies")
    prefs = outcome.preferences
    assert outcome.used_llm
    assert prefs.loved == () and prefs.disliked == () and prefs.seen == ()
    assert prefs.unresolved == ("Halloween (2007)",)


@pytest.mark.parametrize("reply", ["loved: Heat, tense", '{"loved": "Heat (1995)", "ages": "twelve"}'])
def test_malformed_json_leaves_the_rules_reading(matcher, reply):
    llm, _ = scripted(json.loads(reply) if reply.startswith("{") else reply)
    text = "I loved Heat (1995), something tense"
    [outcome] = read(llm, matcher, text)
    assert not outcome.used_llm and outcome.error
    assert outcome.preferences == Preferences().update(text, matcher, 2016)


def test_a_timeout_leaves_the_rules_reading_and_the_earlier_state(matcher):
    earlier = Preferences().update("I loved Ronin (1998)", matcher, 2016)
    llm, _ = scripted({"loved": ["Heat (1995)"]}, delay=1.0)
    [outcome] = read(llm, matcher, "the 90s please", prefs=earlier, timeout=0.05)
    assert not outcome.used_llm and outcome.error.startswith("TimeoutError")
    assert titles(outcome.preferences.loved) == ["Ronin (1998)"] and outcome.preferences.era
    assert outcome.preferences == earlier.update("the 90s please", matcher, 2016)


def test_an_invented_title_is_dropped(matcher):
    # The Godfather is in the catalog, but the person never wrote it.
    llm, _ = scripted({"loved": ["Heat (1995)", "The Godfather (1972)"]})
    [outcome] = read(llm, matcher, "Heat (1995) was great")
    assert titles(outcome.preferences.loved) == ["Heat (1995)"]
    assert any("Godfather" in d and "not in the message" in d for d in outcome.dropped)
    assert not outcome.preferences.unresolved


def test_invalid_genres_moods_ages_and_audience_are_dropped_not_fatal(matcher):
    llm, _ = scripted({"genres": ["Romcom", "comedy", "Sci-fi"], "avoid_genres": ["Cartoons", "Animation"],
                       "moods": ["cozy", "funny"], "ages": [6, 45, -1, "seven"], "audience": "teenagers"})
    [outcome] = read(llm, matcher, "a funny sci-fi comedy for my 6 year old, maybe something not animated")
    prefs = outcome.preferences
    assert outcome.used_llm
    assert prefs.genres == ("Comedy", "Sci-Fi") and prefs.avoid_genres == ("Animation",)
    assert prefs.moods == ("funny",) and prefs.ages == (6,) and prefs.audience == "kids"  # the invalid "teenagers" dropped: the rules' reading stands


def test_later_turns_override_earlier_ones(matcher):
    llm, _ = scripted({"loved": ["Heat (1995)"], "genres": ["Crime", "Action"]},
                      {"disliked": ["Heat"], "avoid_genres": ["Action"], "seen": ["Ronin (1998)"]})
    first, second = read(llm, matcher, "I loved Heat (1995), crime and action", "actually Heat was dull, and no "
                         "action; I have seen Ronin (1998)")
    assert titles(first.preferences.loved) == ["Heat (1995)"]
    prefs = second.preferences
    assert prefs.loved == () and titles(prefs.disliked) == ["Heat (1995)"] and titles(prefs.seen) == ["Ronin (1998)"]
    assert prefs.genres == ("Crime",) and prefs.avoid_genres == ("Action",)
    assert set(prefs.named_ids) == {2, 6}  # neither is recommended back


def test_more_like_the_last_one_loves_the_film_suggested_last(matcher):
    home_alone = matcher.match("Home Alone").movie
    llm, prompts = scripted({"last_suggestion": "more like it"})
    reader = LLMReader(llm, matcher, latest_year=2016)
    outcome = asyncio.run(reader.aread(Preferences(), "more like the last one please",
                                       suggested=[matcher.match("Toy Story").movie, home_alone]))
    assert outcome.preferences.loved == (home_alone,)
    assert "Just suggested: Toy Story (1995); Home Alone (1990)" in prompts[0][-1].content


def test_the_prompt_head_never_changes_and_stays_short(matcher):
    reader = LLMReader(MockFunctionCallingLLM(), matcher, latest_year=2016)
    from tools.preferences.llm_reader import READING_PROMPT

    one = READING_PROMPT.format_messages(**reader.prompt_args("I loved Heat (1995)"))
    two = READING_PROMPT.format_messages(**reader.prompt_args("something for my kids, not animated"))
    assert one[0].content == two[0].content and one[0].role.value == "system"
    assert one[1].content != two[1].content
    draft = json.loads(one[1].content.split("Draft: ", 1)[1])
    assert Reading.model_validate(draft).loved == ["Heat (1995)"]
    from llama_index.core.utils import get_tokenizer

    schema = json.dumps(Reading.model_json_schema(), separators=(",", ":"))
    assert len(get_tokenizer()(one[0].content + schema + one[1].content)) < 800


def test_the_local_backend_reads_under_the_grammar_with_the_fixed_head_first(matcher):
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (pip install -e '.[local]')")
    from test_local_llm import scripted_llm

    reply = json.dumps({**EMPTY, "disliked": ["Halloween (2007)"], "avoid_genres": ["Animation"], "ages": [5, 10]})
    llm, fake = scripted_llm(reply, '{"loved": ["Heat (1995)"], "disl')
    reader = LLMReader(llm, matcher, latest_year=2016)
    first = asyncio.run(reader.aread(Preferences(), "I do not like the Halloween (2007) movies, nothing animated "
                                                    "for my 5 and 10 year olds"))
    second = asyncio.run(reader.aread(first.preferences, "I loved Heat (1995)"))
    assert fake.grammars == [True, True]
    assert first.used_llm and first.preferences.avoid_genres == ("Animation",) and first.preferences.ages == (5, 10)
    assert not first.preferences.loved and "Halloween (2007)" in first.preferences.unresolved
    assert not second.used_llm and "does not fit Reading" in second.error  # cut-off JSON: the rules read it
    assert [m.title for m in second.preferences.loved] == ["Heat (1995)"] and second.preferences.ages == (5, 10)
    head = fake.prompts[0].split("Message: ")[0]
    assert fake.prompts[1].startswith(head) and '"avoid_genres"' in head  # instructions and schema, then the turn
