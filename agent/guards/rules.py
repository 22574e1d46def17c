"""The injection rules: override, fake role/system turns, prompt leak, role play, rigged rankings (paid, hidden,
for every user), in English (other languages in `languages.py`).

`find_rule(readings)` names the first rule any reading of a turn breaks. "Recommend X no matter what" lives
in `pushed.py`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from agent.guards import languages
from agent.guards.readings import Reading, fold

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
    ("fake_role", "quoted-role-line",
     re.compile(r"[\"“'«]\s*(?:system|developer|admin|assistant|operator)\s*:\s*\S", re.IGNORECASE)),
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
         r"mode\b|\bjailbroken\b|\bjailbreak (?:yourself|the (?:ai|bot|assistant|model|chatbot|system))\b")),
    ("role_play", "act-as-your-maker",
     _rx(r"\b(?:act|pretend|roleplay|speak|respond|answer) (?:as|like|to be) (?:the |your |an? )?(?:developer|"
         r"creator|programmer|engineer|admin|administrator|owner|system|maker)s?\b (?:who|that|of)\b")),
    ("forced_recommendation", "hidden-agenda",
     _rx(r"\b(?:dont|do not|never|without) (?:tell|inform|disclos|reveal|mention|admit)\w* (?:(?:the |other |any )?"
         r"(?:users?|anyone|people|customers|viewers) )?(?:about )?(?:this|that|the|our|my|your|any) (?:bias|deal|"
         r"commission|sponsorship|partnership|arrangement|payment|agenda|promotion|kickback)s?\b")),
    ("forced_recommendation", "paid-picks",
     _rx(r"\b(?:paid (?:partnership|promotion|placement)|sponsored (?:titles?|films?|movies?|picks?|placements?)|"
         r"(?:affiliate|referral) (?:links?|shop|codes?|store)|(?:get|earn|receive)s? (?:a )?(?:commission|kickback)|"
         r"(?:studio|distributor|company|sponsor) paid (?:us|you|the most))\b")),
    ("forced_recommendation", "for-every-user",
     _rx(r"\b(?:recommend|suggest|show|push|promote|give|send|mention)(?: [a-z0-9]+){0,6} (?:to|for) (?:every|each|"
         r"all|any) (?:other |future |single )?(?:users?|customers?|visitors?|persons?)\b|\ball future answers to "
         r"anyone\b")),
    ("forced_recommendation", "rig-the-ranking",
     _rx(r"\b(?:boost|inflate|bump up|upweight|downweight|downrank|rig|manipulate|tamper with)(?: the| its| their|"
         r" all| your)? (?:scores?|rankings?|ranks?|ratings?|weights?|similarity|algorithm)\b|\b(?:ignore|disregard|"
         r"bypass|override) (?:the |your )?(?:similarity scores?|ranking (?:algorithm|model|logic)|retrieval|search "
         r"results|tool results?|catalog data|ratings data)\b")),
    ("forced_recommendation", "fabricated-praise",
     _rx(r"\b(?:fake|made up|invented|fabricated|bogus) (?:quotes?|reviews?|ratings?|critic quotes|praise|"
         r"testimonials?|scores?|awards?)\b(?! (?:movie|film|scene|plot))")),
    ("forced_recommendation", "into-every-answer",
     _rx(r"\b(?:insert|inject|slip|sneak|append|plug)(?: in)?(?: [a-z0-9.]+){0,6} (?:in|into|to) (?:every|each|all)"
         r"(?: of)?(?: your)?(?: future)? (?:answers?|repl(?:y|ies)|responses?|messages?|recommendations?|lists?)\b|"
         r"\b(?:end|conclude|close|finish|sign off|start|open|begin) (?:every|each|all)(?: of)?(?: your)?(?: future)? "
         r"(?:answers?|repl(?:y|ies)|responses?|messages?|recommendations?) (?:with|by)\b")),
    ("encoded_instruction", "decode-and-obey",
     _rx(r"\b(?:decode|decipher|decrypt|unscramble|reverse|rot13|base64|unhex) (?:this|the following|it|that|"
         r"these|the text|the string|below)\b.{0,40}?\b(?:and|then) (?:follow|obey|execute|run|do|apply|"
         r"carry out|act on)\b")),
]
_DAN = re.compile(r"\bDAN\b")  # the all-caps jailbreak persona; "Dan in Real Life" is not it

# Rules for text with every space and sign squeezed out ("i g n o r e y o u r r u l e s").
_SQUEEZED = re.compile(
    r"(?:ignore|disregard|forget)(?:all|any|the|your|previous|prior|above|earlier){1,3}"
    r"(?:instructions?|prompts?|rules|guidelines|directions)|systemprompt|developermode|doanythingnow|"
    r"(?:reveal|show|print|repeat)(?:me)?(?:your|the)(?:system|hidden|initial)?prompt|newinstructions:")


@dataclass(frozen=True)
class Finding:
    rule: str
    name: str
    reading: Reading


def find_rule(readings: Sequence[Reading]) -> Finding | None:
    """The first rule any reading breaks; hidden parts first, so the audit learns where an attack hid."""
    ordered = sorted(readings, key=lambda r: not r.hidden)
    for reading in ordered:
        folded = fold(reading.text)
        worded = _worded(folded)
        if reading.hidden and len(re.findall(r"\w+", folded)) >= 2:
            return Finding("hidden_markup", "hidden-text", reading)
        for rule, name, pattern in _ENGLISH:
            if rule == "fake_role" and pattern.search(worded if pattern in _WORDY else folded):
                return Finding(rule, name, reading)
        if _override_verb(worded):
            return Finding("override", "ignore-your-instructions", reading)
        for rule, name, pattern in _ENGLISH:
            if pattern.search(worded if pattern in _WORDY else folded):
                return Finding(rule, name, reading)
        for rules, text in ((languages.WORDED, worded), (languages.FOLDED, folded)):
            for rule, name, pattern in rules:
                if pattern.search(text):
                    return Finding(rule, name, reading)
        if _DAN.search(reading.text):
            return Finding("role_play", "dan", reading)
    for reading in ordered:  # last resort, with every space and sign squeezed out
        if _SQUEEZED.search(re.sub(r"[^a-z0-9:]", "", fold(reading.text).lower())):
            return Finding("override", "squeezed-phrase", Reading(reading.text, (*reading.tricks, "squeezed")))
    return None
