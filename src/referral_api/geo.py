"""ZIP centroids (offline, from the `zipcodes` package) and distance units."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import zipcodes

METERS_PER_UNIT = {"mi": 1609.344, "km": 1000.0}


@dataclass(frozen=True)
class ZipCentroid:
    zip_code: str
    lat: float
    lon: float
    city: str
    state: str


@lru_cache(maxsize=1)
def _zip_table() -> dict[str, ZipCentroid]:
    table: dict[str, ZipCentroid] = {}
    for row in zipcodes.list_all():
        try:
            lat, lon = float(row["lat"]), float(row["long"])
        except (TypeError, ValueError):
            continue
        if lat == 0 and lon == 0:
            continue
        table[row["zip_code"]] = ZipCentroid(row["zip_code"], lat, lon, row["city"], row["state"])
    return table


def zip_centroid(postal_code: str) -> ZipCentroid | None:
    """Centroid of a 5-digit ZIP (ZIP+4 accepted), or None when unknown."""
    five = postal_code.strip()[:5]
    if len(five) != 5 or not five.isdigit():
        return None
    return _zip_table().get(five)


def all_zip_centroids() -> list[ZipCentroid]:
    return list(_zip_table().values())
