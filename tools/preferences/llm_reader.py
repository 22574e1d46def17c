"""The LLM reads each user turn into the structured preference state, correcting the rules' draft.

One structured-output call per turn (`astructured_predict` into `Reading`; the local llama.cpp backend
decodes it under the schema's grammar). The prompt starts with a fixed head, the instructions and the
schema, which never change, so llama.cpp's prefix cache reuses them; the variable part after it is the
message and the rules' reading of that message as a draft to correct.

Nothing the LLM says is taken on trust: titles resolve through the catalog's title matcher and must be
in the message (or among the films just suggested); a title the catalog lacks, or whose year names a
different film, stays unresolved; genres and moods come from fixed lists, ages are integers 0-17. The
reading then replaces the rules' reading of that turn; later turns override earlier ones as with the
rules. When the LLM fails (timeout, invalid JSON, an error) the rules' reading stands and `ReadOutcome`
says why, so the caller can log it; nothing of the state is lost.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Annotated, Any, Callable, Iterable, Literal

from llama_index.core.bridge.pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from llama_index.core.llms import LLM, ChatMessage
from llama_index.core.prompts import ChatPromptTemplate
from rapidfuzz import fuzz

from index.catalog import Movie
from index.errors import UserError
from index.matching import TitleMatcher
from index.titles import normalize, split_year
from tools.preferences import GENRES, MOODS, Preferences

READ_TIMEOUT = 90.0  # seconds, in the chat; the local 1.5B model on 2 busy cores takes 10-40 s
CHECK_TIMEOUT = 900.0  # in the reading check, which measures reading, not the machine's load
MAX_TOKENS = 256  # a full reading is under 150 tokens; the cap stops a model that repeats itself
IN_MESSAGE_SCORE = 85.0  # a title counts as written in the message above this partial-ratio score
MAX_AGE = 17
AUDIENCES = ("kids", "family", "date", "adults")
log = logging.getLogger("movierec.reading")

Genre = StrEnum("Genre", {g: g for g in dict.fromkeys(GENRES.values())})
Mood = StrEnum("Mood", {m: m for m in MOODS})


def _known(kind: type[StrEnum]):
    """A before-validator that drops the values outside a fixed list instead of rejecting the reading."""
    allowed = {e.value.lower(): e.value for e in kind}

    def keep(values: Any) -> Any:
        if not isinstance(values, list):
            return values
        return list(dict.fromkeys(allowed[v.strip().lower()] for v in values
                                  if isinstance(v, str) and v.strip().lower() in allowed))
    return BeforeValidator(keep)


def _child_ages(values: Any) -> Any:
    if not isinstance(values, list):
        return values
    return [int(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)
            and float(v).is_integer() and 0 <= v <= MAX_AGE]


def _audience(value: Any) -> Any:
    return value if value in AUDIENCES else None


# Required, so an empty object (what a garbled tool call comes back as) is no reading at all.
Titles = Annotated[list[str], Field(max_length=8)]
Genres = Annotated[list[Genre], _known(Genre), Field(max_length=6)]  # bounded: a small model may repeat one


def _compact_schema(schema: dict[str, Any]) -> None:
    """Field titles and null defaults say nothing the names do not; the prompt must stay under 800 tokens."""
    schema.pop("title", None)
    for field_schema in schema.get("properties", {}).values():
        field_schema.pop("title", None)
        if field_schema.get("default", 0) is None:
            field_schema.pop("default")


class Reading(BaseModel):
    """One message's reading."""

    model_config = ConfigDict(json_schema_extra=_compact_schema)

    loved: Titles
    disliked: Titles
    seen: Titles
    genres: Genres
    avoid_genres: Genres
    moods: Annotated[list[Mood], _known(Mood), Field(default_factory=list, max_length=4)]
    keywords: Annotated[list[str], Field(default_factory=list, max_length=6)]
    year_min: int | None = None
    year_max: int | None = None
    era: str | None = None
    audience: Annotated[Literal["kids", "family", "date", "adults"] | None, BeforeValidator(_audience)] = None
    ages: Annotated[list[int], BeforeValidator(_child_ages), Field(default_factory=list, max_length=6)]
    subtitles: bool | None = None
    languages: list[str] = Field(default_factory=list)
    last_suggestion: Literal["more like it", "not like it"] | None = None


SYSTEM = """Write down what one message from a person asking for film recommendations says about \
their taste.
loved: films they liked or want more like. disliked: films they did not like or turn down. seen: films \
they have seen, no verdict. Copy titles as written, with the (year). A film they only ask about or will \
watch goes nowhere.
genres, avoid_genres: asked for, ruled out ("not animated" avoids Animation, "for my kids" is Children); \
not what a film implies.
keywords: themes they want (heist, time travel). year_min, year_max, era: the years, their words.
audience: who will watch. ages: the children's ages. subtitles: true if fine, false if English only.
last_suggestion: their verdict on the film just suggested, when unnamed ("more like that one").
The draft comes from simple rules and is often wrong ("I do not like X" is disliked, "I have seen X" is \
seen): correct it, and leave out what the message does not say."""

