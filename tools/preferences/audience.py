"""Who will watch (kids, the family, a date, adults only), the children's ages, and the themes asked for."""

from __future__ import annotations

import re

AUDIENCES = ("kids", "family", "date", "adults")
# Checked in this order: "adults only, the kids are asleep" is for adults, "a family movie for my kids" for all.
_AUDIENCE = {
    "adults": re.compile(r"\b(?:adults? only|just (?:for )?(?:the )?adults|grown[- ]ups? only|no kids|"
                         r"kids are (?:asleep|in bed|away))\b", re.I),
    "family": re.compile(
        r"\b(?:family(?:[- ]friendly)?|all ages|whole family|every ?one in the family|the whole gang|"
        r"(?:my|the) (?:wife|husband|partner) and (?:the |our |my )?(?:kids|children|boys|girls))\b", re.I),
    "kids": re.compile(
        r"\b(?:(?:my|our|the|with|for|some|young|little)\s+(?:\w+\s+)?(?:kids?|children|child|son|sons|daughters?|"
        r"boys|girls|little ones|toddlers?|grand ?(?:kids|children|sons?|daughters?)|nieces?|nephews?|teens?|"
        r"teenagers?|tweens?)|kids? (?:movies?|films?)|\d{1,2}[- ]?(?:years?|yrs?)[- ]?olds?|pre-?teens?)\b", re.I),
    "date": re.compile(r"\b(?:date(?: night)?|first date|(?:my|a) (?:girlfriend|boyfriend|gf|bf|crush)|"
                       r"romantic (?:evening|night))\b", re.I),
}
_NOT_FOR_KIDS = re.compile(r"\b(?:not|isn'?t|no) (?:a |for )?(?:kids?|children)\b", re.I)
_AGE_LIST = r"(\d{1,2}(?:\s*(?:,|and|&|or|to|-)\s*\d{1,2})*)"
_AGES = (
    re.compile(rf"\bages?\s+(?:of\s+)?{_AGE_LIST}\b", re.I),
    re.compile(rf"\baged\s+{_AGE_LIST}\b", re.I),
    re.compile(rf"\b{_AGE_LIST}\s*[- ]?(?:years?|yrs?)[- ]?olds?\b", re.I),
    re.compile(rf"\b{_AGE_LIST}\s*[- ]?(?:years?|yrs?)(?![- ]?ago)\b(?= old\b|,|\.|$)", re.I),
)
_ADULT_AGE = 18

# Themes and plot elements people ask for, as they say them; the content search matches them in descriptions.
KEYWORDS = (
    "time travel", "time loop", "heist", "con artist", "road trip", "coming of age", "high school", "college",
    "true story", "based on a true story", "based on a book", "biography", "historical", "period piece",
    "superhero", "zombies", "vampires", "werewolves", "ghosts", "haunted house", "aliens", "space", "robots",
    "artificial intelligence", "dinosaurs", "monsters", "dragons", "magic", "witches", "wizards", "princess",
    "fairy tale", "pirates", "ninjas", "martial arts", "kung fu", "samurai", "spy", "espionage", "assassin",
    "serial killer", "detective", "murder mystery", "courtroom", "lawyers", "politics", "journalism", "revenge",
    "survival", "disaster", "apocalypse", "post-apocalyptic", "dystopia", "dystopian", "conspiracy", "prison",
    "prison break", "mafia", "gangsters", "drugs", "cops", "buddy cop", "war", "world war", "sports", "football",
    "baseball", "basketball", "boxing", "racing", "cars", "music", "dance", "dancing", "singing", "musicians",
    "animals", "dogs", "cats", "horses", "christmas", "holiday", "halloween", "thanksgiving", "wedding",
    "friendship", "family", "strong women", "strong female", "female lead", "love triangle", "romance", "sex",
    "gore", "violence", "twist", "plot twist", "psychological", "dark humor", "satire", "parody", "slapstick",
    "mockumentary", "found footage", "slasher", "exorcism", "possession", "cult", "aliens invasion", "mars",
    "ocean", "shark", "jungle", "desert", "western", "cowboys", "new york", "paris", "london", "small town",
    "teen", "teenagers", "nature", "environment", "virtual reality", "video games", "hackers", "computers",
    "fantasy world", "quest", "treasure", "adventure", "underdog", "inspiring", "feel good", "chick flick",
    "real people", "cartoon", "animated", "stop motion", "disney", "pixar", "marvel", "dc", "comic book",
)
_KEYWORD = re.compile(r"\b(?:" + "|".join(re.escape(k) for k in sorted(KEYWORDS, key=len, reverse=True)) + r")\b",
                      re.I)


def read_audience(text: str) -> str | None:
    for audience, pattern in _AUDIENCE.items():
        for match in pattern.finditer(text):
            if audience == "kids" and _NOT_FOR_KIDS.search(text[max(0, match.start() - 12):match.end()]):
                continue
            return audience
    return None


def read_ages(text: str) -> tuple[int, ...]:
    """The children's ages said in the message: "ages 12 and 10" -> (12, 10), "my 6 year old" -> (6,)."""
    ages: list[int] = []
    taken: list[tuple[int, int]] = []
    for pattern in _AGES:
        for match in pattern.finditer(text):
            if any(a < match.end() and match.start() < b for a, b in taken):
                continue
            taken.append(match.span())
            ages += [int(n) for n in re.findall(r"\d{1,2}", match.group(1)) if 0 < int(n) < _ADULT_AGE]
    return tuple(dict.fromkeys(ages))


def read_keywords(text: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(m.group(0).lower() for m in _KEYWORD.finditer(text)))
