"""The services directory: CSV validation (line named, nothing imported), nearest services."""

from __future__ import annotations

import pytest

from bot.referral import directory
from bot.referral.directory import DirectoryError, nearest, parse_csv, to_csv
from bot.store.records import Service
from tests.referral.harness import MUNICIPALITIES

PLACES = {m.slug: m for m in MUNICIPALITIES}
HEADER = "country,municipality,kind,name,phone,hours,notes,serves\n"
GOOD = "AL,shkoder,shelter,Streha Shkodër,+355 000 000 01,24/7,,has;vau-i-dejes\n"


@pytest.mark.parametrize(
    ("rows", "line", "problem"),
    [
        ("XX,tirane,police,P,129,,,\n", 3, "country must be AL or XK"),
        ("AL,Tiranë,police,P,129,,,\n", 3, "not a municipality slug"),
        ("AL,atlantis,police,P,129,,,\n", 3, "unknown municipality 'atlantis'"),
        ("AL,prishtine,police,P,192,,,\n", 3, "prishtine is in XK, not AL"),
        ("AL,tirane,circus,P,129,,,\n", 3, "kind must be one of"),
        ("AL,tirane,police,,129,,,\n", 3, "name is empty"),
        ("AL,tirane,police,P,call us,,,\n", 3, "is not a phone number"),
        ("AL,tirane,police,P,12,,,\n", 3, "is not a phone number"),
        ("AL,tirane,police,P,129,,,atlantis\n", 3, "unknown municipality 'atlantis'"),
        ("AL,tirane,police,P,129,,,national\n", 3, "serves lists municipalities"),
        ("AL,tirane,police,P,129,24/7,a,b,c\n", 3, "more fields than columns"),
    ],
)
def test_a_bad_row_is_refused_naming_its_line(rows, line, problem):
    with pytest.raises(DirectoryError) as caught:
        parse_csv(HEADER + GOOD + rows, municipalities=PLACES, source="x.csv")
    assert caught.value.line == line
    assert problem in str(caught.value)
    assert str(caught.value).startswith(f"x.csv:{line}: ")


def test_missing_columns_are_named():
    with pytest.raises(DirectoryError, match=r"x.csv:1: missing columns: hours, notes, serves"):
        parse_csv("country,municipality,kind,name,phone\n", source="x.csv")


def test_a_good_file_round_trips_through_export():
    text = HEADER + GOOD + 'XK,national,legal,"Mbrojtësit, viktimave",0800 11112,,"toll free",\n\n'
    items = parse_csv(text, municipalities=PLACES)
    assert items[0] == Service(
        "AL",
        "shkoder",
        "shelter",
        "Streha Shkodër",
        "+355 000 000 01",
        "24/7",
        None,
        ("has", "vau-i-dejes"),
    )
    assert items[1].name == "Mbrojtësit, viktimave"
    assert parse_csv(to_csv(items), municipalities=PLACES) == items


def test_the_shipped_directory_is_valid_and_marks_its_samples():
    items = directory.load_seed()
    national = {(s.country, s.kind): s.phone for s in items if s.municipality == "national"}
    assert national[("AL", "police")] == "129"
    assert national[("AL", "psychosocial")] == "116 117"
    assert national[("AL", "social")] == "116 111"
    assert national[("XK", "police")] == "192"
    assert national[("XK", "legal")] == "0800 11112"
    local = [s for s in items if s.municipality != "national"]
    assert local and all(s.sample for s in local)  # every local entry is sample data
    assert not any(s.sample for s in items if s.municipality == "national")


def test_has_is_sent_to_the_shelter_in_shkoder_then_tirana():
    items = directory.load_seed()
    found = nearest(items, "has", "shelter", PLACES, include_samples=True)
    assert [(f.service.municipality, f.why) for f in found] == [
        ("shkoder", "serves"),
        ("tirane", "serves"),
    ]


def test_nearest_orders_local_serving_county_national():
    items = [
        Service("AL", "national", "legal", "National legal", "0800 1"),
        Service("AL", "shkoder", "legal", "Shkodër legal", "022 1"),
        Service("AL", "tirane", "legal", "Tirana legal", "04 1", serves=("vau-i-dejes",)),
        Service("AL", "vau-i-dejes", "legal", "Vau legal", "022 2"),
        Service("XK", "national", "legal", "Kosovo legal", "0800 2"),
    ]
    found = nearest(items, "vau-i-dejes", "legal", PLACES, limit=5)
    assert [(f.service.name, f.why) for f in found] == [
        ("Vau legal", "local"),
        ("Tirana legal", "serves"),
        ("Shkodër legal", "county"),
        ("National legal", "national"),  # and never Kosovo's for a person in Albania
    ]
    assert [f.service.name for f in nearest(items, "prishtine", "legal", PLACES)] == [
        "Kosovo legal"
    ]


def test_sample_entries_are_never_shown_to_a_person_unless_asked():
    items = directory.load_seed()
    found = nearest(items, "has", "shelter", PLACES)
    assert found == []
    police = nearest(items, "has", "police", PLACES)
    assert [f.service.phone for f in police] == ["129"]


@pytest.mark.parametrize(
    ("hours", "sq", "en"),
    [
        ("24/7", "24 orë", "24 hours"),
        ("24/7, free", "24 orë, falas", "24 hours, free"),
        ("Mon-Fri 08:00-16:00", "E hënë-e premte 08:00-16:00", "Mon-Fri 08:00-16:00"),
        ("sat - sun 9:00 - 13:00", "E shtunë-e diel 9:00-13:00", "Sat-Sun 9:00-13:00"),
        ("Mon-Fri 08:00-16:00, free", "E hënë-e premte 08:00-16:00, falas", None),
    ],
)
def test_directory_hours_are_shown_in_the_readers_language(hours, sq, en):
    from bot.i18n import Catalogs

    catalogs = Catalogs()
    for language, wanted in (("sq", sq), ("en", en)):
        if wanted is not None:

            def say(msgid: str, _language: str = language, **p: str) -> str:
                return catalogs.text(_language, msgid, p or None)

            assert directory.hours_words(hours, say) == wanted


def test_hours_written_otherwise_are_shown_as_written():
    assert directory.hours_words("by appointment", lambda m, **p: m) == "by appointment"
