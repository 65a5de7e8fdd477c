"""The opt-out words (DOMAIN.md) and the one matcher every channel's replies go through.

A reply containing any of `OPT_OUT_WORDS` as a whole word, in any case, anywhere in the text,
is an opt-out; "opt out" also reads as "opt-out", "opt_out" or "optout". `SMS_STOP_WORD` is
the word every text message tells the patient to reply with (one of the words).
"""

from __future__ import annotations

import re

OPT_OUT_WORDS = ("stop", "quit", "end", "revoke", "opt out", "cancel", "unsubscribe")
# The word texts name ("Reply STOP to opt out"), in the capitals the templates check for.
SMS_STOP_WORD = "STOP"


def _word(word: str) -> str:
    """A word of the list as a pattern: its parts joined by any run of space, `_` or `-`."""
    return r"[\s_-]*".join(re.escape(part) for part in word.split())


OPT_OUT_PATTERN = re.compile(
    r"\b(?:" + "|".join(_word(word) for word in OPT_OUT_WORDS) + r")\b", re.IGNORECASE
)


def is_opt_out(text: str) -> bool:
    """Whether the reply contains an opt-out word, as a whole word, in any case."""
    return OPT_OUT_PATTERN.search(text) is not None
