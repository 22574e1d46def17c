"""The fixed evaluation transcripts: who they come from, what they say, what is held out.

The protocol (v2, leak-free), deterministic and from the evaluation population only:

1. Users: evaluation users (`user_id % 5 == 0`, index/population.py) with 12 to 300 likes (ratings >= 4.0)
   among the catalog's movies, taken in the order of sha256("movierec-eval-v2:<user_id>"). Their ratings
   live in `Catalog.eval_ratings` and feed nothing else. `--n 20` is the quick set (eval/transcripts.json);
   `--all` is every eligible user (eval/transcripts_all.json).
2. Split first: the likes are shuffled by sha256("<seed>:split:<user_id>") and cut in half. The profile
   part is the only thing the turns are written from; the held-out part is never looked at while writing.
3. Profile (eval/profile.py): from the profile part only, the era, 1-3 genres, a mood, the subtitles stance
   and two loved films, chosen to cover the profile part broadly (era and genres are hard filters).
4. Turns (eval/phrasing.py): the statements phrased with variety (seeded per user) over 3-4 turns.
   Every transcript is read back with the rule reader (tools/preferences/); it must yield the intended
   mood, genres, era, stance and exactly the two loved films, else another phrasing is drawn and the
   miss is reported. A user whose profile part has no two nameable loved films is skipped (and counted).
5. Held out: the held-out part. The evaluation scores two relevance sets from it (eval/harness.py): all of
   it, and the films in it that pass the conversation's own hard conditions (what the person asked for).

`python -m eval.transcripts build` writes eval/transcripts.json (`--source` for another catalog, `--out`
for another file); `python -m eval.tune` builds its conversations with the same code from training users.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Iterable

import pandas as pd

from eval.phrasing import write_turns
from eval.profile import TasteProfile, profile_of, user_likes
from index.catalog import Catalog, Movie, load_catalog
from index.matching import TitleMatcher
from index.population import is_eval_user
from tools.candidates import SearchRequest
from tools.preferences import Preferences
from tools.search import request_from

SEED = "movierec-eval-v2"
PROFILE_SHARE = 0.5  # of the likes, given to the profile part; the rest is held out
N_TRANSCRIPTS = 20
MIN_LIKES, MAX_LIKES = 12, 300
PHRASING_ATTEMPTS = 12
DEFAULT_FILE = "transcripts.json"


@dataclass(frozen=True)
class Transcript:
    id: str
    user_id: int
    turns: tuple[str, ...]
    held_out: tuple[int, ...]

    def to_json(self) -> dict:
        return {"id": self.id, "user_id": self.user_id, "turns": list(self.turns), "held_out": list(self.held_out)}

    @classmethod
    def from_json(cls, data: dict) -> "Transcript":
        return cls(id=str(data["id"]), user_id=int(data.get("user_id", -1)), turns=tuple(data["turns"]),
                   held_out=tuple(int(m) for m in data["held_out"]))


def load_transcripts(path: str | Path | None = None) -> list[Transcript]:
    """A transcript file (a JSON list, or one object); default: the project's 20 fixed transcripts."""
    if path is None:
        text = resources.files("eval").joinpath(DEFAULT_FILE).read_text()
    else:
        text = Path(path).read_text()
    data = json.loads(text)
    return [Transcript.from_json(d) for d in (data if isinstance(data, list) else [data])]


def save_transcripts(transcripts: Iterable[Transcript], path: Path) -> None:
    rows = [json.dumps(t.to_json(), ensure_ascii=False) for t in transcripts]
    path.write_text("[\n" + ",\n".join(rows) + "\n]\n")


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


def typed_name(movie: Movie, matcher: TitleMatcher, latest_year: int) -> str | None:
    """How a person types the film so that the rule reader finds it: the main title when that is what
    people say ("Star Wars"), else the full name, else the name with its year; None if none is read."""
    forms = []
    if ":" in movie.name:
        forms.append(movie.name.split(":")[0].strip())
    forms += [movie.name, f"{movie.name} ({movie.year})" if movie.year else None]
    for form in filter(None, forms):
        if len(form.split()) > 8:
            continue
        prefs = Preferences().update(f"I loved {form}.", matcher, latest_year)
        if [m.movie_id for m in prefs.loved] == [movie.movie_id] and not prefs.unresolved:
            return form
    return None


