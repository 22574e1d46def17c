"""The deterministic dialogue policy: the whole chat without an LLM, on the same signals and tools."""

from __future__ import annotations

import re

from tools.search import MIN_SIGNALS, next_question, recommend, render
from tools.session import ToolSession

NO_LLM_NOTE = "_(running without a language model: questions and reasons come from fixed rules)_"
_MORE = re.compile(r"\b(?:more|others?|another|again|different|else|new ones?|next)\b", re.IGNORECASE)
# A turn that asks the assistant something is the agent's to answer, even while signals are missing.
_ASKS = re.compile(r"\?|^\W*(?:what|which|who|why|how|where|is|are|does|do you|can you|could you|would you|tell me|"
                   r"look up|explain|describe|compare)\b", re.IGNORECASE)
_THANKS = re.compile(r"^\s*(?:thanks?|thank you|great|perfect|cool|awesome|ok(?:ay)?|bye)\b", re.IGNORECASE)


async def rule_based_reply(session: ToolSession, text: str, changed: bool) -> str:
    """What to say after `session.note_user_turn(text)`; `changed` says whether the preferences moved."""
    prefs = session.preferences
    if len(prefs.signals) < MIN_SIGNALS:
        return f"{_acknowledge(session)}{next_question(prefs.missing[0])}"
    if wants_picks(session, changed) or _MORE.search(text):
        return render(await recommend(session))
    if _THANKS.search(text):
        return "Enjoy the film! Tell me if you want more picks or a different mood, era or genre."
    return "Want more picks, or shall I change something: mood, era, genres, language?"


def wants_picks(session: ToolSession, changed: bool) -> bool:
    """The policy, with or without an LLM: three signals are enough; recommend then, and again when they change."""
    return len(session.preferences.signals) >= MIN_SIGNALS and (not session.shown or changed)


def wants_question(session: ToolSession, text: str) -> bool:
    """Signals are missing and the person only answered, asking nothing: the next question is the reply."""
    return len(session.preferences.signals) < MIN_SIGNALS and not _ASKS.search(text)


def _acknowledge(session: ToolSession) -> str:
    prefs = session.preferences
    if not prefs.signals:
        return "Happy to help you find a film! To start, "
    parts = [prefs.summary()]
    if prefs.unresolved:
        parts.append(f"I could not find {', '.join(prefs.unresolved)} in the catalog")
    return f"Noted ({'; '.join(parts)}). Next, "
