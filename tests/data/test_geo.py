"""A shared location to a municipality: the nearest seat within reach, nothing outside."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.data import DataError, load_municipalities
from bot.data.geo import MAX_KM, Seat, distance_km, load_seats, locate, nearest, shipped_seats

# (place, latitude, longitude, municipality or None): towns that are not seats, seats, and places
# outside Albania and Kosovo.
CASES = [
    ("Tirana, Skanderbeg Square", 41.3275, 19.8189, "tirane"),
    ("Durrës port", 41.3110, 19.4480, "durres"),
    ("Koplik (seat of Malësi e Madhe)", 42.2136, 19.4364, "malesi-e-madhe"),
    ("Bajram Curri", 42.3573, 20.0768, "tropoje"),
    ("Krumë", 42.1970, 20.4130, "has"),
    ("Ersekë", 40.3378, 20.6789, "kolonje"),
    ("Sarandë waterfront", 39.8730, 20.0070, "sarande"),
    ("Vlorë, Lungomare", 40.4500, 19.4800, "vlore"),
    ("Prishtinë centre", 42.6600, 21.1600, "prishtine"),
    ("Prizren old town", 42.2090, 20.7410, "prizren"),
    ("Ferizaj", 42.3700, 21.1500, "ferizaj"),
    ("Leposaviq", 43.1000, 20.8000, "leposaviq"),
    ("Rome", 41.9028, 12.4964, None),
    ("Athens", 37.9838, 23.7275, None),
    ("Belgrade", 44.7866, 20.4489, None),
    ("Null Island", 0.0, 0.0, None),
]


@pytest.mark.parametrize(("place", "lat", "lon", "slug"), CASES, ids=[c[0] for c in CASES])
def test_a_location_names_its_municipality(
    place: str, lat: float, lon: float, slug: str | None
) -> None:
    assert locate(str(lat), str(lon)) == slug


@pytest.mark.parametrize(
    ("lat", "lon"), [("", ""), ("abc", "19.8"), ("nan", "19.8"), ("41.3", "inf"), ("91", "19")]
)
def test_what_is_not_a_location_names_nothing(lat: str, lon: str) -> None:
    assert locate(lat, lon) is None


def test_every_municipality_has_a_seat_that_names_itself() -> None:
    seats = shipped_seats()
    assert {s.slug for s in seats} == {m["slug"] for m in load_municipalities()}
    for seat in seats:
        assert nearest(seat.latitude, seat.longitude, seats) == seat.slug


def test_the_limit_is_a_distance_from_the_nearest_seat() -> None:
    seats = [Seat("a", 41.0, 20.0)]
    # One degree of latitude is about 111 km: just inside and just outside MAX_KM.
    inside = 41.0 + (MAX_KM - 1) / 111.2
    outside = 41.0 + (MAX_KM + 1) / 111.2
    assert distance_km(41.0, 20.0, inside, 20.0) < MAX_KM < distance_km(41.0, 20.0, outside, 20.0)
    assert nearest(inside, 20.0, seats) == "a"
    assert nearest(outside, 20.0, seats) is None
    assert nearest(41.0, 20.0, []) is None


def test_a_seat_outside_albania_and_kosovo_is_named_with_its_line(tmp_path: Path) -> None:
    from bot.data import MUNICIPALITIES_FILE

    text = MUNICIPALITIES_FILE.read_text(encoding="utf-8")
    broken = text.replace("seat: [41.3275, 19.8187]", "seat: [19.8187, 41.3275]", 1)
    assert broken != text
    file = tmp_path / "municipalities.yaml"
    file.write_text(broken, encoding="utf-8")
    with pytest.raises(DataError, match=r"municipalities\.yaml:\d+: entry \d+ \(tirane\): seat"):
        load_seats(file)