READING_PROMPT = ChatPromptTemplate([
    ChatMessage(role="system", content=SYSTEM),
    ChatMessage(role="user", content="{context}Message: {message}\nDraft: {draft}"),
])


@dataclass(frozen=True)
class ReadOutcome:
    preferences: Preferences
    used_llm: bool  # the LLM's reading was applied (False: the rules' reading stands)
    error: str | None = None  # why the rules' reading stands
    dropped: tuple[str, ...] = ()  # what the LLM said that did not validate: invented titles, bad years


class LLMReader:
    """Reads a user turn with `llm`; `aread(prefs, text, suggested)` returns the preferences after it."""

    def __init__(self, llm: LLM, matcher: TitleMatcher, latest_year: int, timeout: float = READ_TIMEOUT):
        self.llm, self.matcher, self.latest_year, self.timeout = llm, matcher, latest_year, timeout

    async def aread(self, prefs: Preferences, text: str, suggested: Iterable[Movie] = ()) -> ReadOutcome:
        suggested = tuple(suggested)
        ruled = prefs.update(text, self.matcher, self.latest_year)
        try:
            reading = await asyncio.wait_for(
                self.llm.astructured_predict(Reading, READING_PROMPT, llm_kwargs={"max_tokens": MAX_TOKENS},
                                             **self.prompt_args(text, suggested)), timeout=self.timeout)
        except Exception as exc:  # timeout, HTTP error, JSON that does not parse or fit: the rules stand
            return ReadOutcome(ruled, used_llm=False, error=" ".join(f"{type(exc).__name__}: {exc}".split())[:300])
        merged, dropped = apply_reading(prefs, ruled, reading, self.matcher, self.latest_year, text, suggested)
        return ReadOutcome(merged, used_llm=True, dropped=dropped)

    def read(self, prefs: Preferences, text: str) -> Preferences:
        """The synchronous form, for scripts: `(prefs, text) -> Preferences`, as the reading check calls it."""
        outcome = asyncio.run(self.aread(prefs, text))
        if outcome.error:
            log.warning("the LLM could not read %r, the rules did (%s)", text[:60], outcome.error)
        return outcome.preferences

    def prompt_args(self, text: str, suggested: tuple[Movie, ...] = ()) -> dict[str, str]:
        draft = draft_reading(Preferences().update(text, self.matcher, self.latest_year))
        context = f"Just suggested: {'; '.join(m.title for m in suggested)}\n" if suggested else ""
        return {"context": context, "message": text.strip(), "draft": draft.model_dump_json(exclude_defaults=True)}


def workspace_reader(workspace) -> Callable[[Preferences, str], Preferences]:
    """The reader of the reading check (`python -m eval.redial reading --reader llm`): the workspace's LLM."""
    if workspace.backend.llm is None:
        raise UserError("the llm reader needs an LLM backend: --llm local, openai or openai-like")
    latest = max(m.year or 0 for m in workspace.catalog)
    return LLMReader(workspace.backend.llm, TitleMatcher(workspace.catalog), latest, timeout=CHECK_TIMEOUT).read


def draft_reading(turn: Preferences) -> Reading:
    """The rules' reading of one turn, in the LLM's schema."""
    return Reading(
        loved=[m.title for m in turn.loved], disliked=[m.title for m in turn.disliked],
        seen=[m.title for m in turn.seen], genres=list(turn.genres), avoid_genres=list(turn.avoid_genres),
        moods=list(turn.moods), keywords=list(turn.keywords), year_min=turn.year_min, year_max=turn.year_max,
        era=turn.era, audience=turn.audience, ages=list(turn.ages), subtitles=turn.subtitles,
        languages=list(turn.languages))


