"""Which municipality a location shared on Telegram is in: the nearest seat within reach."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from bot.data import MUNICIPALITIES_FILE, load_municipalities

# Farther than this from every seat is outside Albania and Kosovo (or a wildly wrong fix): no guess.
# 30 km reaches the far corners of the largest municipalities (Tropojë, Kolonjë) from the seat.
MAX_KM = 30.0
EARTH_RADIUS_KM = 6371.0


@dataclass(frozen=True, slots=True)
class Seat:
    """Where a municipality's seat (main town) is."""

    slug: str
    latitude: float
    longitude: float


def load_seats(path: Path | None = None) -> tuple[Seat, ...]:
    """The seats of the municipalities file (checked by load_municipalities first)."""
    file = path or MUNICIPALITIES_FILE
    load_municipalities(file)
    items = yaml.safe_load(file.read_text(encoding="utf-8"))
    return tuple(
        Seat(item["slug"], float(item["seat"][0]), float(item["seat"][1]))
        for item in items
        if item.get("seat")
    )


@lru_cache(maxsize=1)
def shipped_seats() -> tuple[Seat, ...]:
    """The seats of the shipped municipalities file, read once."""
    return load_seats()


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine): plenty for towns tens of kilometres apart."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(a))


def nearest(latitude: float, longitude: float, seats: Sequence[Seat]) -> str | None:
    """The slug of the nearest seat within MAX_KM, or None."""
    best = min(
        seats,
        key=lambda s: distance_km(latitude, longitude, s.latitude, s.longitude),
        default=None,
    )
    if best is None or distance_km(latitude, longitude, best.latitude, best.longitude) > MAX_KM:
        return None
    return best.slug


def locate(latitude: str, longitude: str, seats: Sequence[Seat] | None = None) -> str | None:
    """The municipality slug for a location as a channel reports it (strings), or None."""
    try:
        lat, lon = float(latitude), float(longitude)
    except (TypeError, ValueError):
        return None
    if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return nearest(lat, lon, shipped_seats() if seats is None else seats)
