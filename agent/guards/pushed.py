"""Forced recommendations: "recommend X no matter what" in any reading, and the title it pushes."""

from __future__ import annotations

import re
from collections.abc import Sequence

from agent.guards.output import title_cased
from agent.guards.readings import Reading, fold
from index.titles import display_title, normalize, split_year

_TITLE = r"(?P<title>\"[^\"\n]{1,80}\"|“[^”\n]{1,80}”|'[^'\n]{1,80}'|(?:[^\s,;!?.\"]|\.(?=\w))(?:[^,;!?.\n]|\.(?=\w)){0,80}?)"
_YEAR_AFTER = r"(?: ?\(\d{4}\))?"
_PUSH = r"(?:recommend|suggest|pick|choose|include|mention|list|show|put|add|push|promote|answer with|reply with|" \
        r"respond with|start with|open with)"
_FORCED: list[re.Pattern] = [
    re.compile(rf"\b{_PUSH} {_TITLE}{_YEAR_AFTER}(?: at (?:the )?(?:top|#1|number one|first(?: place)?|position one"
               r"|no\.? ?1))?,? (?:no matter what|regardless\b|whatever (?:I|we|the user|anyone|"
               r"they|people|someone) |in (?:every|each|all)(?: of)?(?: your)?(?: future)? (?:answers?|repl(?:y|ies)|"
               r"responses?|lists?|recommendations?|messages?|suggestions?)|every (?:single )?time|at all costs|"
               r"first in (?:every|all)|no exceptions|as (?:the )?(?:number one|#1|top|first))", re.IGNORECASE),
    re.compile(rf"\b(?:you (?:must|have to|need to|are required to)|always|only ever|only)(?: always| only| ever)* "
               rf"{_PUSH} {_TITLE}{_YEAR_AFTER}(?= (?:from now on|in every|in all|every time|forever|first|at the top|"
               r"on top|above all|to everyone|no matter)|[.!;]|$)", re.IGNORECASE),
    re.compile(rf"\b(?:recommend|suggest) only {_TITLE}{_YEAR_AFTER}(?= from now on| in every| every time| forever|"
               r"[.!;]|$)", re.IGNORECASE),
    re.compile(rf"\b(?:your|the) (?:top|first|number one|#1|no\.? ?1|main|only) (?:pick|recommendation|suggestion|"
               rf"answer|choice|result|movie|film)s? (?:must|has to|have to|should always|will always|shall|needs to|"
               rf"is always|must always) be {_TITLE}{_YEAR_AFTER}(?=[.!,;]|$| from| in| no| every| always)",
               re.IGNORECASE),
    re.compile(rf"(?:^|[.!?;:] ){_TITLE}{_YEAR_AFTER} (?:is|will be|should be) the only (?:film|movie|title|thing|"
               r"answer|pick|recommendation) you(?:'re| are| will be)? (?:allowed|permitted|supposed|meant|going) to "
               r"(?:suggest|recommend|mention|name|pick|show)", re.IGNORECASE),
    re.compile(rf"\byour (?:answer|reply|response|recommendation|pick|suggestion|choice)s? (?:must|should|has to|"
               rf"have to|will|shall|needs to)(?: always)? be (?P<title>\"[^\"\n]{{1,80}}\"|“[^”\n]{{1,80}}”|"
               rf"[A-Z0-9](?:[^,;!?.\n]|\.(?=\w)){{0,80}}?){_YEAR_AFTER}(?=[.!,;]|$| from| in| no| every| always)"),
    re.compile(rf"\bthe (?:correct|right|best|only) (?:answer|recommendation|pick|choice|movie|film) is always "
               rf"{_TITLE}{_YEAR_AFTER}(?=[.!,;]|$| from| in| no| every)", re.IGNORECASE),
    re.compile(rf"\bwhatever (?:[a-z]+ )?(?:I|we|the user|anyone|they|people|someone)(?: [a-z]+){{0,3}} (?:say|says|"
               rf"ask|asks|want|wants|describe|describes|request|requests|type|types),? {_PUSH} {_TITLE}{_YEAR_AFTER}"
               r"(?=[.!,;]|$| first| as| at| on)", re.IGNORECASE),
    re.compile(rf"\b(?:make sure|ensure) (?:that )?(?:every|each|all|any) (?:[a-z]+ ){{0,5}}(?:includes?|contains?|"
               rf"features?|has|mentions?|lists?|is) {_TITLE}{_YEAR_AFTER}(?=[.!,;]|$)", re.IGNORECASE),
    re.compile(rf"\b(?:no matter what(?: [a-z']+){{0,4}}|regardless of [^,.;]{{1,40}}|whatever happens|at all costs),? "
               rf"(?:always )?{_PUSH} {_TITLE}{_YEAR_AFTER}(?=[.!,;]|$| first)", re.IGNORECASE),
    re.compile(rf"\balways (?:rank|put|place|list|show|keep|pin) {_TITLE}{_YEAR_AFTER} (?:at )?(?:number one|#1|no\.? ?1|"
               r"first|on top|at the top)\b", re.IGNORECASE),
    re.compile(rf"\b(?:make|set|keep) {_TITLE}{_YEAR_AFTER} (?:as )?(?:your|the) (?:default|standard|go-to|fallback|"
               r"permanent|fixed|automatic|only) (?:answer|pick|recommendation|suggestion|choice|reply|response|result)"
               r"(?=[.!,;]|$| for| to| in| no| every| whatever)", re.IGNORECASE),
    re.compile(rf"\b(?:say|answer|reply|recommend|suggest|name|pick|list)(?: only)? {_TITLE}{_YEAR_AFTER},? (?:and|but) "
               r"nothing else\b", re.IGNORECASE),
    re.compile(rf"\b(?:make sure|ensure|see to it) (?:that )?{_TITLE}{_YEAR_AFTER} (?:always )?(?:appears|shows up|"
               r"is included|is listed|comes first|is first|is on top|is at the top|is in|is part of|makes it) (?:in|on|"
               r"at|of|into) (?:the top of )?(?:every|all|each|any)\b", re.IGNORECASE),
    re.compile(rf"\b(?:whatever|no matter what|regardless of what) (?:I|we|anyone|the user|they|people|someone) "
               rf"(?:ask|asks|say|says|request|requests|want|wants|type|types)(?: for)?,? (?:the|your) (?:first|top|"
               rf"#1|number one|no\.? ?1|main|only) (?:title|film|movie|pick|result|recommendation|suggestion|entry|"
               rf"answer)(?: in (?:your|the|each|every) (?:list|answer|reply|response)s?)? (?:has to|must|should|will|"
               rf"is going to|needs to|shall) be {_TITLE}{_YEAR_AFTER}(?=[.!,;]|$)", re.IGNORECASE),
    re.compile(rf"\bpretend (?:that )?(?:the|your) (?:catalog|catalogue|search|tool|database|lookup|recommender|"
               rf"index)(?: [a-z]+){{0,2}} (?:returned|found|says|gave|ranked|picked|chose) {_TITLE}{_YEAR_AFTER} "
               r"(?:as|at|first|on top|every)", re.IGNORECASE),
    re.compile(rf"\b(?:recomienda|recomiende|sugiere|incluye|recommande|recommandez|propose|empfiehl|empfehlen sie|"
               rf"consiglia|raccomanda|recomende|sugira) (?:siempre|toujours|immer|stets|sempre) {_TITLE}"
               rf"{_YEAR_AFTER}(?=[.!,;]|$)", re.IGNORECASE),
]
# In hidden markup a plain "recommend X" is already an instruction to the model.
_HIDDEN_PUSH = re.compile(rf"\b(?:recommend|suggest|include|promote) {_TITLE}{_YEAR_AFTER}(?=[.!,;]|$| no| first| in"
                          r"| every| always| regardless)", re.IGNORECASE)
