"""GSM-7 / UCS-2 detection, segment counting and Albanian folding, against Twilio's calculator."""

from __future__ import annotations

import pytest

from bot.channels.sms_encoding import (
    SegmentInfo,
    describe,
    encoding,
    fold_albanian,
    segments,
)

EMOJI = "\U0001f600"  # 😀, outside the BMP: two UTF-16 code units
E_NFD = "e\u0308"  # e + combining diaeresis, as some keyboards send ë
EXTENSION = ["€", "^", "{", "}", "[", "]", "~", "|", "\\"]

# 108 characters with ë: two UCS-2 parts, one GSM-7 part once folded.
DANGER = (
    "Nëse jeni në rrezik të menjëhershëm, telefononi 112 ose 129. "
    "Një koordinatore do t'ju kontaktojë së shpejti."
)
# 186 characters with ë, ç and Ç: three UCS-2 parts, two GSM-7 parts once folded.
QUESTION = (
    "Çfarë ndodhi? Ju lutem na tregoni me pak fjalë: jeni të sigurt tani? Shkruani 1 për PO, "
    "2 për JO, 3 nëse nuk mund të flisni tani. Mund të shkruani DIL në çdo kohë për ta mbyllur "
    "bisedën."
)

CASES = [
    # (id, text, encoding, segments)
    ("empty", "", "GSM-7", 0),
    ("gsm-1", "a", "GSM-7", 1),
    ("gsm-160", "a" * 160, "GSM-7", 1),
    ("gsm-161", "a" * 161, "GSM-7", 2),
    ("gsm-306", "a" * 306, "GSM-7", 2),
    ("gsm-307", "a" * 307, "GSM-7", 3),
    ("gsm-459", "a" * 459, "GSM-7", 3),
    ("gsm-460", "a" * 460, "GSM-7", 4),
    ("gsm-basic-specials", "@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ¤¡ÄÖÑÜ§¿äöñüà\n\r", "GSM-7", 1),
    ("ucs2-70", "ë" * 70, "UCS-2", 1),
    ("ucs2-71", "ë" * 71, "UCS-2", 2),
    ("ucs2-134", "ë" * 134, "UCS-2", 2),
    ("ucs2-135", "ë" * 135, "UCS-2", 3),
    ("ucs2-201", "ë" * 201, "UCS-2", 3),
    ("ucs2-202", "ë" * 202, "UCS-2", 4),
    ("one-ucs2-char-turns-all", "a" * 69 + "ç", "UCS-2", 1),
    ("one-ucs2-char-turns-all-71", "a" * 70 + "ç", "UCS-2", 2),
    ("cedilla-capital-is-gsm", "Ç" * 160, "GSM-7", 1),
    ("cedilla-small-is-ucs2", "ç", "UCS-2", 1),
    ("e-diaeresis-capital", "Ë", "UCS-2", 1),
    ("curly-apostrophe", "t’ju", "UCS-2", 1),
    # An escape pair is never split: 152 septets fill part one, € (2) starts part two.
    ("escape-not-split", "a" * 152 + "€" + "a" * 152, "GSM-7", 3),
    ("escape-fits", "a" * 151 + "€" + "a" * 153, "GSM-7", 2),
    ("emoji", EMOJI, "UCS-2", 1),
    ("emoji-35", EMOJI * 35, "UCS-2", 1),
    ("emoji-35-plus-1", EMOJI * 35 + "a", "UCS-2", 2),
    ("emoji-in-gsm-70", "a" * 68 + EMOJI, "UCS-2", 1),
    ("emoji-in-gsm-71", "a" * 69 + EMOJI, "UCS-2", 2),
    # A surrogate pair is never split: 66 units fill part one, the emoji starts part two.
    ("surrogate-not-split", "a" * 66 + EMOJI + "a" * 66, "UCS-2", 3),
    ("surrogate-fits", "a" * 65 + EMOJI + "a" * 67, "UCS-2", 2),
    ("nfd-counts-as-one", E_NFD * 70, "UCS-2", 1),
    ("nfd-71", E_NFD * 71, "UCS-2", 2),
    ("albanian-short", "Jam në rrezik, më ndihmoni.", "UCS-2", 1),
    ("albanian-108", DANGER, "UCS-2", 2),
    ("albanian-186", QUESTION, "UCS-2", 3),
    ("albanian-108-folded", fold_albanian(DANGER), "GSM-7", 1),
    ("albanian-186-folded", fold_albanian(QUESTION), "GSM-7", 2),
    ("english", "If you are in danger now, call 112. Reply 1 for YES, 2 for NO.", "GSM-7", 1),
]


