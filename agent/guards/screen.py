"""The input screen: one verdict per user turn from the rules and the learned screen over every reading.

The rules decide the clear cases and undo the disguises; a turn they let through is scored by the learned
screen, and when that score is unsure an LLM's second opinion (if one is given) decides.
"""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from agent.guards.pushed import forced_title
from agent.guards.classifier import learned_screen, scored_texts
from agent.guards.readings import Reading, clean, is_junk, readings
from agent.guards.rules import find_rule

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


def screen_input(turn: str | bytes | None, second_opinion: Callable[[str], bool | None] | None = None,
                 learned: bool = True) -> GuardVerdict:
    """The verdict on one user turn; a turn that is not `allowed` must not reach the agent.

    `second_opinion(text)` (see `second_opinion.SecondOpinion`) is asked only when the learned score is
    unsure; None from it leaves the classifier's verdict. `learned=False` is the rules alone.
    """
    text = _as_text(turn)
    if text is None or _junk_share(text[:SCAN_CHARS]) > UNREADABLE_SHARE:
        return GuardVerdict(False, "unreadable", "binary data, control characters or invalid unicode",
                            REPLY_UNREADABLE)
    cleaned, tricks, smuggled = clean(text[:SCAN_CHARS])
    if not _has_content(cleaned) and not smuggled.strip():
        return GuardVerdict(False, "empty", "no words in the turn", REPLY_EMPTY)
    seen = readings(cleaned, smuggled, tricks)
    finding = find_rule(seen)
    forced = forced_title(seen)
    if finding or forced:
        rule, name, reading = (finding.rule, finding.name, finding.reading) if finding else \
            ("forced_recommendation", "push-a-title", forced[1])
        evasion = reading.tricks
        how = f" (via {', '.join(evasion)})" if evasion else ""
        reply = REPLY_LEAK if rule == "prompt_leak" else REPLY_FORCED if rule == "forced_recommendation" \
            else REPLY_INJECTION
        return GuardVerdict(False, "injection", f"{rule} rule '{name}' matched{how}", reply, rule=rule,
                            evasion=evasion, injected_title=forced[0] if forced else None)
    full_length = len(clean(text)[0]) if len(text) > SCAN_CHARS else len(cleaned)
    if full_length > MAX_TURN_CHARS:
        return GuardVerdict(False, "too_long", f"{full_length} characters, over the {MAX_TURN_CHARS} limit",
                            REPLY_TOO_LONG.format(n=full_length, limit=MAX_TURN_CHARS))
    if learned:
        return _learned_verdict(seen, cleaned.strip(), second_opinion)
    return GuardVerdict(True, "ok", "no rule matched", text=cleaned.strip())


def warm_up() -> float:
    """Load the learned screen and trace its embedder now, not in the first person's first turn (about 4 s on 2
    cores); returns the seconds it took."""
    started = time.perf_counter()
    screen_input("something funny from the nineties, please")
    return time.perf_counter() - started


def _learned_verdict(seen: Sequence[Reading], text: str, second_opinion) -> GuardVerdict:
    screen = learned_screen()
    texts = scored_texts(seen)
    score = screen.score(texts)
    blocked, who = score >= screen.threshold, f"learned screen {score:.2f} (blocks at {screen.threshold:.2f})"
    if second_opinion is not None and screen.unsure[0] <= score <= screen.unsure[1]:
        opinion = second_opinion("\n\n".join(texts))  # the decoded readings too: the LLM need not decode
        if opinion is not None:
            blocked, who = opinion, f"{who}, unsure; LLM second opinion: {'attack' if opinion else 'safe'}"
    if blocked:
        return GuardVerdict(False, "injection", who, REPLY_INJECTION, rule="learned")
    return GuardVerdict(True, "ok", f"no rule matched; {who}", text=text)


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
    return sum(map(is_junk, text)) / len(text) if text else 0.0


def _has_content(text: str) -> bool:
    return any(ch.isalnum() or unicodedata.category(ch) == "So" for ch in text)
