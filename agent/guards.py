"""Guards on both sides of the agent: screen every user turn, and keep only verified movies in every answer.

`screen_input(turn)` reads the turn the way an attacker hopes the model will (look-alike letters mapped,
leetspeak and spaced letters undone, base64/hex/url/HTML/rot13 chunks decoded, hidden markup opened) and
blocks override, fake-role, forced-recommendation, prompt-leak and role-play instructions in any of those
readings. Empty, over-long and unreadable turns get their own short answers.

`check_output(answer, verified_ids, catalog)` finds the movies an answer names and takes out every list
item or sentence that names one no tool returned, or one the catalog does not have.

Pure Python on purpose (no llama_index): the hand-rolled pipeline shares these rules.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import html
import re
import unicodedata
import urllib.parse
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from index.catalog import Catalog, Movie
from index.matching import TitleMatcher
from index.recommendation import Recommendation
from index.titles import display_title, normalize, split_year

# A preference fits in a few sentences; a wall of text is also the usual carrier of buried instructions,
# so an over-long turn is answered with a request to shorten it rather than silently truncated.
MAX_TURN_CHARS = 2000
SCAN_CHARS = 20_000  # how much of an over-long turn is still scanned, so the audit sees what it carried
UNREADABLE_SHARE = 0.1  # above this share of control/invalid characters a turn is binary, not a typo

REPLY_INJECTION = ("I can only help with movie recommendations, so I'll leave that part aside. Tell me about a "
                   "mood you're in or a film you loved, and I'll find something for you.")
REPLY_FORCED = ("I pick films from what fits you, so I can't promise a particular title in every answer. "
                "What are you in the mood for?")
REPLY_LEAK = "I keep my setup to myself, but I'm glad to help you find a film. What's a movie you loved lately?"
REPLY_EMPTY = "I didn't catch anything there. What are you in the mood for: something tense, funny, moving?"
REPLY_TOO_LONG = ("That message is too long for me ({n} characters; I read up to {limit}). Could you sum up "
                  "what you'd like to watch in a few sentences?")
REPLY_UNREADABLE = ("I couldn't read that message: it looks like binary data or broken characters. Could you "
                    "type what you'd like to watch?")
NOTE_ALL_REMOVED = ("I couldn't verify those titles in the catalog, so I left them out. Tell me a bit more and "
                    "I'll search again.")


@dataclass(frozen=True)
class GuardVerdict:
    allowed: bool
    category: str  # ok | injection | empty | too_long | unreadable
    reason: str  # which rule fired on which reading of the turn: for logs and audits, never shown
    reply: str = ""  # what the person sees instead of an agent answer; empty when allowed
    text: str = ""  # the cleaned turn to hand to the agent when allowed
    rule: str | None = None  # injection family: override, fake_role, forced_recommendation, prompt_leak, ...
    evasion: tuple[str, ...] = ()  # tricks undone before the rule matched: base64, homoglyphs, leetspeak, ...
    injected_title: str | None = None  # the film a "recommend X no matter what" attack pushes

    @property
    def blocked(self) -> bool:
        return not self.allowed


# ---------------------------------------------------------------- reading the turn like an attacker would

_INVISIBLE = re.compile("[\u00ad\u034f\u061c\u115f\u1160\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064"
                        "\u2066-\u2069\u3164\ufeff\uffa0]")
_TAG_CHARS = re.compile("[\U000e0000-\U000e007f]+")  # invisible "tag" letters that smuggle ASCII text
_WIDE_FORMS = re.compile("[\uff10-\uff19\uff21-\uff3a\uff41-\uff5a\U0001d400-\U0001d7ff]")  # fullwidth, math-styled
_HOMOGLYPHS = str.maketrans({
    "а": "a", "в": "b", "е": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c", "т": "t",
    "у": "y", "х": "x", "і": "i", "ј": "j", "ѕ": "s", "ԁ": "d", "ԛ": "q", "ԝ": "w", "һ": "h", "ӏ": "l",
    "ɡ": "g", "ı": "i", "ɑ": "a", "ο": "o", "α": "a", "ε": "e", "ι": "i", "κ": "k", "ν": "v", "ρ": "p",
    "τ": "t", "υ": "u", "χ": "x", "ѵ": "v", "ԍ": "g",
    "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C", "Т": "T",
    "Х": "X", "І": "I", "Ј": "J", "Ѕ": "S", "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I",
    "Κ": "K", "Μ": "M", "Ν": "N", "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X",
})
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "@": "a", "$": "s"})
_LEET_TOKEN = re.compile(r"[\w@$]+")
_NUMERIC = re.compile(r"\d+(?:s|th|st|nd|rd|k|m|h|p|x|min|mins|d)?|\d+[.,]\d+", re.IGNORECASE)
_SPACED = re.compile(r"(?<!\w)(?:[^\W_][ .\-_*·]{1,3}){3,}[^\W_](?!\w)")
_BASE64 = re.compile(r"(?<![\w+/=-])[A-Za-z0-9+/_-]{12,}={0,2}")
_HEX = re.compile(r"(?:(?:0x|\\x)?[0-9a-fA-F]{2}[\s:,]?){6,}")
_ESCAPES = re.compile(r"\\u([0-9a-fA-F]{4})|\\x([0-9a-fA-F]{2})")
_HIDDEN = re.compile(
    r"<!--(?P<comment>.{0,2000}?)(?:-->|$)"
    r"|\[(?://|comment)\]:\s*(?:#|<>)\s*\((?P<md>.{0,2000}?)\)"
    r"|<(?P<tag>\w+)[^>]*(?:display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0|opacity\s*:\s*0)[^>]*>"
    r"(?P<styled>.{0,2000}?)(?:</(?P=tag)>|$)"
    r"|!?\[[^\]]*\]\([^)\s]*\s+\"(?P<link>[^\"]*)\"\)",
    re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class _Reading:
    text: str
    tricks: tuple[str, ...] = ()
    hidden: bool = False  # came from markup the person would not see


def _clean(text: str) -> tuple[str, tuple[str, ...], str]:
    """NFKC, invisible and control characters out. Returns (text, tricks seen, text smuggled in tag chars)."""
    tricks = []
    if _WIDE_FORMS.search(text):
        tricks.append("fullwidth")
    smuggled = "".join(chr(ord(ch) - 0xE0000) for run in _TAG_CHARS.findall(text) for ch in run)
    if smuggled.strip():
        tricks.append("unicode_tags")
    text = _TAG_CHARS.sub("", unicodedata.normalize("NFKC", text))
    if _INVISIBLE.search(text):
        tricks.append("invisible_chars")
        text = _INVISIBLE.sub("", text)
    text = "".join(ch for ch in text if not _is_junk(ch))
    return text, tuple(tricks), smuggled


def _is_junk(ch: str) -> bool:
    if ch in "\n\t\r":
        return False
    return ch == "\ufffd" or unicodedata.category(ch) in ("Cc", "Cs", "Co", "Cn")


def _unmask(text: str) -> tuple[str, tuple[str, ...]]:
    """Undo look-alike letters, leetspeak and spaced-out letters, keeping case (titles are read from it)."""
    tricks = []
    mapped = text.translate(_HOMOGLYPHS)
    if mapped != text:
        tricks.append("homoglyphs")
    leet = _LEET_TOKEN.sub(_unleet, mapped)
    if leet != mapped:
        tricks.append("leetspeak")
    joined = _SPACED.sub(lambda m: " ".join(re.sub(r"[ .\-_*·]", "", w) for w in re.split(r"\s{2,}", m.group())),
                         leet)
    if joined != leet:
        tricks.append("spaced_letters")
    return joined, tuple(tricks)


def _unleet(match: re.Match) -> str:
    token = match.group()
    if not re.search(r"[^\W\d_]", token) or _NUMERIC.fullmatch(token) or not re.search(r"[\d@$]", token):
        return token
    return token.translate(_LEET)


def _decodings(text: str, outer: bool) -> list[tuple[str, str]]:
    """(how, decoded text) for every encoded chunk; rot13 and reversal only for the turn itself."""
    found = []
    for chunk in _BASE64.findall(text):
        if decoded := _printable(_from_base64(chunk)):
            found.append(("base64", decoded))
    for chunk in _HEX.findall(text):
        digits = re.sub(r"0x|\\x|[\s:,]", "", chunk)
        if len(digits) % 2 == 0 and (decoded := _printable(bytes.fromhex(digits))):
            found.append(("hex", decoded))
    if re.search(r"%[0-9a-fA-F]{2}", text):
        found.append(("url_encoding", urllib.parse.unquote(text)))
    if re.search(r"&#?\w+;", text) and (unescaped := html.unescape(text)) != text:
        found.append(("html_entities", unescaped))
    if _ESCAPES.search(text):
        found.append(("escapes", _ESCAPES.sub(lambda m: chr(int(m.group(1) or m.group(2), 16)), text)))
    if outer:
        found.append(("rot13", codecs.encode(text, "rot13")))
        found.append(("reversed", text[::-1]))
    return found


def _from_base64(chunk: str) -> bytes | None:
    padded = chunk + "=" * (-len(chunk) % 4)
    try:
        return base64.b64decode(padded, altchars=b"-_" if re.search(r"[-_]", chunk) else None, validate=True)
    except (binascii.Error, ValueError):
        return None


def _printable(raw: bytes | None) -> str | None:
    """The decoded text when it reads as text (not the noise an ordinary word decodes to)."""
    if not raw:
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    readable = sum(ch.isprintable() or ch.isspace() for ch in text)
    letters = sum(ch.isalpha() for ch in text)
    return text if readable >= 0.95 * len(text) and letters >= 4 else None


def _hidden_parts(text: str) -> list[str]:
    return [next(g for g in (m.group("comment"), m.group("md"), m.group("styled"), m.group("link")) if g is not None)
            for m in _HIDDEN.finditer(text)]


def _readings(text: str, smuggled: str, tricks: tuple[str, ...]) -> list[_Reading]:
    readings = [_Reading(text, tricks)]
    readings += [_Reading(part, (*tricks, "hidden_markup"), hidden=True) for part in _hidden_parts(text)]
    if smuggled.strip():
        readings.append(_Reading(smuggled, tricks, hidden=True))
    for how, decoded in _decodings(text, outer=True):
        readings.append(_Reading(decoded, (*tricks, how)))
        readings += [_Reading(inner, (*tricks, how, inner_how)) for inner_how, inner in _decodings(decoded, False)]
    unmasked = []
    for reading in readings:
        plain, undone = _unmask(reading.text)
        if undone:
            unmasked.append(_Reading(plain, (*reading.tricks, *undone), reading.hidden))
    return _dedupe(readings + unmasked)


def _dedupe(readings: list[_Reading]) -> list[_Reading]:
    seen, kept = set(), []
    for reading in readings:
        if reading.text not in seen:
            seen.add(reading.text)
            kept.append(reading)
    return kept


def _fold(text: str) -> str:
    """Accents off Latin letters (other scripts keep theirs) and straight apostrophes, for rule matching."""
    decomposed = unicodedata.normalize("NFKD", text.replace("’", "'"))
    kept = [ch for i, ch in enumerate(decomposed)
            if not (unicodedata.combining(ch) and i and decomposed[i - 1].isascii())]
    return unicodedata.normalize("NFC", "".join(kept))


# ---------------------------------------------------------------- the rules

_WORDY: set[re.Pattern] = set()  # rules written for the one-space-between-words form of a turn


def _rx(pattern: str, flags: int = re.IGNORECASE) -> re.Pattern:
    """A rule over `_worded` text, where words are separated by exactly one space (so rules cannot backtrack)."""
    compiled = re.compile(pattern, flags)
    _WORDY.add(compiled)
    return compiled


def _worded(folded: str) -> str:
    """Apostrophes dropped ("you're" -> "youre"), other signs but : = . ! ? and inner hyphens made one space."""
    text = re.sub(r"['`]", "", folded)
    text = re.sub(r"[^\w:=.!?-]+|(?<!\w)-+|-+(?!\w)", " ", text)
    return re.sub(r" {2,}", " ", text)


_NOUN = (r"(?:instructions?|prompts?|rules|guidelines|guidance|directives?|directions|programming|guardrails|"
         r"restrictions|constraints|limitations|boundaries|polic(?:y|ies)|system messages?|commands|configuration|"
         r"training|conditioning|orders|briefing|instruction set|persona)")
# Words that point at the assistant's own rules ("ignore my previous instructions" is a person changing theirs).
_POINTING = {"all", "any", "every", "your", "previous", "prior", "above", "earlier", "preceding", "foregoing",
             "initial", "original", "system", "developer", "safety", "hidden", "internal", "existing", "default",
             "these", "those", "current", "old", "given", "its"}
_FILLER = _POINTING | {"the", "of", "each", "other", "content", "that", "were", "you", "have", "been", "set"}

_OVERRIDE_VERB = _rx(r"\b(?:ignore|ignoring|disregard|forget|override|overrule|bypass|skip|abandon|discard|drop|"
                     r"neglect|set aside|put aside|pay no attention to|throw away|throw out|erase|reset|wipe|"
                     r"cancel|void|suspend|stop following|don'?t follow|do not follow|no longer follow|stop obeying|"
                     r"break free (?:of|from)|free yourself (?:of|from)) (?P<between>(?:[a-z']+ ){0,4}?)" + _NOUN +
                     r"\b(?P<after>(?: [a-z']+){0,4})")
# "the guidance you were given", "the rules you received earlier": the assistant's rules, named after the noun.
_GIVEN_TO_YOU = re.compile(r"^ (?:that )?(?:you (?:were|have been|'ve been|got|received|have|follow|were told)|"
                           r"given to you|(?:given|provided|set) (?:earlier|before|above|to you))\b")


def _override_verb(text: str) -> re.Match | None:
    for match in _OVERRIDE_VERB.finditer(text):
        words = set(re.findall(r"[a-z']+", match.group("between").lower()))
        points = words & _POINTING or _GIVEN_TO_YOU.match(match.group("after").lower())
        if words <= _FILLER and points:
            return match
    return None


_ENGLISH: list[tuple[str, str, re.Pattern]] = [
    ("override", "new-instructions-header",
     _rx(r"\b(?:new|updated|real|actual|revised|true|secret|hidden|additional|override) (?:system )?"
         r"(?:instructions?|rules|directives?|prompt|task|orders|objective)\s*:")),
    ("override", "your-new-task",
     _rx(r"\byour (?:new|real|true|actual|only|sole|next) (?:task|job|role|instructions?|purpose|goal|objective|"
         r"mission|function|identity) (?:is|are|will be|now)\b")),
    ("override", "no-longer", _rx(r"\b(?:you are|you'?re|you will be) no longer\b|\bstop being (?:a|an|the) ")),
    ("override", "from-now-on-you",
     _rx(r"\bfrom now on,? you (?:will |must |should |shall |have to |need to |are to )?(?:answer|respond|reply|act|"
         r"behave|obey|comply|ignore|forget|speak|talk|be|do|say|pretend|follow|output|print)\b")),
    ("override", "disable-safety",
     _rx(r"\b(?:bypass|disable|turn off|switch off|deactivate|remove|lift|break|get around|circumvent|evade)"
         r"(?: [a-z']+){0,3} (?:restrictions?|filters?|filtering|safety (?:rules|filters?|features|settings)|"
         r"guardrails?|safeguards?|content polic(?:y|ies)|censorship|moderation|limitations)\b")),
    ("override", "answer-unfiltered",
     _rx(r"\b(?:respond|answer|reply|talk|speak|write|output|act|operate)(?: [a-z']+){0,3} without (?:any )?"
         r"(?:filters?|filtering|restrictions?|censorship|guardrails?|safeguards?|limitations|moderation|"
         r"content polic(?:y|ies)|safety (?:rules|filters?))\b")),
    ("override", "obey-me",
     _rx(r"\b(?:just |simply )?(?:do|say) (?:exactly |only )?(?:what(?:ever)?|anything) I (?:say|tell you|command|"
         r"order)\b|\bobey (?:me|my (?:orders|commands))\b")),
    ("override", "ignore-the-above",
     _rx(r"\b(?:ignore|disregard|forget) (?:all |everything )?(?:of )?(?:the )?above(?: text| messages?)? "
         r"(?:and|then)\b")),
    ("override", "forget-what-you-were-told",
     _rx(r"\b(?:forget|ignore|disregard) (?:everything|all|anything) (?:that )?(?:you'?ve|you have|you were|"
         r"you'?ve been|you have been|you'?re|you are) (?:been )?(?:told|taught|given|instructed|programmed)")),
    ("fake_role", "role-line",
     re.compile(r"(?:^|\n)[ \t>#*]*(?:system|developer|admin|administrator|root|assistant|moderator|operator)"
                r"(?: (?:message|prompt|note|override|instructions?))?[ \t]*(?::|>>)", re.IGNORECASE)),
    ("fake_role", "role-label",
     _rx(r"\b(?:system|developer|admin|administrator) (?:message|prompt|note|override|instructions?|update|"
         r"notice)\s*:")),
    ("fake_role", "role-tag",
     re.compile(r"[\[<{]{1,2}\s*/?\s*(?:system|sys|developer|dev|admin|inst|instructions?|assistant|im_start|"
                r"im_end|endoftext)\s*[\]>}]{1,2}", re.IGNORECASE)),
    ("fake_role", "chat-template-token", re.compile(r"<\|[\w\s]{1,24}\|>|<(?:start|end)_of_turn>", re.IGNORECASE)),
    ("fake_role", "instruction-header",
     re.compile(r"#{2,}\s*(?:instructions?|system|response|input|human|assistant|user|context)\b", re.IGNORECASE)),
    ("fake_role", "sudo", re.compile(r"(?:^|\n)\s*sudo\b", re.IGNORECASE)),
    ("fake_role", "bracketed-role-header",
     re.compile(r"[\[<{(]\s*(?:system|admin|developer|root|sudo|operator|moderator)(?:[\s_:-]+(?:override|command|"
                r"note|message|prompt|instructions?|update|mode|alert|notice|msg|priority))+\s*[\]>})]", re.IGNORECASE)),
    ("fake_role", "override-code",
     _rx(r"\b(?:priority|emergency|admin|system|security|safety|manual|master|developer|root) override\b|"
         r"\boverride (?:code|mode|protocol|enabled|activated|engaged|accepted|granted)\b")),
    ("fake_role", "config-line",
     _rx(r"\b(?:mode|role|persona|safety|filters?|filtering|restrictions|guardrails|censorship|jailbreak)\s*[=:]\s*"
         r"(?:unrestricted|off|none|disabled|false|0|dan|developer|admin|god|jailbreak|jailbroken|root|unlocked|"
         r"unfiltered|uncensored)\b")),
    ("fake_role", "vendor-message",
     _rx(r"\b(?:message|note|notice|update|instructions?|directive|order) from (?:the )?(?:openai|anthropic|google|"
         r"meta|microsoft|mistral|your (?:developers?|creators?|makers?|admins?|administrators?|operators?|owners?)|"
         r"the (?:developers?|admins?|administrators?|operators?|system|dev team|staff)|(?:openai|anthropic) staff)\b")),
    ("fake_role", "policy-updated",
     _rx(r"\byour (?:developers?|creators?|makers?|admins?|administrators?|operators?|owners?|company|team) "
         r"(?:has|have) (?:just )?(?:updated|changed|modified|lifted|removed|relaxed|authori[sz]ed|approved|"
         r"unlocked|disabled)\b|\b(?:authori[sz]ed|approved|sanctioned) by (?:the |your )?(?:developers?|admins?|"
         r"administrators?|operators?|openai|anthropic)\b")),
    ("fake_role", "claimed-authority",
     _rx(r"\b(?:this is an? (?:order|command|instruction|directive) from|i am your (?:developer|creator|admin|"
         r"administrator|owner|programmer|operator|maker)|as your (?:developer|creator|admin|administrator|owner|"
         r"programmer|operator))\b")),
    ("fake_role", "end-of-input", _rx(r"\bend of (?:the )?(?:user )?(?:input|prompt|instructions)\b")),
    ("prompt_leak", "prompt-words",
     _rx(r"\b(?:system prompt|system message|pre-?prompt|initial prompt|hidden prompt|secret prompt|meta-?prompt|"
         r"developer message|systemprompt)s?\b")),
    ("prompt_leak", "show-your-rules",
     _rx(r"\b(?:repeat|print|show|reveal|display|output|tell|give|share|dump|leak|quote|recite|write out|spell out|"
         r"paste|expose|disclose|translate|summari[sz]e|what (?:are|is|were|was)) (?:me |us )?(?:all |of )?"
         r"(?:your|the (?:system|hidden|secret|initial|original|internal|developer|full|exact|raw|entire|complete|"
         r"underlying|real|actual)) (?:[a-z]+ ){0,3}?(?:prompt|instructions|rules|guidelines|directives|"
         r"configuration|config|programming|setup)\b")),
    ("prompt_leak", "your-prompt",
     _rx(r"\byour (?:own |full |whole |exact |original )?prompt\b(?! (?:reply|response|answer|help|service))")),
    ("prompt_leak", "everything-above",
     _rx(r"\b(?:print|repeat|show|output|quote|copy|reveal|paste|recite) (?:me |us )?(?:everything|all|the text|"
         r"all the text|whatever (?:is|was|came)) (?:written |said )?(?:above|before this|before my message|so far)"
         r"(?: this)?(?:[.!?]|$)")),
    ("prompt_leak", "text-you-started-with",
     _rx(r"\b(?:text|words|message|prompt|instructions|wording|context|document|note) (?:that )?you (?:were|have been|"
         r"got|received|'ve been) (?:initiali[sz]ed|configured|set up|started|booted|primed|seeded|prompted|loaded|"
         r"given|instructed|fed)(?: with)?\b|\b(?:first|initial|opening|very first) (?:message|text|prompt|lines?) "
         r"(?:you (?:received|got|were given|saw)|(?:of|in) (?:this|the|your) (?:conversation|context|chat))\b")),
    ("prompt_leak", "text-above",
     _rx(r"\bwhat (?:was|is|were) (?:written|said|typed|stated|given) (?:above|before|prior to) (?:this|the|our)\b|"
         r"\b(?:quote|repeat|print|output|recite|copy) (?:the )?(?:first|last|previous) \d+ (?:words|lines|"
         r"characters|sentences|tokens)\b")),
    ("prompt_leak", "how-were-you-told",
     _rx(r"\b(?:how|what) (?:were|are|have) you (?:been )?(?:instructed|prompted|programmed|told) to\b|"
         r"\bwhat (?:instructions|rules|directives) (?:were you|have you been|did you get|are you following)\b")),
    ("role_play", "do-anything-now",
     _rx(r"\bdo anything now\b|\b(?:you are|you'?re|be|as|pretend to be|act as) dan\b")),
    ("role_play", "no-rules-persona",
     _rx(r"\b(?:pretend|imagine|act|behave|roleplay|role-play|play the role|simulate|become|you are now|"
         r"you'?re now)\b(?: [a-z']+){0,7} (?:unrestricted|unfiltered|uncensored|jailbroken|jailbreak|evil|"
         r"without (?:any )?(?:rules|restrictions|limits|filters|guidelines|ethics)|(?:with )?no (?:rules|"
         r"restrictions|limits|filters|content policy|guidelines)|another ai|a different (?:ai|assistant|model|"
         r"chatbot)|not bound)\b")),
    ("role_play", "limitless-ai",
     _rx(r"\b(?:an? )?(?:free|unchained|liberated|unbound|limitless) (?:ai|assistant|bot|chatbot|model|llm)\b|"
         r"\b(?:ai|assistant|bot|chatbot|model|llm) (?:with|that has|having) (?:no|zero|0|without) (?:limits|"
         r"limitations|restrictions|rules|filters|boundaries|guidelines|ethics)\b|\bno more (?:movie |topic |"
         r"content )?(?:restrictions|rules|limits|limitations|filters)\b")),
    ("role_play", "play-another-ai",
     _rx(r"\b(?:roleplay|role-play|role play|act|pretend to be|play|play the part of|play the role of|pose|"
         r"impersonate|simulate)(?: as)? (?:an? |another |a different )?(?:ai|assistant|chatbot|bot|llm|language "
         r"model|gpt)\b")),
    ("role_play", "you-are-now",
     _rx(r"\b(?:you are|you'?re|you will) now (?!(?:going|gonna|about|able|ready|done|right|correct|on|in the|"
         r"watching|seeing)\b)\w")),
    ("role_play", "special-mode",
     _rx(r"\b(?:developer|debug|god|admin|sudo|maintenance|jailbreak|unrestricted|dan|root|unlocked|opposite) "
         r"mode\b|\bjailbr(?:eak|oken)\b")),
    ("role_play", "act-as-your-maker",
     _rx(r"\b(?:act|pretend|roleplay|speak|respond|answer) (?:as|like|to be) (?:the |your |an? )?(?:developer|"
         r"creator|programmer|engineer|admin|administrator|owner|system|maker)s?\b (?:who|that|of)\b")),
    ("encoded_instruction", "decode-and-obey",
     _rx(r"\b(?:decode|decipher|decrypt|unscramble|reverse|rot13|base64|unhex) (?:this|the following|it|that|"
         r"these|the text|the string|below)\b.{0,40}?\b(?:and|then) (?:follow|obey|execute|run|do|apply|"
         r"carry out|act on)\b")),
]
_DAN = re.compile(r"\bDAN\b")  # the all-caps jailbreak persona; "Dan in Real Life" is not it

_OTHER_LANGUAGES: list[tuple[str, str, re.Pattern]] = [
    ("override", "es", _rx(r"\b(?:ignora|ignore|ignorar|olvida|olvide|olvidar|omite|descarta|desobedece)\b"
                           r"(?: \w+){0,3} (?:instrucciones|reglas|indicaciones|directrices|ordenes)\b")),
    ("override", "fr", _rx(r"\b(?:ignore|ignorez|oublie|oubliez|neglige|negligez)\b(?: \w+){0,3} "
                           r"(?:instructions|consignes|regles|directives)\b")),
    ("override", "de", _rx(r"\b(?:ignoriere|ignorier|vergiss|vergessen sie|missachte|ignorieren sie)\b(?: \w+){0,3} "
                           r"(?:anweisungen|instruktionen|regeln|befehle|vorgaben)\b")),
    ("override", "it", _rx(r"\b(?:ignora|dimentica|trascura|dimenticate|ignorate)\b(?: \w+){0,3} "
                           r"(?:istruzioni|regole|indicazioni)\b")),
    ("override", "pt", _rx(r"\b(?:ignore|ignora|esqueca|esquece|desconsidere|desconsidera)\b(?: \w+){0,3} "
                           r"(?:instrucoes|regras|orientacoes)\b")),
    ("override", "ru", _rx(r"(?:игнорир|проигнорир|забуд|не следу|отмен)\w*(?: \w+){0,3} "
                           r"(?:инструкц|правил|указани)\w*")),
    ("override", "zh", re.compile(r"(?:忽略|无视|忽视|忘记|忘掉|不要遵守|跳过).{0,8}(?:指令|指示|规则|设定)")),
    ("override", "ja", re.compile(r"(?:指示|命令|ルール|設定).{0,6}(?:無視|忘れ)")),
    ("override", "ko", re.compile(r"(?:지시|명령|규칙).{0,8}(?:무시|잊)")),
    ("role_play", "now-you-are", _rx(r"\b(?:ahora eres|tu es maintenant|du bist jetzt|ora sei|agora voce e)\b")),
    ("prompt_leak", "show-prompt", _rx(
        r"\b(?:muestra|muestrame|revela|dime|ensename|repite|montre|montre-moi|revele|affiche|donne-moi|repete|"
        r"zeig|zeige|verrate|nenne|wiederhole|mostrami|rivela|mostre|revele|diga)(?: moi| mir| me)? "
        r"(?:tu|tus|el|las|su|sus|ton|tes|votre|vos|le|les|deine|deinen|ihre|il tuo|le tue|suas|seu|sua|seus|as|o) "
        r"(?:\w+ )?(?:prompt|instrucciones|reglas|instructions|consignes|regles|anweisungen|regeln|istruzioni|"
        r"regole|regras|instrucoes)\b")),
    ("prompt_leak", "prompt-words", re.compile(
        r"prompt (?:del )?sistema|prompt systeme|системн\w* (?:промпт|инструкц|подсказ)|промпт|系统提示|提示词|"
        r"システムプロンプト|시스템 프롬프트", re.IGNORECASE)),
]

# Rules for text with every space and sign squeezed out ("i g n o r e y o u r r u l e s").
_SQUEEZED = re.compile(
    r"(?:ignore|disregard|forget)(?:all|any|the|your|previous|prior|above|earlier){1,3}"
    r"(?:instructions?|prompts?|rules|guidelines|directions)|systemprompt|developermode|doanythingnow|"
    r"(?:reveal|show|print|repeat)(?:me)?(?:your|the)(?:system|hidden|initial)?prompt|newinstructions:")


# ---------------------------------------------------------------- "recommend X no matter what"

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
    re.compile(rf"\b(?:no matter what|regardless of [^,.;]{{1,40}}|whatever happens|at all costs),? (?:always )?"
               rf"{_PUSH} {_TITLE}{_YEAR_AFTER}(?=[.!,;]|$| first)", re.IGNORECASE),
    re.compile(rf"\b(?:recomienda|recomiende|sugiere|incluye|recommande|recommandez|propose|empfiehl|empfehlen sie|"
               rf"consiglia|raccomanda|recomende|sugira) (?:siempre|toujours|immer|stets|sempre) {_TITLE}"
               rf"{_YEAR_AFTER}(?=[.!,;]|$)", re.IGNORECASE),
]
# In hidden markup a plain "recommend X" is already an instruction to the model.
_HIDDEN_PUSH = re.compile(rf"\b(?:recommend|suggest|include|promote) {_TITLE}{_YEAR_AFTER}(?=[.!,;]|$| no| first| in"
                          r"| every| always| regardless)", re.IGNORECASE)
_PRONOUNS = {"it", "this", "that", "this one", "that one", "this movie", "that movie", "this film", "that film", "them"}
_SMALL_WORDS = {"a", "an", "the", "of", "and", "or", "in", "on", "at", "to", "for", "with", "from", "de", "la", "le"}
_GENERIC_WORDS = {
    "movie", "movies", "film", "films", "something", "anything", "things", "thing", "stuff", "ones", "one", "some",
    "comedy", "comedies", "drama", "dramas", "thriller", "thrillers", "horror", "action", "romance", "romantic",
    "animated", "animation", "documentary", "documentaries", "classic", "classics", "kids", "family", "genre",
    "genres", "recent", "older", "new", "subtitles", "english", "foreign", "more", "good", "great", "a", "an",
    "any", "other", "my", "our", "picks", "titles", "options", "western", "westerns", "musical", "musicals",
}


def _forced_title(readings: Sequence[_Reading]) -> tuple[str, _Reading] | None:
    for reading in readings:
        folded = _fold(reading.text)
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
    if set(words) & _GENERIC_WORDS and not _title_cased(name):
        return None  # "one animated film", "things my kids can watch": a preference, not a title
    return display_title(name, year)



# ---------------------------------------------------------------- the input guard

@dataclass(frozen=True)
class _Finding:
    rule: str
    name: str
    reading: _Reading


def _find_rule(readings: Sequence[_Reading]) -> _Finding | None:
    """The first rule any reading breaks; hidden parts first, so the audit learns where an attack hid."""
    ordered = sorted(readings, key=lambda r: not r.hidden)
    for reading in ordered:
        folded = _fold(reading.text)
        worded = _worded(folded)
        if reading.hidden and len(re.findall(r"\w+", folded)) >= 2:
            return _Finding("hidden_markup", "hidden-text", reading)
        for rule, name, pattern in _ENGLISH:
            if rule == "fake_role" and pattern.search(worded if pattern in _WORDY else folded):
                return _Finding(rule, name, reading)
        if _override_verb(worded):
            return _Finding("override", "ignore-your-instructions", reading)
        for rule, name, pattern in (*_ENGLISH, *_OTHER_LANGUAGES):
            if pattern.search(worded if pattern in _WORDY else folded):
                return _Finding(rule, name, reading)
        if _DAN.search(reading.text):
            return _Finding("role_play", "dan", reading)
    for reading in ordered:  # last resort, with every space and sign squeezed out
        if _SQUEEZED.search(re.sub(r"[^a-z0-9:]", "", _fold(reading.text).lower())):
            return _Finding("override", "squeezed-phrase", _Reading(reading.text, (*reading.tricks, "squeezed")))
    return None


def screen_input(turn: str | bytes | None) -> GuardVerdict:
    """The verdict on one user turn; a turn that is not `allowed` must not reach the agent."""
    text = _as_text(turn)
    if text is None or _junk_share(text[:SCAN_CHARS]) > UNREADABLE_SHARE:
        return GuardVerdict(False, "unreadable", "binary data, control characters or invalid unicode",
                            REPLY_UNREADABLE)
    cleaned, tricks, smuggled = _clean(text[:SCAN_CHARS])
    if not _has_content(cleaned) and not smuggled.strip():
        return GuardVerdict(False, "empty", "no words in the turn", REPLY_EMPTY)
    readings = _readings(cleaned, smuggled, tricks)
    finding = _find_rule(readings)
    forced = _forced_title(readings)
    if finding or forced:
        rule, name, reading = (finding.rule, finding.name, finding.reading) if finding else \
            ("forced_recommendation", "push-a-title", forced[1])
        evasion = reading.tricks
        how = f" (via {', '.join(evasion)})" if evasion else ""
        reply = REPLY_LEAK if rule == "prompt_leak" else REPLY_FORCED if rule == "forced_recommendation" \
            else REPLY_INJECTION
        return GuardVerdict(False, "injection", f"{rule} rule '{name}' matched{how}", reply, rule=rule,
                            evasion=evasion, injected_title=forced[0] if forced else None)
    full_length = len(_clean(text)[0]) if len(text) > SCAN_CHARS else len(cleaned)
    if full_length > MAX_TURN_CHARS:
        return GuardVerdict(False, "too_long", f"{full_length} characters, over the {MAX_TURN_CHARS} limit",
                            REPLY_TOO_LONG.format(n=full_length, limit=MAX_TURN_CHARS))
    return GuardVerdict(True, "ok", "no rule matched", text=cleaned.strip())


def _as_text(turn: str | bytes | None) -> str | None:
    if turn is None:
        return ""
    if isinstance(turn, bytes):
        try:
            return turn.decode("utf-8")
        except UnicodeDecodeError:
            return None
    return str(turn)


def _junk_share(text: str) -> float:
    return sum(map(_is_junk, text)) / len(text) if text else 0.0


def _has_content(text: str) -> bool:
    return any(ch.isalnum() or unicodedata.category(ch) == "So" for ch in text)


# ---------------------------------------------------------------- the output guard

@dataclass(frozen=True)
class OutputCheck:
    text: str  # the answer with unverified movies taken out
    removed: list[str] = field(default_factory=list)  # each title taken out, as written (catalog title in prose)
    verified_ids: list[int] = field(default_factory=list)  # tool-returned movies the kept text names, in order

    @property
    def removed_count(self) -> int:
        return len(self.removed)


@dataclass(frozen=True)
class _Mention:
    written: str
    movie: Movie | None
    strong: bool  # formatted as a title (a year, bold, quotes, a list head): unresolved may mean invented
    head: bool = False  # the film a list line is about
    quoted_title: bool = False  # "The Midnight Orchard": quotes around a Title Case name


class _TitleIndex:
    """Catalog names by `normalize` key for scanning prose, and the fuzzy matcher for formatted names."""

    def __init__(self, catalog: Catalog):
        self.catalog = catalog
        self.matcher = TitleMatcher(catalog)
        self.by_key: dict[str, Movie] = {}
        for movie in catalog:  # popularity order: the first film to claim a key keeps it
            for name in (movie.name, *movie.aliases):
                self.by_key.setdefault(normalize(name), movie)
        self.genre_words = {normalize(g) for m in catalog for g in m.genres} | {"sci fi", "film noir", "noir"}


_LIST_ITEM = re.compile(r"^(?P<bullet>\s*(?:[-*•+]|(?P<number>\d+)[.)]))\s+(?P<body>.*)$")
_MARKED = re.compile(r"\*\*(?P<a>[^*\n]{1,120})\*\*|__(?P<b>[^_\n]{1,120})__|(?<![\w*])\*(?P<c>[^*\n]{1,120})\*(?!\w)"
                     r"|(?<!\w)_(?P<d>[^_\n]{1,120})_(?!\w)|\"(?P<e>[^\"\n]{1,120})\"|“(?P<f>[^”\n]{1,120})”")
_QUOTE_GROUPS = ("e", "f")
_WITH_YEAR = re.compile(r"\((?:(?:18|19|20)\d\d)\)")
_WORD_TOKEN = re.compile(r"[\w'’]+(?:[.:\-&][\w'’]+)*[.!?]?")
_CONNECTORS = {"of", "the", "and", "a", "an", "in", "on", "at", "to", "for", "with", "from", "de", "la", "le",
               "du", "des", "del", "von", "vs.", "or", "is", "are", "it", "my", "me", "no", "not", "be", "&"}
_LEAD_WORDS = {"try", "watch", "see", "also", "and", "or", "then", "maybe", "perhaps", "consider", "like", "i",
               "you", "check", "out", "enjoy", "rewatch", "definitely", "especially", "plus", "since", "if"}
_HEAD_END = re.compile(r"\s+[—–-]\s+|:\s+(?=[a-z])|\s+·\s+")
_ABBREVIATIONS = re.compile(r"(?:\b(?:Dr|Mr|Mrs|Ms|St|Jr|Sr|vs|Vol|No|Pt|Mt|Ft|Lt|Col|Gen|Prof)|\b[A-Z])\.$")
_INDEXES: dict[int, _TitleIndex] = {}


def check_output(text: str, verified_ids: Iterable[int | Movie], catalog: Catalog,
                 context_ids: Iterable[int] = ()) -> OutputCheck:
    """Take out every list item or sentence naming a movie that is not verified.

    Verified: returned by a tool in this session (`verified_ids`). `context_ids` are films the answer may
    refer to without recommending them (ones the person named); they are neither removed nor counted.
    In a list item only the film the item is about has to be verified; other catalog films its reason
    refers to are allowed, invented ones are not. A sentence in prose must not name any unverified film.
    A formatted name that matches nothing counts as invented when it carries a year, heads an item of a
    list of films, or is a quoted Title Case name, so "**Why you'll like it**" survives.
    """
    index = _title_index(catalog)
    allowed = {m.movie_id if isinstance(m, Movie) else int(m) for m in verified_ids}
    context = set(context_ids)
    lines = text.split("\n")
    units_by_line = [[line] if _LIST_ITEM.match(line) else _sentences(line) for line in lines]
    mentions = [[_line_mentions(u, index) for u in units] for units in units_by_line]
    film_lists = _film_list_lines(lines, mentions)
    kept_lines, removed, verified = [], [], []
    for i, (line, units) in enumerate(zip(lines, units_by_line)):
        is_item = bool(_LIST_ITEM.match(line))
        kept_units = []
        for unit, found in zip(units, mentions[i]):
            bad = [m for m in found if _unverified(m, allowed, context, i in film_lists, is_item)]
            if bad:
                removed.extend(dict.fromkeys(m.written for m in bad))
                continue
            kept_units.append(unit)
            verified += [m.movie.movie_id for m in found if m.movie and m.movie.movie_id in allowed]
        if len(kept_units) == len(units):
            kept_lines.append(line)
        elif kept_units:
            kept_lines.append(" ".join(u.strip() for u in kept_units))
    result = _renumber(kept_lines)
    verified = list(dict.fromkeys(verified))
    if removed and not verified:
        result = f"{result}\n\n{NOTE_ALL_REMOVED}".strip()
    return OutputCheck(result, removed, verified)


def _title_index(catalog: Catalog) -> _TitleIndex:
    cached = _INDEXES.get(id(catalog))
    if cached is None or cached.catalog is not catalog:  # an id can be reused once a catalog is gone
        cached = _INDEXES[id(catalog)] = _TitleIndex(catalog)
    return cached


def _unverified(mention: _Mention, allowed: set[int], context: set[int], in_list: bool, is_item: bool) -> bool:
    if mention.movie is not None:
        if mention.movie.movie_id in allowed or mention.movie.movie_id in context:
            return False
        return not is_item or mention.head  # a list item's reason may refer to other catalog films
    return mention.strong and (in_list or mention.quoted_title or _WITH_YEAR.search(mention.written) is not None)


def _line_mentions(unit: str, index: _TitleIndex) -> list[_Mention]:
    item = _LIST_ITEM.match(unit)
    if not item:
        return _unit_mentions(unit, index)
    body = item.group("body")
    found = _unit_mentions(body, index)
    head = _list_head(body)
    if head and not any(m.head for m in found):
        found = [m for m in found if m.written not in head]
        found.insert(0, _Mention(head, _resolve(head, index), strong=True, head=True))
    return found


def _list_head(body: str) -> str | None:
    """The title an unformatted list line starts with: "Heat (1995) - Michael Mann's best"."""
    if _MARKED.match(body):
        return None  # a bold or quoted head is found with the other formatted names
    head = _HEAD_END.split(body, maxsplit=1)[0].strip()
    year = _WITH_YEAR.search(head)
    head = head[: year.end()] if year else head
    words = head.split()
    if not words or len(words) > 12 or not (words[0][:1].isupper() or words[0][:1].isdigit()) or head[-1] in "?!:":
        return None
    return head


def _unit_mentions(unit: str, index: _TitleIndex) -> list[_Mention]:
    found: list[_Mention] = []
    taken: list[tuple[int, int]] = []
    for match in _MARKED.finditer(unit):
        group = next(name for name, value in match.groupdict().items() if value is not None)
        written = match.group(group).strip()
        at_start = not unit[: match.start()].strip(" \t-*•+0123456789.)")
        if len(written.split()) > 12:
            continue
        movie = _resolve(written, index)
        quoted = group in _QUOTE_GROUPS and _title_cased(written) and len(written.split()) > 1
        if movie is None and not (_WITH_YEAR.search(written) or at_start or quoted):
            continue  # emphasis, not a title
        found.append(_Mention(written, movie, strong=True, head=at_start, quoted_title=quoted))
        taken.append(match.span())
    for match in _WITH_YEAR.finditer(unit):
        if any(a <= match.start() < b for a, b in taken):
            continue
        mention, start = _titled_run(unit, match, index)
        if mention:
            found.append(mention)
            taken.append((start, match.end()))
    found += _named_in_prose(_blank(unit, taken), index)
    return found


def _titled_run(unit: str, year: re.Match, index: _TitleIndex) -> tuple[_Mention | None, int]:
    """The capitalized words right before "(1995)": the longest ending that is a catalog title, else all."""
    tokens = list(_WORD_TOKEN.finditer(unit[: year.start()]))
    run: list[re.Match] = []
    for token in reversed(tokens):
        word = token.group()
        gap = unit[token.end(): run[0].start() if run else year.start()]
        if run and (word.endswith((".", "!", "?")) or re.search(r"[,;()\[\]—–]", gap)):
            break
        if not (word[:1].isupper() or word[:1].isdigit() or word.lower() in _CONNECTORS):
            break
        run.insert(0, token)
    while run and (run[0].group().lower() in _LEAD_WORDS or run[0].group() in _CONNECTORS):
        run.pop(0)  # "Try Heat (1995)", "and Heat (1995)"; a capital "The" starts a title
    if not run:
        return None, year.start()
    for first in run:
        written = f"{unit[first.start(): run[-1].end()]} {year.group()}"
        movie = _resolve(written, index)
        if movie is not None:
            return _Mention(written, movie, strong=True), first.start()
    return _Mention(f"{unit[run[0].start(): run[-1].end()]} {year.group()}", None, strong=True), run[0].start()


def _named_in_prose(unit: str, index: _TitleIndex) -> list[_Mention]:
    """Catalog names written in Title Case in running text; the longest name wins at each word."""
    tokens = list(_WORD_TOKEN.finditer(unit))
    found, i = [], 0
    while i < len(tokens):
        for stop in range(min(len(tokens), i + 12), i, -1):
            written = unit[tokens[i].start(): tokens[stop - 1].end()]
            movie = index.by_key.get(normalize(written))
            if movie and _title_cased(written) and _plausible_prose_title(unit, tokens[i].start(), written, index):
                found.append(_Mention(movie.title, movie, strong=False))
                i = stop
                break
        else:
            i += 1
    return found


def _plausible_prose_title(unit: str, start: int, written: str, index: _TitleIndex) -> bool:
    """One capitalized word is a title only mid-sentence and when it is not a genre ("Drama and Romance")."""
    if len(written.split()) > 1:
        return True
    at_sentence_start = not unit[:start].strip() or unit[:start].rstrip()[-1:] in ".!?:"
    return not at_sentence_start and normalize(written) not in index.genre_words


def _title_cased(text: str) -> bool:
    words = re.findall(r"[^\W\d_][\w'’-]*|\d+", text)
    return bool(words) and not text.rstrip().endswith(":") and (words[0][0].isupper() or words[0].isdigit()) and all(
        w[0].isupper() or w.isdigit() or w.lower() in _SMALL_WORDS for w in words)


def _resolve(written: str, index: _TitleIndex) -> Movie | None:
    """The catalog movie a formatted name means; a year more than one off means a different film."""
    name = written.strip(" *_\"'“”")
    hit = index.matcher.match(name)
    if hit is None:
        return None
    year = split_year(name)[1]
    if year is not None and hit.movie.year is not None and abs(hit.movie.year - year) > 1:
        return None
    return hit.movie


def _blank(text: str, spans: list[tuple[int, int]]) -> str:
    chars = list(text)
    for start, stop in spans:
        chars[max(start, 0): stop] = " " * (min(stop, len(chars)) - max(start, 0))
    return "".join(chars)


def _sentences(line: str) -> list[str]:
    parts = re.split(r"(?<=[.!?])\s+(?=[A-Z*\"“'_(\[0-9])", line)
    merged: list[str] = []
    for part in parts:
        if merged and _ABBREVIATIONS.search(merged[-1]):
            merged[-1] = f"{merged[-1]} {part}"
        else:
            merged.append(part)
    return merged


def _film_list_lines(lines: list[str], mentions: list[list[list[_Mention]]]) -> set[int]:
    """Lines of list blocks in which some item names a catalog film or a year: lists of films."""
    film_lines: set[int] = set()
    block: list[int] = []
    for i, line in enumerate([*lines, ""]):
        if i < len(lines) and _LIST_ITEM.match(line):
            block.append(i)
            continue
        if block and any(m.movie or _WITH_YEAR.search(m.written) for j in block for m in mentions[j][0]):
            film_lines.update(block)
        if i == len(lines) or line.strip():
            block = []
    return film_lines


def _renumber(lines: list[str]) -> str:
    """Numbered items count 1, 2, 3 again after items were taken out."""
    out, number = [], 0
    for line in lines:
        item = _LIST_ITEM.match(line)
        if item and item.group("number"):
            number += 1
            bullet = item.group("bullet")
            out.append(bullet.replace(item.group("number"), str(number), 1) + line[len(bullet):])
            continue
        if line.strip() and not item:
            number = 0
        out.append(line)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip()


# ---------------------------------------------------------------- answers built from verified data

def verified_recommendations(recommendations: Iterable[Recommendation], verified_ids: Iterable[int | Movie],
                             catalog: Catalog) -> tuple[list[Recommendation], list[str]]:
    """Keep recommendations a tool returned and the catalog has, titles and years as the catalog writes them."""
    allowed = {m.movie_id if isinstance(m, Movie) else int(m) for m in verified_ids}
    kept, dropped = [], []
    for rec in recommendations:
        movie = catalog.movies.get(rec.movie_id)
        if movie is None or rec.movie_id not in allowed:
            dropped.append(rec.title)
            continue
        kept.append(Recommendation(movie.movie_id, movie.title, movie.year, rec.reason, rec.genres or movie.genres))
    return kept, dropped
