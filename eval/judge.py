"""Judging the one-sentence reasons: an LLM grade on a versioned rubric, and a rule check that needs no LLM.

`Judge.grade` asks the configured LLM (`structured_predict` into `ReasonGrade`) to score one reason 1-5 on
RUBRIC; the judge model is named in every output. `cites_signal` checks, without an LLM, that a reason
names at least one thing the person actually said: a mood or genre word they used, their era, a language
or subtitles word, or a film they loved.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from llama_index.core.bridge.pydantic import BaseModel, Field
from llama_index.core.llms import LLM
from llama_index.core.prompts import PromptTemplate

from index.catalog import Movie
from index.titles import normalize
from tools.preferences import GENRES, MOODS, Preferences

RUBRIC_VERSION = "reason-rubric-v1"
RUBRIC = """\
Score the reason from 1 to 5:
5  grounded in what the person said (names their mood, genres, era, language or a film they loved), specific
   to this film, accurate about it (nothing contradicts its title, year or genres), and exactly one sentence.
4  grounded, accurate and one sentence, but generic (could be said of many films).
3  grounded but with a small inaccuracy or vagueness, or longer than one sentence.
2  barely connected to what the person said, or a clear inaccuracy about the film.
1  unrelated to the conversation, wrong about the film, or not a reason at all."""

JUDGE_PROMPT = PromptTemplate(
    "You grade the reasons a movie recommender gives. Rubric " + RUBRIC_VERSION + ":\n{rubric}\n\n"
    "What the person said, turn by turn:\n{turns}\n\n"
    "The recommended film (catalog facts): {film}\n"
    "The reason shown to them: \"{reason}\"\n\n"
    "Grade this one reason. Answer as JSON with score, grounded, specific, accurate, one_sentence, comment."
)


class ReasonGrade(BaseModel):
    score: int = Field(ge=1, le=5, description="the rubric score, 1 (worst) to 5 (best)")
    grounded: bool = Field(description="ties the film to something the person said")
    specific: bool = Field(description="says something about this film, not any film")
    accurate: bool = Field(description="nothing in it contradicts the catalog facts")
    one_sentence: bool = Field(description="exactly one sentence")
    comment: str = Field(default="", description="at most 20 words on why")


@dataclass
class Judge:
    llm: LLM
    model: str

    def grade(self, conversation, movie: Movie, reason: str) -> ReasonGrade:
        """One reason graded; an LLM failure counts as the lowest grade, with the error as the comment."""
        film = f"{movie.title} | genres: {', '.join(movie.genres) or 'unknown'}"
        if movie.tags:
            film += f" | tags: {', '.join(movie.tags[:8])}"
        turns = "\n".join(f"- {t}" for t in conversation.turns)
        try:
            return self.llm.structured_predict(ReasonGrade, JUDGE_PROMPT, rubric=RUBRIC, turns=turns, film=film,
                                               reason=reason)
        except Exception as exc:  # unparsable output, timeouts: the judge's failure, graded as unusable
            return ReasonGrade(score=1, grounded=False, specific=False, accurate=False, one_sentence=False,
                               comment=f"judge failed: {type(exc).__name__}")


def cited_signals(reason: str, prefs: Preferences) -> set[str]:
    """The kinds of stated signal a reason refers to: mood, genres, era, language, loved."""
    text = reason.lower()
    found = set()
    for mood in prefs.moods:
        if mood in text or re.search(rf"\b(?:{MOODS[mood][0]})\b", text, re.IGNORECASE):
            found.add("mood")
    for genre in prefs.genres:
        words = [p for p, g in GENRES.items() if g == genre]
        if re.search(rf"\b{re.escape(genre.lower())}\b", text) or any(re.search(rf"\b(?:{p})\b", text) for p in words):
            found.add("genres")
    if prefs.era and _era_words(prefs) & set(re.findall(r"[\w']+", text)):
        found.add("era")
    if re.search(r"\bsubtitle[sd]?\b|\bforeign\b|\benglish\b|\boriginal title\b|\blanguage\b", text) or \
            any(re.search(rf"\b{language}\b", text) for language in prefs.languages):
        if prefs.subtitles is not None or prefs.languages:
            found.add("language")
    plain = normalize(reason)
    if any(normalize(m.name) and normalize(m.name) in plain for m in prefs.loved):
        found.add("loved")
    return found


def cites_signal(reason: str, prefs: Preferences) -> bool:
    return bool(cited_signals(reason, prefs))


def _era_words(prefs: Preferences) -> set[str]:
    """Words that name the stated era: its label's words and every decade inside the span."""
    label = re.findall(r"[\w']+", (prefs.era or "").lower())
    words = {w for w in label if re.search(r"\d", w) or w.endswith("ties") or w in ("recent", "classic", "classics")}
    if prefs.year_min is not None or prefs.year_max is not None:
        low, high = prefs.year_min or 1900, prefs.year_max or 2030
        names = {1960: "sixties", 1970: "seventies", 1980: "eighties", 1990: "nineties"}
        for decade in range(low // 10 * 10, high + 1, 10):
            words |= {f"{decade}s", f"{decade % 100:02d}s", names.get(decade, f"{decade}s")}
    return words