def apply_reading(before: Preferences, ruled: Preferences, reading: Reading, matcher: TitleMatcher,
                  latest_year: int, text: str, suggested: tuple[Movie, ...] = ()) -> tuple[Preferences, tuple[str, ...]]:
    """`before` plus this turn as the LLM read it; `ruled` (the rules' result) gives what the schema lacks.

    Returns the preferences and the LLM's statements that were dropped as invalid.
    """
    dropped: list[str] = []
    unresolved: list[str] = []

    def films(names: list[str]) -> list[Movie]:
        found = []
        for name in names:
            movie, problem, written = resolve_title(name, matcher, text, suggested)
            if movie is not None:
                found.append(movie)
            elif problem == "not in the catalog":
                unresolved.append(written)
            else:
                dropped.append(f"{name!r}: {problem}")
        return found

    loved, disliked, seen = films(reading.loved), films(reading.disliked), films(reading.seen)
    if reading.last_suggestion == "more like it":  # "the last one": the film suggested last
        loved += suggested[-1:]
    elif reading.last_suggestion == "not like it":
        disliked += suggested[-1:]
    # A small model leaves out what the rules caught: an omission is not a correction, a contrary statement is.
    wanted_genres = [g.value for g in reading.genres]
    genres, avoid_genres = _fold(before.genres, before.avoid_genres, wanted_genres, [
        *(g.value for g in reading.avoid_genres),
        *(g for g in ruled.avoid_genres if g not in before.avoid_genres and g not in wanted_genres)])
    moods = [m.value for m in reading.moods]
    wanted_moods, avoid_moods = _fold(before.moods, before.avoid_moods, moods,
                                      [m for m in ruled.avoid_moods if m not in before.avoid_moods and m not in moods])
    prefs = replace(
        before,
        loved=_films(before.loved, loved, drop=(*disliked, *seen)),
        disliked=_films(before.disliked, disliked, drop=(*loved, *seen)),
        seen=_films(before.seen, [m for m in seen if m not in loved and m not in disliked], drop=(*loved, *disliked)),
        genres=genres, avoid_genres=avoid_genres, moods=wanted_moods, avoid_moods=avoid_moods,
        keywords=_union(before.keywords, (k.strip().lower() for k in reading.keywords)),
        subtitles=before.subtitles if reading.subtitles is None else reading.subtitles,
        languages=_union(before.languages, (lang.strip().lower() for lang in reading.languages)),
        audience=reading.audience or ruled.audience,
        ages=tuple(dict.fromkeys(reading.ages)) or ruled.ages,
        unresolved=_union(ruled.unresolved, unresolved),  # ruled = before + what the rules could not find
        notes=ruled.notes,
    )
    prefs, problem = _with_era(prefs, ruled, reading, latest_year)
    return prefs, (*dropped, *([problem] if problem else []))


def resolve_title(name: str, matcher: TitleMatcher, text: str,
                  suggested: tuple[Movie, ...] = ()) -> tuple[Movie | None, str | None, str]:
    """(the catalog film `name` means or None, why not, the name as the person wrote it).

    Why not: "not in the message" (the LLM made it up) or "not in the catalog"."""
    bare, year = split_year(name)
    for movie in suggested:  # "I loved that one" may name a film the assistant suggested
        if normalize(bare) in {normalize(movie.name), *(normalize(a) for a in movie.aliases)} \
                and year in (None, movie.year):
            return movie, None, name.strip()
    if not bare.strip() or fuzz.partial_ratio(normalize(bare), normalize(text)) < IN_MESSAGE_SCORE:
        return None, "not in the message", name.strip()
    if written := re.search(rf"{re.escape(bare.strip())}\s*\((\d{{4}})\)", text, re.IGNORECASE):
        year = int(written.group(1))  # the person's year, not one copied from the draft's catalog title
        name = f"{text[written.start():written.start(1) - 1].strip()} ({year})"
    hit = matcher.match(name)
    if hit is None or (year is not None and hit.movie.year is not None and hit.movie.year != year):
        return None, "not in the catalog", name.strip()  # another year, another film: Halloween (2007) is not 1978's
    return hit.movie, None, name.strip()


def _with_era(prefs: Preferences, ruled: Preferences, reading: Reading,
              latest_year: int) -> tuple[Preferences, str | None]:
    low, high = reading.year_min, reading.year_max
    if low is None and high is None:
        if reading.era and ruled.era is not None and ruled.era != prefs.era:  # the rules have its years
            return replace(prefs, year_min=ruled.year_min, year_max=ruled.year_max, era=ruled.era), None
        return (replace(prefs, year_min=None, year_max=None, era=reading.era.strip()), None) if reading.era \
            else (prefs, None)
    if any(y is not None and not 1888 <= y <= latest_year + 1 for y in (low, high)):
        return prefs, f"years {low}-{high} are outside the catalog"
    if low is not None and high is not None and low > high:
        low, high = high, low
    label = (reading.era or "").strip() or f"{low or '…'}-{high or '…'}"
    return replace(prefs, year_min=low or 1900, year_max=high or latest_year, era=label), None


def _films(old: tuple[Movie, ...], new: Iterable[Movie], drop: Iterable[Movie]) -> tuple[Movie, ...]:
    dropped = {m.movie_id for m in drop}
    return tuple({m.movie_id: m for m in (*old, *new) if m.movie_id not in dropped}.values())


def _fold(wanted: tuple[str, ...], avoided: tuple[str, ...], want: list[str],
          avoid: list[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """This turn's wanted and avoided values override the earlier turns'; wanting wins within the turn."""
    avoid = [a for a in avoid if a not in want]
    return (tuple(dict.fromkeys([*(w for w in wanted if w not in avoid), *want])),
            tuple(dict.fromkeys([*(a for a in avoided if a not in want), *avoid])))


def _union(old: tuple[str, ...], new: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys([*old, *(x for x in new if x)]))
