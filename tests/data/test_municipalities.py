"""The municipality lists: complete, well-formed, with the spellings people use."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import pytest

from bot.data import MUNICIPALITIES_FILE, SLUG, DataError, load_municipalities, slugify
from bot.engine.normalise import normalise
from bot.engine.routers import route_municipality
from bot.flows.understanding import shipped_lexicon
from bot.matching import similarity
from bot.pipeline import places_from

ITEMS = load_municipalities()
BY_SLUG = {m["slug"]: m for m in ITEMS}

AL_COUNTIES = {
    "Berat": 5, "Dibër": 4, "Durrës": 3, "Elbasan": 7, "Fier": 6, "Gjirokastër": 7,
    "Korçë": 6, "Kukës": 3, "Lezhë": 3, "Shkodër": 5, "Tiranë": 5, "Vlorë": 7,
}  # fmt: skip
XK_DISTRICTS = {
    "Prishtinë": 8, "Mitrovicë": 7, "Pejë": 3, "Gjakovë": 4, "Prizren": 5, "Ferizaj": 5,
    "Gjilan": 6,
}  # fmt: skip
SERB_MAJORITY = {
    "mitrovice-e-veriut", "zvecan", "zubin-potok", "leposaviq", "gracanice", "novoberde",
    "shterpce", "ranillug", "partesh", "kllokot",
}  # fmt: skip


def test_counts():
    assert Counter(m["country"] for m in ITEMS) == {"AL": 61, "XK": 38}


@pytest.mark.parametrize(("country", "counties"), [("AL", AL_COUNTIES), ("XK", XK_DISTRICTS)])
def test_counties(country: str, counties: dict[str, int]):
    assert Counter(m["county"] for m in ITEMS if m["country"] == country) == counties


def test_slugs_unique_well_formed_and_from_the_name():
    assert len(BY_SLUG) == len(ITEMS) == 99
    for m in ITEMS:
        assert SLUG.match(m["slug"]), m
        assert slugify(m["name"]) == m["slug"], m
    assert "national" not in BY_SLUG


def test_design_examples_and_the_serb_majority_municipalities_are_there():
    examples = {"tirane", "durres", "shkoder", "vau-i-dejes", "has", "prishtine", "kllokot"}
    seeds = {"elbasan", "vlore", "prizren", "mitrovice", "ferizaj", "peje", "gjakove", "gjilan"}
    assert examples | seeds | SERB_MAJORITY <= set(BY_SLUG)
    assert all(BY_SLUG[s]["country"] == "XK" for s in SERB_MAJORITY)


@pytest.mark.parametrize(
    ("slug", "name", "county"),
    [
        ("tirane", "Tiranë", "Tiranë"),
        ("vau-i-dejes", "Vau i Dejës", "Shkodër"),
        ("fushe-arrez", "Fushë-Arrëz", "Shkodër"),
        ("malesi-e-madhe", "Malësi e Madhe", "Shkodër"),
        ("korce", "Korçë", "Korçë"),
        ("kucove", "Kuçovë", "Berat"),
        ("has", "Has", "Kukës"),
        ("mitrovice-e-veriut", "Mitrovicë e Veriut", "Mitrovicë"),
        ("gracanice", "Graçanicë", "Prishtinë"),
        ("shterpce", "Shtërpcë", "Ferizaj"),
        ("hani-i-elezit", "Hani i Elezit", "Ferizaj"),
    ],
)
def test_names_keep_their_letters(slug: str, name: str, county: str):
    assert (BY_SLUG[slug]["name"], BY_SLUG[slug]["county"]) == (name, county)


def test_time_zones():
    assert {m["tz"] for m in ITEMS if m["country"] == "AL"} == {"Europe/Tirane"}
    assert {m["tz"] for m in ITEMS if m["country"] == "XK"} == {"Europe/Belgrade"}


@pytest.mark.parametrize(
    ("typed", "slug"),
    [
        ("tirana", "tirane"), ("durresi", "durres"), ("shkodra", "shkoder"),
        ("prishtina", "prishtine"), ("Pristina", "prishtine"), ("Priština", "prishtine"),
        ("Gnjilane", "gjilan"), ("Peć", "peje"), ("koplik", "malesi-e-madhe"),
        ("Peshkopi", "diber"), ("Bajram Curri", "tropoje"), ("Laç", "kurbin"),
        ("Kosovo Polje", "fushe-kosove"), ("North Mitrovica", "mitrovice-e-veriut"),
        ("Klokot", "kllokot"), ("Gllogoc", "drenas"),
    ],
)  # fmt: skip
def test_aliases_people_type(typed: str, slug: str):
    spellings = [BY_SLUG[slug]["name"], *BY_SLUG[slug]["aliases"]]
    assert normalise(typed) in {normalise(s) for s in spellings}


PLACES = places_from([SimpleNamespace(**m) for m in ITEMS])
LEXICON = shipped_lexicon()


@pytest.mark.parametrize(
    ("typed", "slug"),
    [
        ("Ksamil", "sarande"), ("Mamurras", "kurbin"), ("Liqenas", "pustec"),
        ("jam ne Shengjin", "lezhe"), ("Velipojë", "shkoder"), ("Theth", "shkoder"),
        ("Dhërmi", "himare"), ("Voskopoja", "korce"), ("Bathore", "kamez"),
        ("Kashar", "tirane"), ("Fushë-Krujë", "kruje"), ("Xhafzotaj", "shijak"),
        ("Vermosh", "malesi-e-madhe"), ("Bushat", "vau-i-dejes"), ("Karavasta", "divjake"),
        ("Kakavija", "dropull"), ("Orikum", "vlore"), ("Shishtavec", "kukes"),
        ("Besiana", "podujeve"), ("Janjevo", "lipjan"), ("Brezovica", "shterpce"),
        ("Banja e Pejës", "istog"), ("Velika Hoča", "rahovec"), ("Laplje Selo", "gracanice"),
        ("Kosovska Kamenica", "kamenice"), ("Djurakovac", "istog"), ("Prekaz", "skenderaj"),
    ],
)  # fmt: skip
def test_towns_villages_and_former_communes_route_to_their_municipality(typed: str, slug: str):
    match = route_municipality(typed, PLACES, similarity, LEXICON)
    assert match is not None and (match.category, match.value) == ("found", slug)


@pytest.mark.parametrize(
    "typed",
    ["personi me ndjek", "I am alone, please help", "komshiu", "foshnja", "motren", "vrase"],
)
def test_common_words_are_not_read_as_a_village(typed: str):
    # A village alias close to an everyday word would catch it as a typo (Perondi ~ personi).
    match = route_municipality(typed, PLACES, similarity, LEXICON)
    assert match is None or match.category != "found", match


def test_the_shipped_file_says_where_it_came_from():
    head = MUNICIPALITIES_FILE.read_text(encoding="utf-8")[:1500]
    assert "Law 115/2014" in head and "Law 03/L-041" in head and "Editable" in head


ENTRY = "- {slug: SLUG, name: Name, country: AL, county: C, tz: Europe/Tirane, aliases: [ALIAS]}\n"


def entries(*lines: str) -> str:
    """A municipality file text."""
    return "# test\n" + "".join(lines)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (entries(ENTRY.replace("SLUG", "Tirane")), r":2: entry 1: slug 'Tirane' is not lower-case"),
        (entries(ENTRY.replace("SLUG", "national")), r"entry 1 \(national\): .* reserved"),
        (
            entries(ENTRY.replace("SLUG", "a").replace("ALIAS", "x"), ENTRY.replace("SLUG", "a")),
            r":3: entry 2 \(a\): slug 'a' is used twice",
        ),
        (
            entries(ENTRY.replace("SLUG", "a").replace("tz: Europe/Tirane", "tz: Europe/Belgrade")),
            r"entry 1 \(a\): tz must be Europe/Tirane for AL",
        ),
        (entries(ENTRY.replace("SLUG", "a").replace("AL", "RS")), r"country must be one of AL"),
        (entries(ENTRY.replace("SLUG", "a").replace("name: Name", "name: ''")), "name is required"),
        (
            entries(ENTRY.replace("SLUG", "a"), ENTRY.replace("SLUG", "b").replace("Name", "B")),
            r"entry 2 \(b\): 'ALIAS' already names a",
        ),
        (entries(ENTRY.replace("SLUG", "a").replace("ALIAS", "x")), r"1 municipalities for AL"),
        ("slug: a\n", "expected a list"),
        ("- [unclosed\n", r":2: not valid YAML"),
    ],
)
def test_a_bad_file_is_refused_naming_file_and_entry(tmp_path: Path, text: str, message: str):
    bad = tmp_path / "municipalities.yaml"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match=message) as caught:
        load_municipalities(bad)
    assert str(bad) in str(caught.value)