@pytest.mark.parametrize(("text", "expected_encoding", "expected_segments"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])  # fmt: skip
def test_encoding_and_segments(text: str, expected_encoding: str, expected_segments: int) -> None:
    """Each text has the encoding and the number of parts Twilio's calculator gives."""
    assert encoding(text) == expected_encoding
    assert segments(text) == expected_segments


@pytest.mark.parametrize("char", EXTENSION)
def test_extension_characters_count_two_at_the_boundary(char: str) -> None:
    """An extension character takes two septets: 158 + 1 fits one part, 159 + 1 does not."""
    assert encoding("a" * 158 + char) == "GSM-7"
    assert segments("a" * 158 + char) == 1
    assert segments("a" * 159 + char) == 2
    assert segments(char * 80) == 1
    assert segments(char * 81) == 2


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Jam në rrezik", "Jam ne rrezik"),
        ("ËSHTË", "ESHTE"),
        ("Çfarë ndodhi, çuni?", "Çfare ndodhi, cuni?"),
        ("Shkruaj DIL", "Shkruaj DIL"),
        (E_NFD + "sht" + E_NFD, "eshte"),
    ],
)
def test_fold_albanian(text: str, folded: str) -> None:
    """ë, Ë and ç fold to e, E and c; Ç stays (GSM-7 has it); NFD input folds too."""
    assert fold_albanian(text) == folded
    assert encoding(folded) == "GSM-7"


def test_folding_leaves_other_unicode() -> None:
    """Folding only touches the Albanian letters: an emoji keeps the text UCS-2."""
    assert fold_albanian("Faleminderit " + EMOJI) == "Faleminderit " + EMOJI
    assert encoding(fold_albanian("Faleminderit " + EMOJI)) == "UCS-2"


@pytest.mark.parametrize(
    ("text", "info"),
    [
        ("", SegmentInfo("GSM-7", 0, 0)),
        ("Përshëndetje", SegmentInfo("UCS-2", 1, 12)),
        ("P" + E_NFD + "rsh" + E_NFD + "ndetje", SegmentInfo("UCS-2", 1, 12)),
        ("a" * 161, SegmentInfo("GSM-7", 2, 161)),
        ("€" * 3, SegmentInfo("GSM-7", 1, 3)),
        (EMOJI * 2, SegmentInfo("UCS-2", 1, 2)),
    ],
)
def test_describe(text: str, info: SegmentInfo) -> None:
    """describe() gives encoding, parts and characters (after NFC) for the admin UI."""
    assert describe(text) == info


def _segments_before(text: str) -> int:
    """segments() as it was before its fast paths (d16adee): a cost per character, always."""
    import unicodedata

    from bot.channels.sms_encoding import GSM7_BASIC, GSM7_EXTENSION

    text = unicodedata.normalize("NFC", text)
    if all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text):
        costs = [2 if ch in GSM7_EXTENSION else 1 for ch in text]
        single, part = 160, 153
    else:
        costs = [2 if ord(ch) > 0xFFFF else 1 for ch in text]
        single, part = 70, 67
    total = sum(costs)
    if total == 0:
        return 0
    if total <= single:
        return 1
    parts, used = 1, 0
    for cost in costs:
        if used + cost > part:
            parts, used = parts + 1, 0
        used += cost
    return parts


# Around every limit: one part, and the first parts' ends of both encodings (67 and 153 a part).
LENGTHS = sorted(
    {*range(0, 12), *range(30, 75), *range(130, 175), 300, 320, 400}
    | {n + d for k in range(2, 6) for n in (67 * k, 153 * k) for d in (-2, -1, 0, 1, 2)}
)


def test_segments_as_before_for_every_mix_and_length() -> None:
    """The fast paths count as the per-character count did: random texts of GSM-7, extension,
    Albanian, BMP, astral and lone-surrogate characters, at every length around the limits."""
    import random

    pools = ["aZ0 .\n", "aZ0 .\n" + "".join(EXTENSION), "aë ç", "aЖ", "a" + EMOJI, "a\ud800", E_NFD]
    rng = random.Random(19)
    for pool in pools:
        for mixed in (pool, pool + "a" * 40):
            for length in LENGTHS:
                for _ in range(6):
                    text = "".join(rng.choice(mixed) for _ in range(length))
                    assert segments(text) == _segments_before(text), (pool, length)
