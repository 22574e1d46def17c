"""The side panel's text: what one conversation has told us so far, as Markdown."""

from __future__ import annotations

from tools.preferences import SIGNAL_KINDS, Preferences
from tools.search import MIN_SIGNALS

AUDIENCE_LABELS = {"kids": "children", "family": "the whole family", "date": "a date", "adults": "adults only"}
LABELS = {"mood": "Mood", "era": "Era", "language": "Language", "genres": "Genres", "loved": "Films you loved"}


def signals_markdown(prefs: Preferences) -> str:
    """How many signals are known and how many more the picks need, then one line per kind ("not yet")."""
    known = prefs.signals
    values = _values(prefs)
    lines = [f"- **{LABELS[kind]}**: {values[kind] if kind in known else '_not yet_'}" for kind in SIGNAL_KINDS]
    if prefs.disliked:
        lines.append(f"- **Not for you**: {', '.join(m.title for m in prefs.disliked)}")
    if prefs.seen:
        lines.append(f"- **Already seen** (never suggested): {', '.join(m.title for m in prefs.seen)}")
    if prefs.audience:
        ages = f" (ages {', '.join(map(str, prefs.ages))})" if prefs.ages else ""
        lines.append(f"- **Watching**: {AUDIENCE_LABELS.get(prefs.audience, prefs.audience)}{ages}")
    if prefs.keywords:
        lines.append(f"- **Themes**: {', '.join(prefs.keywords)}")
    if prefs.unresolved:
        lines.append(f"- **Not in the catalog**: {', '.join(prefs.unresolved)}")
    needed = MIN_SIGNALS - len(known)
    status = ("enough to recommend" if needed <= 0
              else f"{needed} more before I recommend")
    return f"**{len(known)} of {len(SIGNAL_KINDS)} signals**: {status}\n\n" + "\n".join(lines)


def _values(prefs: Preferences) -> dict[str, str]:
    span = f" ({prefs.year_min or '…'}–{prefs.year_max or '…'})" if prefs.year_min or prefs.year_max else ""
    language = ("subtitles fine" if prefs.subtitles else "English only" if prefs.subtitles is False else "")
    return {
        "mood": _joined(prefs.moods, prefs.avoid_moods),
        "era": f"{prefs.era}{span}" if prefs.era else "",
        "language": ", ".join(x for x in (language, *prefs.languages) if x),
        "genres": _joined(prefs.genres, prefs.avoid_genres),
        "loved": ", ".join(m.title for m in prefs.loved),
    }


def _joined(wanted: tuple[str, ...], avoided: tuple[str, ...]) -> str:
    return ", ".join((*wanted, *(f"not {x}" for x in avoided)))