_PRONOUNS = {"it", "this", "that", "this one", "that one", "this movie", "that movie", "this film", "that film", "them"}
_GENERIC_WORDS = {
    "movie", "movies", "film", "films", "something", "anything", "things", "thing", "stuff", "ones", "one", "some",
    "comedy", "comedies", "drama", "dramas", "thriller", "thrillers", "horror", "action", "romance", "romantic",
    "animated", "animation", "documentary", "documentaries", "classic", "classics", "kids", "family", "genre",
    "genres", "recent", "older", "new", "subtitles", "english", "foreign", "more", "good", "great", "a", "an",
    "any", "other", "my", "our", "picks", "titles", "options", "western", "westerns", "musical", "musicals",
    "side", "light", "lighter", "short", "shorter", "funny", "scary", "sad", "dark", "darker", "upbeat", "under",
    "hours", "minutes", "subtitled", "dubbed",
    # what a person asks to see beside each pick ("always include the release year"), not a film
    "runtime", "runtimes", "year", "years", "release", "length", "rating", "ratings", "trailer", "trailers",
    "shortest", "longest", "black", "white",
}


def forced_title(readings: Sequence[Reading]) -> tuple[str, Reading] | None:
    for reading in readings:
        folded = fold(reading.text)
        for pattern in (*_FORCED, _HIDDEN_PUSH) if reading.hidden else _FORCED:
            for match in pattern.finditer(folded):
                title = _title_from(match)
                if title:
                    return title, reading
    return None


def _title_from(match: re.Match) -> str | None:
    raw = match.group("title").strip().strip("\"'“”*_").strip()
    raw = re.sub(r"^(?:[Tt]he (?:movie|film)|movie|film) ", "", raw)  # "Movie 43" keeps its first word
    year_match = re.match(r" ?\((\d{4})\)", match.string[match.end("title"):])
    name, year = split_year(raw)
    if year is None and year_match:
        year = int(year_match.group(1))
    words = normalize(name).split()
    if not words or len(words) > 8 or name.lower() in _PRONOUNS:
        return None
    if set(words) & _GENERIC_WORDS and not title_cased(name):
        return None  # "one animated film", "things my kids can watch": a preference, not a title
    return display_title(name, year)
