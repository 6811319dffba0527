"""The municipality lists: complete, well-formed, with the spellings people use."""

from __future__ import annotations

import pytest

from bot.data import SLUG, load_municipalities


def test_counts_and_slugs():
    items = load_municipalities()
    assert sum(m["country"] == "AL" for m in items) == 61
    assert sum(m["country"] == "XK" for m in items) == 38
    assert all(SLUG.match(m["slug"]) for m in items)
    slugs = {m["slug"] for m in items}
    assert len(slugs) == 99
    assert {"tirane", "durres", "shkoder", "vau-i-dejes", "has", "prishtine", "kllokot"} <= slugs


@pytest.mark.parametrize(
    ("slug", "name", "tz"),
    [
        ("tirane", "Tiranë", "Europe/Tirane"),
        ("vau-i-dejes", "Vau i Dejës", "Europe/Tirane"),
        ("fushe-arrez", "Fushë-Arrëz", "Europe/Tirane"),
        ("mitrovice-e-veriut", "Mitrovicë e Veriut", "Europe/Belgrade"),
        ("gracanice", "Graçanicë", "Europe/Belgrade"),
    ],
)
def test_names_keep_their_letters(slug, name, tz):
    item = next(m for m in load_municipalities() if m["slug"] == slug)
    assert (item["name"], item["tz"]) == (name, tz)


def test_a_bad_entry_is_named(tmp_path):
    bad = tmp_path / "m.yaml"
    bad.write_text("- {slug: Tirane, name: x, country: AL, county: y, tz: Europe/Tirane}\n")
    with pytest.raises(ValueError, match="entry 1: slug 'Tirane'"):
        load_municipalities(bad)
