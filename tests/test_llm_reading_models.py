"""The LLM reader on real models (make test-llm): SmolLM2 for the structure, Qwen for a real-style sentence."""

import asyncio

import pytest

from index.catalog import load_catalog
from index.matching import TitleMatcher
from tools.preferences.llm_reader import LLMReader
from tools.preferences import Preferences

pytestmark = pytest.mark.llm

SENTENCE = ("I just do not really like the Halloween (2007) movies. I need something good for like 5 and 10 "
            "year olds, maybe something not animated")


@pytest.fixture(scope="module")
def matcher():
    return TitleMatcher(load_catalog("bundled"))


def test_smollm2_reading_is_always_a_valid_reading(smollm2_llm, matcher):
    reader = LLMReader(smollm2_llm, matcher, latest_year=2016, timeout=600)
    for text in (SENTENCE, "I loved Heat (1995) and Ronin (1998), any era is fine, no subtitles please"):
        outcome = asyncio.run(reader.aread(Preferences(), text))
        assert outcome.used_llm, outcome.error  # the grammar makes every reply a Reading
        named = {m.movie_id for m in (*outcome.preferences.loved, *outcome.preferences.disliked,
                                      *outcome.preferences.seen)}
        assert named <= {m.movie_id for m in matcher.find_mentions(text).resolved}  # nothing invented


def test_qwen_reads_a_real_dialogue_sentence(qwen_llm, matcher):
    reader = LLMReader(qwen_llm, matcher, latest_year=2016, timeout=600)
    outcome = asyncio.run(reader.aread(Preferences(), SENTENCE))
    assert outcome.used_llm, outcome.error
    prefs = outcome.preferences
    assert matcher.match("Halloween (1978)").movie not in prefs.loved  # 2007's is not in the catalog
    assert "Halloween (2007)" in prefs.unresolved
    assert set(prefs.ages) == {5, 10} and "Animation" in prefs.avoid_genres
