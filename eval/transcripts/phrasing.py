"""How a person would type a taste profile: a few short chat turns, phrased with variety.

Every statement has several phrasings; a seeded `random.Random` picks one and how the statements group into
turns, so each user reads differently and the same user always reads the same. The phrasings are ordinary
chat English; `eval.transcripts` reads every transcript back with the rule reader and reports what it misses.
"""

from __future__ import annotations

import random

from index.catalog import Movie
from eval.transcripts.profile import Era, TasteProfile

MOOD_PHRASES: dict[str, tuple[str, ...]] = {
    "tense": ("I want something tense tonight.", "In the mood for something gripping.",
              "Something that keeps me on the edge of my seat, please.", "looking for something suspenseful"),
    "funny": ("I need something funny tonight.", "I'm in the mood for a laugh.",
              "Looking for something that makes me laugh.", "something hilarious please"),
    "feel-good": ("Something feel-good tonight, please.", "I could use something heartwarming.",
                  "Looking for a feel-good movie.", "something charming and feel-good"),
    "dark": ("I'm in the mood for something dark.", "Something gritty tonight.",
             "I feel like watching something dark and gritty.", "something bleak, honestly"),
    "scary": ("I want something scary.", "Something creepy for tonight.", "I want a film that will scare me."),
    "romantic": ("Something romantic tonight.", "I'm in a romantic mood.", "Looking for something romantic."),
    "mind-bending": ("Something mind-bending tonight.", "I want something that makes me think.",
                     "I'm after something clever and thought-provoking.", "something cerebral please"),
    "moving": ("I'm in the mood for something moving.", "Something emotional tonight.",
               "I could do with a good cry.", "something touching please"),
    "epic": ("Something epic tonight.", "I'm in the mood for something grand and epic.",
             "Looking for something sweeping and epic."),
    "action-packed": ("Something exciting and fast-paced tonight.", "I want something exciting.",
                      "Looking for something fast-paced."),
    "relaxing": ("Something light and easy-going.", "I want to relax with something mellow.",
                 "something lighthearted tonight"),
    "inspiring": ("Something inspiring tonight.", "I'd love an underdog story.", "Looking for something inspiring."),
    "quirky": ("Something quirky tonight.", "I'm in the mood for something a bit offbeat.",
               "something weird and whimsical"),
}

GENRE_WORDS: dict[str, tuple[str, ...]] = {
    "Action": ("action",), "Adventure": ("adventure", "adventure films"), "Animation": ("animation", "animated films"),
    "Children": ("family films", "kids' movies"), "Comedy": ("comedies", "comedy"), "Crime": ("crime", "crime films"),
    "Documentary": ("documentaries",), "Drama": ("dramas", "drama"), "Fantasy": ("fantasy",),
    "Film-Noir": ("film noir",), "Horror": ("horror",), "Musical": ("musicals",), "Mystery": ("mysteries",),
    "Romance": ("romance",), "Sci-Fi": ("sci-fi", "science fiction"), "Thriller": ("thrillers",),
    "War": ("war films",), "Western": ("westerns",),
}
GENRE_PHRASES = ("Mostly {list}.", "I usually go for {list}.", "I'm into {list}.", "Genre-wise: {list}.",
                 "I watch a lot of {list}.", "mostly {list}")

ERA_CLOSED = ("Ideally something from the {a} to the {b}.", "Anything from the {a} through the {b} works.",
              "{a} to {b}, roughly.", "the {a} to the {b} would suit me")
ERA_DECADE = ("The {a} would be perfect.", "{a} is perfect", "Preferably from the {a}.")
ERA_SINCE = ("Nothing before {y}, please.", "Anything from {y} on is fine.", "Something made since {y}.")
ERA_BEFORE = ("Anything before {y}.", "Older stuff, before {y}.")
ERA_ANY = ("Any era is fine.", "I don't care about the decade.")

LOVED_PHRASES = ("I loved {a} and {b}.", "Big fan of {a} and {b}.", "Some favourites of mine: {a}, {b}.",
                 "I really enjoyed {a} and {b}.", "Films I adore: {a} and {b}.", "i loved {a} and {b}")

SUBTITLES_OK = ("Subtitles are fine.", "I don't mind subtitles.", "Subtitles don't bother me.",
                "Foreign films are welcome too.")
SUBTITLES_NO = ("English-language films, please.", "I'd rather stick to English-language films.",
                "No subtitles, please.")

# How the statements group into chat turns (mood, genres, era, loved, language).
LAYOUTS = (
    (("mood",), ("genres", "era"), ("loved",), ("language",)),
    (("mood", "genres"), ("loved",), ("era", "language")),
    (("loved",), ("mood",), ("era",), ("genres", "language")),
    (("mood",), ("era",), ("genres", "loved"), ("language",)),
    (("genres", "mood"), ("era", "language"), ("loved",)),
)


def decade_word(start: int, rng: random.Random) -> str:
    """1980 -> "80s" / "'80s" / "1980s" / "eighties"; 2000 -> "2000s"."""
    if start >= 2000:
        return f"{start}s"
    short = f"{start % 100:02d}s"
    words = {1960: "sixties", 1970: "seventies", 1980: "eighties", 1990: "nineties"}
    return rng.choice([short, short, f"'{short}", f"{start}s", *([words[start]] if start in words else [])])


def era_sentence(era: Era, rng: random.Random) -> str:
    if era.any:
        return rng.choice(ERA_ANY)
    if era.end is None:
        return rng.choice(ERA_SINCE).format(y=era.start)
    if era.start is None:
        return rng.choice(ERA_BEFORE).format(y=era.end + 1)
    a, b = decade_word(era.start, rng), decade_word(era.end - 9, rng)
    if a == b or era.end - era.start == 9:
        return _capitalized(rng.choice(ERA_DECADE).format(a=a))
    return _capitalized(rng.choice(ERA_CLOSED).format(a=a, b=b))


def genre_sentence(genres: tuple[str, ...], rng: random.Random) -> str:
    words = [rng.choice(GENRE_WORDS[g]) for g in genres]
    joiner = rng.choice((" and ", " or "))
    listed = words[0] if len(words) == 1 else ", ".join(words[:-1]) + joiner + words[-1]
    return rng.choice(GENRE_PHRASES).format(list=listed)


def loved_sentence(movies: list[Movie], typed: dict[int, str], rng: random.Random) -> str:
    a, b = (typed[m.movie_id] for m in movies)
    return rng.choice(LOVED_PHRASES).format(a=a, b=b)


def write_turns(profile: TasteProfile, movies: dict[int, Movie], typed: dict[int, str],
                rng: random.Random) -> list[str]:
    statements = {
        "mood": rng.choice(MOOD_PHRASES[profile.mood]),
        "genres": genre_sentence(profile.genres, rng),
        "era": era_sentence(profile.era, rng),
        "loved": loved_sentence([movies[m] for m in profile.loved], typed, rng),
        "language": "" if profile.subtitles is None else rng.choice(SUBTITLES_OK if profile.subtitles
                                                                    else SUBTITLES_NO),
    }
    turns = []
    for group in rng.choice(LAYOUTS):
        parts = [statements[kind] for kind in group if statements[kind]]
        if parts:
            turns.append(" ".join(_sentence(p) if len(parts) > 1 else p for p in parts))
    return turns


def _sentence(text: str) -> str:
    text = _capitalized(text)
    return text if text.endswith((".", "!", "?")) else text + "."


def _capitalized(text: str) -> str:
    return text[:1].upper() + text[1:] if text and not text.startswith("'") else text
