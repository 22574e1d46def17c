"""The fixed evaluation transcripts: who they come from, what they say, what is held out.

The protocol (v2, leak-free), deterministic and from the evaluation population only:

1. Users: evaluation users (`user_id % 5 == 0`, index/population.py) with 12 to 300 likes (ratings >= 4.0)
   among the catalog's movies, taken in the order of sha256("movierec-eval-v2:<user_id>"). Their ratings
   live in `Catalog.eval_ratings` and feed nothing else. `--n 20` is the quick set (eval/transcripts/fixed.json);
   `--all` is every eligible user (eval/transcripts/all.json).
2. Split first: the likes are shuffled by sha256("<seed>:split:<user_id>") and cut in half. The profile
   part is the only thing the turns are written from; the held-out part is never looked at while writing.
3. Profile (profile.py): from the profile part only, the era, 1-3 genres, a mood, the subtitles stance
   and two loved films, chosen to cover the profile part broadly (era and genres are hard filters).
4. Turns (phrasing.py): the statements phrased with variety (seeded per user) over 3-4 turns.
   Every transcript is read back with the rule reader (tools/preferences/); it must yield the intended
   mood, genres, era, stance and exactly the two loved films, else another phrasing is drawn and the
   miss is reported. A user whose profile part has no two nameable loved films is skipped (and counted).
5. Held out: the held-out part. The evaluation scores two relevance sets from it (eval/harness.py): all of
   it, and the films in it that pass the conversation's own hard conditions (what the person asked for).

`python -m eval.transcripts build` writes eval/transcripts/fixed.json (`--source` for another catalog, `--out`
for another file); `python -m eval.tuning.weights` builds its conversations with the same code from training users.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from typing import Iterable

import pandas as pd

from eval.transcripts.conditions import hard_condition_share
from eval.transcripts.files import Transcript
from eval.transcripts.phrasing import write_turns
from eval.transcripts.profile import TasteProfile, profile_of, user_likes
from eval.transcripts.reading import read_back_problems, read_turns, typed_name
from index.catalog import Catalog, Movie
from index.matching import TitleMatcher
from index.population import is_eval_user

SEED = "movierec-eval-v2"
PROFILE_SHARE = 0.5  # of the likes, given to the profile part; the rest is held out
N_TRANSCRIPTS = 20
MIN_LIKES, MAX_LIKES = 12, 300
PHRASING_ATTEMPTS = 12


@dataclass
class ReaderMiss:
    user_id: int
    turns: list[str]
    problems: list[str]


@dataclass
class Build:
    transcripts: list[Transcript] = field(default_factory=list)
    profiles: dict[str, TasteProfile] = field(default_factory=dict)
    misses: list[ReaderMiss] = field(default_factory=list)  # phrasings the rule reader did not read as meant
    unnameable: list[tuple[int, str]] = field(default_factory=list)  # (movie, typed name) the matcher missed
    eligible: int = 0  # users with MIN_LIKES..MAX_LIKES likes that were tried
    no_profile: list[int] = field(default_factory=list)  # eligible users whose profile part names no two films


def user_order(user_ids: Iterable[int], seed: str = SEED) -> list[int]:
    """A fixed pseudo-random order that depends on nothing but the seed and the ids."""
    return sorted({int(u) for u in user_ids}, key=lambda u: hashlib.sha256(f"{seed}:{u}".encode()).hexdigest())


def build_eval_transcripts(catalog: Catalog, n: int | None = N_TRANSCRIPTS, seed: str = SEED) -> Build:
    users = user_order(catalog.eval_ratings["user_id"].unique(), seed)
    assert all(is_eval_user(u) for u in users), "evaluation transcripts come from evaluation users only"
    return build_conversations(catalog, catalog.eval_ratings, users, n, seed, prefix="t")


def split_likes(likes: list[tuple[int, float]], user_id: int, seed: str,
                share: float = PROFILE_SHARE) -> tuple[list[tuple[int, float]], tuple[int, ...]]:
    """(profile part in the order given, held-out movie ids): a seeded shuffle cut at `share`."""
    shuffled = list(likes)
    random.Random(f"{seed}:split:{user_id}").shuffle(shuffled)
    cut = round(len(shuffled) * share)
    profile_ids = {m for m, _ in shuffled[:cut]}
    return [like for like in likes if like[0] in profile_ids], tuple(sorted(m for m, _ in shuffled[cut:]))


def build_conversations(catalog: Catalog, ratings: pd.DataFrame, users: list[int], n: int | None, seed: str,
                        prefix: str) -> Build:
    """Conversations for the first `n` of `users` (in order; None: all) whose profile part gives a profile
    and readable turns."""
    matcher = TitleMatcher(catalog)
    latest = max(m.year or 0 for m in catalog)
    build = Build()
    typed: dict[int, str] = {}

    def nameable(movie: Movie) -> bool:
        name = typed_name(movie, matcher, latest)
        if name is None:
            build.unnameable.append((movie.movie_id, movie.name))
            return False
        typed[movie.movie_id] = name
        return True

    for user_id in users:
        if n is not None and len(build.transcripts) == n:
            break
        likes = user_likes(ratings, user_id, catalog)
        if not MIN_LIKES <= len(likes) <= MAX_LIKES:
            continue
        build.eligible += 1
        profile_part, held_out = split_likes(likes, user_id, seed)
        profile = profile_of(catalog, user_id, profile_part, nameable, held_out)
        if profile is None:
            build.no_profile.append(user_id)
            continue
        rng = random.Random(f"{seed}:{user_id}")
        for _ in range(PHRASING_ATTEMPTS):
            turns = write_turns(profile, catalog.movies, typed, rng)
            problems = read_back_problems(turns, profile, matcher, latest)
            if not problems:
                transcript = Transcript(f"{prefix}{len(build.transcripts) + 1:02d}", user_id, tuple(turns),
                                        profile.held_out)
                build.transcripts.append(transcript)
                build.profiles[transcript.id] = profile
                break
            build.misses.append(ReaderMiss(user_id, turns, problems))
    return build


def describe(build_or_transcripts, catalog: Catalog) -> str:
    """A table of the transcripts: user, likes, held out, signals, conditions, hard-condition share."""
    transcripts = build_or_transcripts.transcripts if isinstance(build_or_transcripts, Build) else build_or_transcripts
    matcher = TitleMatcher(catalog)
    latest = max(m.year or 0 for m in catalog)
    lines = ["| id | user | held out | signals | era | genres | loved | held out under hard conditions |",
             "|---|---|---|---|---|---|---|---|"]
    for t in transcripts:
        prefs = read_turns(t.turns, matcher, latest)
        span = "any" if prefs.year_min is None and prefs.year_max is None else f"{prefs.year_min}-{prefs.year_max}"
        share = hard_condition_share(t, catalog, matcher, latest)
        lines.append(f"| {t.id} | {t.user_id} | {len(t.held_out)} | {len(prefs.signals)} ({', '.join(prefs.signals)}) "
                     f"| {span} | {', '.join(prefs.genres)} | {'; '.join(m.title for m in prefs.loved)} "
                     f"| {share:.0%} |")
    return "\n".join(lines)
