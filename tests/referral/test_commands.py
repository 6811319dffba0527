"""The coordinator command parser: Albanian and English, any case, diacritics optional."""

from __future__ import annotations

import pytest

from bot.referral.commands import Command, parse, reference_of

R = "R-4821"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # accepting
        ("OK R-4821", Command("accept", R, raw="R-4821")),
        ("ok r-4821", Command("accept", R, raw="r-4821")),
        ("Ok R4821", Command("accept", R, raw="R4821")),
        ("po R-4821", Command("accept", R, raw="R-4821")),
        ("PRANOJ R-4821", Command("accept", R, raw="R-4821")),
        ("accept R-4821", Command("accept", R, raw="R-4821")),
        ("OK", Command("accept")),
        ("  ok  ", Command("accept")),
        ("Po", Command("accept")),
        ("OK thanks", Command("unknown", raw="thanks")),
        # relaying
        ("R-4821 Përshëndetje, si je?", Command("relay", R, text="Përshëndetje, si je?")),
        ("r-4821 hello", Command("relay", R, text="hello")),
        ("R-4821\nline one\nline two", Command("relay", R, text="line one\nline two")),
        ("R-4821", Command("relay", R)),
        ("R-04821 hi", Command("relay", "R-04821", text="hi")),
        # the number
        ("NUMRI R-4821", Command("number", R)),
        ("numri r-4821", Command("number", R)),
        ("NUMBER R-4821", Command("number", R)),
        ("NUMRI", Command("number", None)),
        # notes
        ("SHENIM R-4821 e telefonova", Command("note", R, text="e telefonova")),
        ("SHËNIM R-4821 takim nesër", Command("note", R, text="takim nesër")),
        ("NOTE R-4821 called, safe now", Command("note", R, text="called, safe now")),
        # GBVIMS type
        (
            "LLOJI R-4821 dhunë fizike",
            Command("type", R, value="physical_assault", raw="dhunë fizike"),
        ),
        ("lloji R-4821 perdhunim", Command("type", R, value="rape", raw="perdhunim")),
        (
            "LLOJI R-4821 martesë e detyruar",
            Command("type", R, value="forced_marriage", raw="martesë e detyruar"),
        ),
        (
            "TYPE R-4821 psychological abuse",
            Command("type", R, value="psychological_abuse", raw="psychological abuse"),
        ),
        (
            "TYPE R-4821 sexual_assault",
            Command("type", R, value="sexual_assault", raw="sexual_assault"),
        ),
        ("TYPE R-4821 burglary", Command("type", R, value=None, raw="burglary")),
        # referrals
        ("REFERO R-4821 strehë", Command("refer", R, value="shelter", raw="strehë")),
        ("REFERO R-4821 ndihmë ligjore", Command("refer", R, value="legal", raw="ndihmë ligjore")),
        ("REFER R-4821 police", Command("refer", R, value="police", raw="police")),
        ("REFER R-4821 circus", Command("refer", R, value=None, raw="circus")),
        # closing
        ("MBYLL R-4821 zgjidhur", Command("close", R, value="resolved", raw="zgjidhur")),
        (
            "MBYLL R-4821 pa kontakt numri s'përgjigjet",
            Command(
                "close",
                R,
                text="numri s'përgjigjet",
                value="no_contact",
                raw="pa kontakt numri s'përgjigjet",
            ),
        ),
        ("CLOSE R-4821 declined", Command("close", R, value="declined", raw="declined")),
        ("CLOSE R-4821", Command("close", R, value=None, raw="")),
        # lists and help
        ("RASTET", Command("cases")),
        ("cases", Command("cases")),
        ("NDIHMË", Command("help")),
        ("ndihme", Command("help")),
        ("HELP", Command("help")),
        ("?", Command("help")),
        ("", Command("help")),
        # anything else
        ("hello", Command("unknown", raw="hello")),
        ("Mbyll", Command("close", None, raw="")),
    ],
)
def test_commands(text, expected):
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("word", "ref"),
    [
        ("R-4821", R),
        ("r4821", R),
        ("K-AB12", "K-AB12"),
        ("R-482", None),
        ("hello", None),
        ("Sot", None),
        ("R4821,", R),
    ],
)
def test_references(word, ref):
    assert reference_of(word) == ref


def test_a_telegram_button_value_reads_like_the_typed_command():
    from bot.referral.alerts import ok_button
    from bot.referral.context import Context
    from bot.referral.texts import Texts

    class Ids:
        def text(self, locale, msgid, params=None):
            return msgid

    button = ok_button(Context(Texts(Ids())), "sq", R)
    assert parse(button["value"]) == Command("accept", R, raw=R)
