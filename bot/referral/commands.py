"""Coordinators' commands from SMS or Telegram, in Albanian or English (pure: a parser only).

Accepting: `OK R-4821`, `PO R-4821`, `PRANOJ R-4821` or `ACCEPT R-4821`, in any case; the word
alone accepts when exactly one case is waiting for that coordinator. `R4821` and `r-4821` are
read as `R-4821`, `r7kx9m2pq` as `R-7KX9M2PQ` (new references have 8 characters). Working a case:

    R-4821 <text>                       relay a message to the person
    NUMRI R-4821 | NUMBER R-4821        the person's phone number (recorded in the audit log)
    SHENIM R-4821 <text> | NOTE ...     add a note
    LLOJI R-4821 <type> | TYPE ...      GBVIMS incident type
    REFERO R-4821 <service> | REFER ... record a referral (needs the person's consent)
    MBYLL R-4821 <outcome> | CLOSE ...  close with an outcome (and an optional note after it)
    URDHER R-4821 <type> <issued> [<end>] | ORDER ...   register or correct a protection order
    PLAN R-4821 <housing|job|training|income> <date>     an integration plan's milestone
    RASTET | CASES                      my open cases
    NDIHME | HELP | ?                   the short help

Diacritics are optional (SHËNIM = SHENIM). Anything else gets the short help.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.engine.normalise import normalise

REFERENCE = re.compile(r"^([A-Za-z])-?([0-9A-Za-z]{4,})$")
REFERENCE_EXAMPLE = "R-4821"
NEW_REFERENCE_LENGTH = 8  # bot/store/repos/cases.py makes them

ACCEPT_WORDS = ("ok", "okay", "po", "pranoj", "accept", "marr")
KEYWORDS: dict[str, str] = {
    "numri": "number",
    "numër": "number",
    "number": "number",
    "nr": "number",
    "shënim": "note",
    "note": "note",
    "lloji": "type",
    "type": "type",
    "refero": "refer",
    "refer": "refer",
    "mbyll": "close",
    "close": "close",
    "urdher": "order",  # Follow-ups (bot/followups/commands.py)
    "urdhër": "order",
    "order": "order",
    "plan": "plan",
    "plani": "plan",
    "rastet": "cases",
    "cases": "cases",
    "ndihmë": "help",
    "help": "help",
}
# Compared after normalise(), which also folds doubled letters (mbyll -> mbyl, accept -> acept).
_ACCEPT = frozenset(normalise(w) for w in ACCEPT_WORDS)
_KEYWORDS = {normalise(k): v for k, v in KEYWORDS.items()}
_FIRST_WORD = re.compile(r"\s+")

# GBVIMS incident types (DOMAIN.md), with the words coordinators may type for them.
GBV_TYPES: dict[str, tuple[str, ...]] = {
    "rape": ("rape", "perdhunim", "perdhunimi"),
    "sexual_assault": ("sexual assault", "sulm seksual", "sulmi seksual"),
    "physical_assault": (
        "physical assault",
        "sulm fizik",
        "sulmi fizik",
        "dhune fizike",
        "dhuna fizike",
    ),
    "forced_marriage": (
        "forced marriage",
        "martese e detyruar",
        "martese me detyrim",
        "martesa e detyruar",
    ),
    "denial_of_resources": (
        "denial of resources",
        "denial",
        "mohim burimesh",
        "mohim i burimeve",
        "mohim",
    ),
    "psychological_abuse": (
        "psychological abuse",
        "emotional abuse",
        "psychological",
        "dhune psikologjike",
        "dhuna psikologjike",
        "abuzim psikologjik",
        "psikologjike",
    ),
    "non_gbv": ("non gbv", "not gbv", "jo dhbgj", "jo gbv", "tjeter"),
}

SERVICES: dict[str, tuple[str, ...]] = {
    "police": ("police", "polici", "policia", "policine"),
    "shelter": ("shelter", "strehe", "streha", "strehim", "strehez", "qender"),
    "health": ("health", "shendet", "shendetesi", "shendetesia", "mjek", "spital", "doctor"),
    "legal": ("legal", "legal aid", "ligjor", "ndihme ligjore", "juridik", "avokat", "lawyer"),
    "psychosocial": (
        "psychosocial",
        "counselling",
        "counseling",
        "psikosocial",
        "psikolog",
        "keshillim",
    ),
    "social": ("social", "social services", "sociale", "sherbime sociale", "sherbimet sociale"),
    "economic": ("economic", "employment", "ekonomik", "ekonomike", "punesim", "integrim"),
}

OUTCOMES: dict[str, tuple[str, ...]] = {
    "resolved": ("resolved", "zgjidhur", "zgjidhet", "u zgjidh"),
    "referred": ("referred", "referuar", "u referua"),
    "no_contact": ("no contact", "pa kontakt", "nuk u gjet", "unreachable"),
    "declined": ("declined", "refuzoi", "nuk deshi", "refused"),
    "duplicate": ("duplicate", "dublikate", "dyfishte"),
    "other": ("other", "tjeter"),
}


@dataclass(frozen=True, slots=True)
class Command:
    """A parsed command: what to do, on which case, with what."""

    # accept | relay | number | note | type | refer | close | order | plan | cases | help | unknown
    action: str
    reference: str | None = None
    text: str = ""  # relayed text, a note, or the note after a close outcome
    value: str | None = None  # a GBVIMS type, a service kind or an outcome (None: not understood)
    raw: str = ""  # the argument as typed, for error messages


def reference_of(word: str) -> str | None:
    """`R-4821` from R-4821, r-4821 or R4821; `R-7KX9M2PQ` from r7kx9m2pq; else None."""
    match = REFERENCE.match(word.strip().strip(".,:;!?"))
    if not match:
        return None
    letter, rest = match.groups()
    undashed_ok = rest.isdigit() or (
        len(rest) == NEW_REFERENCE_LENGTH and any(c.isdigit() for c in rest)
    )
    if "-" not in word and not undashed_ok:
        return None  # "hello" must not read as H-ELLO
    return f"{letter.upper()}-{rest.upper()}"


def _lookup(table: dict[str, tuple[str, ...]], typed: str) -> str | None:
    """The key whose words (or the key itself) match `typed`, diacritics and case ignored."""
    wanted = normalise(typed)
    if not wanted:
        return None
    for key, words in table.items():
        if wanted == normalise(key) or wanted in {normalise(w) for w in words}:
            return key
    return None


def _outcome(rest: str) -> tuple[str | None, str]:
    """The outcome at the start of `rest` (one to three words) and the note after it."""
    words = rest.split()
    for n in (3, 2, 1):
        if len(words) >= n:
            found = _lookup(OUTCOMES, " ".join(words[:n]))
            if found:
                return found, " ".join(words[n:])
    return None, rest


def _split(text: str) -> tuple[str, str]:
    """The first word and the rest (any whitespace between, line breaks kept in the rest)."""
    parts = _FIRST_WORD.split(text.strip(), maxsplit=1)
    return parts[0], (parts[1].strip() if len(parts) > 1 else "")


def parse(text: str) -> Command:
    """Read one message from a coordinator (a Telegram button's value reads the same)."""
    stripped = text.strip()
    if not stripped:
        return Command("help")
    if stripped == "?":
        return Command("help")
    head, rest = _split(stripped)
    ref = reference_of(head)
    if ref is not None:
        return Command("relay", ref, text=rest)
    word = normalise(head)
    if word in _ACCEPT:
        if not rest:
            return Command("accept")
        ref = reference_of(_split(rest)[0])
        return Command("accept", ref, raw=rest) if ref else Command("unknown", raw=rest)
    action = _KEYWORDS.get(word)
    if action is None:
        return Command("unknown", raw=stripped)
    if action in ("cases", "help"):
        return Command(action)
    arg_head, arg_rest = _split(rest)
    ref = reference_of(arg_head) if arg_head else None
    if ref is None:
        return Command(action, None, raw=rest)
    if action == "number":
        return Command("number", ref)
    if action == "note":
        return Command("note", ref, text=arg_rest)
    if action in ("order", "plan"):
        return Command(action, ref, text=arg_rest, raw=arg_rest)
    if action == "type":
        return Command("type", ref, value=_lookup(GBV_TYPES, arg_rest), raw=arg_rest)
    if action == "refer":
        return Command("refer", ref, value=_lookup(SERVICES, arg_rest), raw=arg_rest)
    outcome, note = _outcome(arg_rest)
    return Command("close", ref, text=note, value=outcome, raw=arg_rest)
