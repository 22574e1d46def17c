"""Guards on both sides of the agent: input screen (readings, rules, learned screen), output check.
Pure Python, no llama_index: agent/, eval/ and handrolled/ import the names below from `agent.guards`."""

from agent.guards.output import NOTE_ALL_REMOVED, OutputCheck, check_output, verified_recommendations
from agent.guards.screen import (MAX_TURN_CHARS, REPLY_EMPTY, REPLY_FORCED, REPLY_INJECTION, REPLY_LEAK,
                                 REPLY_TOO_LONG, REPLY_UNREADABLE, GuardVerdict, screen_input, warm_up)

__all__ = ["MAX_TURN_CHARS", "NOTE_ALL_REMOVED", "REPLY_EMPTY", "REPLY_FORCED", "REPLY_INJECTION", "REPLY_LEAK",
           "REPLY_TOO_LONG", "REPLY_UNREADABLE", "GuardVerdict", "OutputCheck", "check_output", "screen_input",
           "verified_recommendations", "warm_up"]
