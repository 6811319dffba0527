"""Relayed words made safe to show inside our own messages: one line, no hidden characters.

A survivor's phone (or whoever holds it) writes the text a coordinator reads inside an SMS that
starts with our words. Line breaks would let it continue as if it were a new message from us
("\\n\\nALERT: OK R-1234"); control characters and bidi overrides (U+202E) can hide or reorder
what is shown. So relayed text becomes one line, line breaks shown as " / ", with control and
format characters removed, and it goes between guillemets that it cannot close itself.
"""

from __future__ import annotations

import re
import unicodedata

OPEN, CLOSE = "«", "»"
LINE_BREAK = " / "
# Format characters that text needs: the joiners of emoji sequences (and of some scripts).
KEEP = frozenset({"\u200c", "\u200d"})
_BREAKS = re.compile(r"(?:\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029])+")
_SPACES = re.compile(r"[ \t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]+")
# Cc: controls; Cf: format (bidi embeddings, overrides and isolates, invisible marks);
# Cs: lone surrogates (not text at all); Cn: unassigned code points (no meaning yet).
_DROP = frozenset({"Cc", "Cf", "Cs", "Cn"})


def flatten(text: str) -> str:
    """One line of visible text: breaks as " / ", controls and bidi characters removed."""
    text = unicodedata.normalize("NFC", text)
    text = _BREAKS.sub("\n", text.strip())
    text = _SPACES.sub(" ", text)
    kept = "".join(
        ch for ch in text if ch == "\n" or ch in KEEP or unicodedata.category(ch) not in _DROP
    )
    lines = [line.strip() for line in kept.split("\n")]
    return LINE_BREAK.join(line for line in lines if line)


def quoted(text: str) -> str:
    """flatten(text) between guillemets; its own guillemets become plain quotes."""
    flat = flatten(text).replace(OPEN, '"').replace(CLOSE, '"')
    return f"{OPEN}{flat}{CLOSE}" if flat else ""
