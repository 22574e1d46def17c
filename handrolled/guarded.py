"""The project's guard rules (agent/guards/, pure Python) wired into the hand-rolled path.

Input: every turn is screened; a blocked turn never reaches preferences, retrieval or the LLM.
Output: a recommendation survives only if retrieval returned it and the catalog has it, and its line, as the
person will read it, must pass `check_output`; an LLM reason naming an unverified film is replaced by the
evidence reason rather than losing the pick.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agent.guards import GuardVerdict, check_output, screen_input, verified_recommendations
from index.recommendation import render_list
from index.catalog import Catalog
from index.recommendation import Recommendation


@dataclass
class Screened:
    turns: list[str] = field(default_factory=list)  # cleaned, allowed turns
    blocked: list[GuardVerdict] = field(default_factory=list)


def screen_turns(turns: list[str]) -> Screened:
    screened = Screened()
    for turn in turns:
        verdict = screen_input(turn)
        (screened.turns.append(verdict.text) if verdict.allowed else screened.blocked.append(verdict))
    return screened


def checked(recommendations: list[Recommendation], fallback_reasons: dict[int, str], returned: set[int],
            catalog: Catalog, named: tuple[int, ...]) -> tuple[list[Recommendation], int]:
    """(recommendations the person may see, how many reasons were replaced by their evidence reason)."""
    kept, _ = verified_recommendations(recommendations, returned, catalog)
    result, replaced = [], 0
    for rec in kept:
        line = render_list([rec])
        if check_output(line, returned, catalog, context_ids=named).removed:
            rec = Recommendation(rec.movie_id, rec.title, rec.year, fallback_reasons[rec.movie_id], rec.genres)
            replaced += 1
        result.append(rec)
    return result, replaced


def checked_text(text: str, returned: set[int], catalog: Catalog, named: tuple[int, ...]) -> tuple[str, list[str]]:
    """Free text (a clarifying question) with every unverified film taken out, and the titles removed."""
    check = check_output(text, returned, catalog, context_ids=named)
    return check.text, check.removed