def read_turns(turns: Iterable[str], matcher: TitleMatcher, latest_year: int) -> Preferences:
    prefs = Preferences()
    for turn in turns:
        prefs = prefs.update(turn, matcher, latest_year)
    return prefs


def read_back_problems(turns: list[str], profile: TasteProfile, matcher: TitleMatcher, latest: int) -> list[str]:
    """What the rule reader got wrong about the intended profile (empty: read as meant)."""
    prefs = read_turns(turns, matcher, latest)
    era = profile.era
    want_span = (None, None) if era.any else (era.start if era.start is not None else 1900,
                                              era.end if era.end is not None else latest)
    checks = {
        "mood": (prefs.moods, (profile.mood,)),
        "avoided moods": (prefs.avoid_moods, ()),
        "genres": (tuple(sorted(prefs.genres)), tuple(sorted(profile.genres))),
        "avoided genres": (prefs.avoid_genres, ()),
        "era": ((prefs.year_min, prefs.year_max), want_span),
        "era stated": (prefs.era is not None, True),
        "subtitles": (prefs.subtitles, profile.subtitles),
        "loved": (tuple(sorted(m.movie_id for m in prefs.loved)), tuple(sorted(profile.loved))),
        "disliked": (prefs.disliked, ()),
        "unresolved": (prefs.unresolved, ()),
    }
    return [f"{what}: read {got!r}, meant {want!r}" for what, (got, want) in checks.items() if got != want]


def passes_hard_conditions(movie: Movie, request: SearchRequest) -> bool:
    """The filters CandidateGenerator.allowed applies from the conversation (years, genres)."""
    year = movie.year or 0
    if request.year_min is not None and year < request.year_min:
        return False
    if request.year_max is not None and not 0 < year <= request.year_max:
        return False
    if request.genres and not set(movie.genres) & set(request.genres):
        return False
    return not set(movie.genres) & set(request.avoid_genres)


def hard_condition_share(transcript: Transcript, catalog: Catalog, matcher: TitleMatcher, latest: int) -> float:
    """Share of the held-out films that the transcript's own hard conditions let through."""
    request = request_from(read_turns(transcript.turns, matcher, latest), latest)
    held = [catalog[m] for m in transcript.held_out if m in catalog]
    return sum(passes_hard_conditions(m, request) for m in held) / max(len(held), 1)


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.transcripts", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    build_cmd = sub.add_parser("build", help="build the transcripts from evaluation users")
    build_cmd.add_argument("--source", default="bundled", help="catalog source (as `movierec index --source`)")
    build_cmd.add_argument("--limit", type=int, default=5000)
    build_cmd.add_argument("--n", type=int, default=N_TRANSCRIPTS)
    build_cmd.add_argument("--all", action="store_true", help="every eligible evaluation user (overrides --n)")
    build_cmd.add_argument("--out", type=Path, default=Path(__file__).with_name(DEFAULT_FILE))
    show = sub.add_parser("show", help="describe a transcript file")
    show.add_argument("--source", default="bundled")
    show.add_argument("--limit", type=int, default=5000)
    show.add_argument("--file", type=Path)
    args = parser.parse_args(argv)
    catalog = load_catalog(args.source, limit=args.limit)
    if args.command == "show":
        print(describe(load_transcripts(args.file), catalog))
        return 0
    build = build_eval_transcripts(catalog, None if args.all else args.n)
    save_transcripts(build.transcripts, args.out)
    print(describe(build, catalog))
    print(f"\n{len(build.transcripts)} transcripts written to {args.out}; {build.eligible} eligible users tried, "
          f"{len(build.no_profile)} without two nameable loved films in their profile part")
    for miss in build.misses:
        print(f"reader miss (user {miss.user_id}): {' / '.join(miss.turns)}\n    " + "\n    ".join(miss.problems))
    for movie_id, name in dict(build.unnameable).items():
        print(f"name not resolved: {name!r} (movie {movie_id})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
