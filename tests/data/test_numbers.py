"""Emergency numbers as data: the shipped file, and a phone number's country."""

from __future__ import annotations

import pytest

from bot.data.numbers import country_of_urn, load_numbers


@pytest.mark.parametrize(
    ("urn", "country"),
    [
        ("tel:+355691110001", "AL"),
        ("tel:+38344123456", "XK"),
        ("tel:+38349123456", "XK"),
        ("tel:+393331234567", None),  # another country: both countries' numbers
        ("telegram:123456", None),  # Telegram says nothing of a country
        ("sim:test1", None),
        ("tel:not a number", None),
        ("", None),
    ],
)
def test_a_phone_numbers_country(urn, country):
    assert country_of_urn(urn) == country


def test_the_shipped_numbers_have_a_crisis_and_a_childrens_line_in_each_country():
    numbers = load_numbers()
    assert numbers["AL"]["police"] == "129" and numbers["XK"]["police"] == "192"
    for country in ("AL", "XK", "default"):
        assert numbers[country]["crisis"] and numbers[country]["children"] == "116 111"
