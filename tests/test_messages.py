"""Urn and the one phone normaliser of bot/messages.py."""

from __future__ import annotations

import pytest

from bot.messages import SCHEMES, Urn, normalise_phone


@pytest.mark.parametrize(
    ("raw", "valid", "expected"),
    [
        ("069 222 0001", False, "+355692220001"),  # Albanian without +355
        ("+383 44 123 456", False, "+38344123456"),
        ("00355692220001", False, "+355692220001"),
        ("+355 12", False, None),  # too short to be a number
        ("call us", False, None),
        ("+355 69 999 9999 9", True, None),  # possible-looking length is not enough when valid
        ("+355692220001", True, "+355692220001"),
    ],
)
def test_normalise_phone(raw: str, valid: bool, expected: str | None) -> None:
    assert normalise_phone(raw, valid=valid) == expected


@pytest.mark.parametrize(
    ("text", "channel", "number", "country"),
    [
        ("tel:+355691234567", "sms", "+355691234567", "AL"),
        ("tel:+38344123456", "sms", "+38344123456", "XK"),
        ("whatsapp:+355691234567", "whatsapp", "+355691234567", "AL"),
        ("telegram:123456789", "telegram", None, None),
        ("sim:abc123", "simulator", None, None),
    ],
)
def test_a_urn_knows_its_channel_and_number(
    text: str, channel: str, number: str | None, country: str | None
) -> None:
    urn = Urn.parse(text)
    assert (urn.channel, urn.number, urn.country) == (channel, number, country)
    assert str(urn) == text


@pytest.mark.parametrize("text", ["", "tel", "tel:", "+355691234567", "fax:+355691234567"])
def test_what_is_not_a_urn_of_a_known_scheme_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        Urn.parse(text)


def test_a_phone_urn_from_a_number_as_written() -> None:
    assert Urn.phone("069 222 0001") == Urn("tel", "+355692220001")
    assert Urn.phone("whatsapp: 069", "whatsapp") is None
    assert str(Urn.phone("+383 44 123 456", "whatsapp")) == "whatsapp:+38344123456"
    assert set(SCHEMES.values()) >= {"sms", "telegram", "simulator"}


def test_a_number_as_written_is_parsed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # Performance: every SMS webhook reads its sender's number; the same people write again.
    import phonenumbers

    parsed: list[str] = []
    real = phonenumbers.parse

    def counting(raw: str, region: str | None = None) -> phonenumbers.PhoneNumber:
        parsed.append(raw)
        return real(raw, region)

    monkeypatch.setattr(phonenumbers, "parse", counting)
    raw = "+355 69 777 1234"  # not written by any other test: not cached before this one
    assert [str(Urn.phone(raw)) for _ in range(3)] == ["tel:+355697771234"] * 3
    assert normalise_phone(raw) == "+355697771234"
    assert normalise_phone(raw, valid=True) == "+355697771234"  # another question: parsed
    assert normalise_phone(raw, region="XK") == "+355697771234"  # another region: parsed
    assert parsed == [raw, raw, raw]
