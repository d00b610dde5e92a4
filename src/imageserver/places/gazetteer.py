"""Forward lookup: a place name typed by a person -> the GeoNames places it may mean, with
their coordinates, for an edit's location "by place name".

Names are compared folded (case, accents and punctuation removed: "sao paulo" finds
"São Paulo") and by prefix, so a few letters already offer the likely towns; the most
populous come first. Text after a comma narrows by country, country code or region
("Paris, US" finds Paris, Texas). The index is built once per process on first use from
the geocoder's loaded cities (about 0.3 s); afterwards lookups are a bisect plus a sort of
the matches and may run in any thread.
"""

from __future__ import annotations

import bisect
import unicodedata
from dataclasses import dataclass

from imageserver.places.data import Once
from imageserver.places.geocode import Geocoder, geocoder

MAX_HITS = 50


@dataclass(frozen=True, slots=True)
class Hit:
    """One place a name may mean."""

    name: str
    region: str
    country: str
    country_code: str
    latitude: float
    longitude: float
    population: int


def fold(text: str) -> str:
    """Lower case, no accents, letters and digits only, single spaces."""
    decomposed = unicodedata.normalize("NFKD", text)
    kept = (c if c.isalnum() else " " for c in decomposed if not unicodedata.combining(c))
    return " ".join("".join(kept).casefold().split())


class Gazetteer:
    """The cities' folded names, sorted, each with its city index."""

    def __init__(self, geo: Geocoder) -> None:
        self.geo = geo
        pairs = sorted((fold(name), i) for i, name in enumerate(geo.cities.names))
        self.keys = [k for k, _ in pairs]
        self.ids = [i for _, i in pairs]

    def _hit(self, city: int) -> Hit:
        c = self.geo.cities
        b = self.geo.borders.boundaries[int(c.polygon[city])]
        return Hit(
            name=c.names[city],
            region=b.region,
            country=b.country,
            country_code=b.country_code,
            latitude=round(float(c.lat[city]), 6),
            longitude=round(float(c.lon[city]), 6),
            population=int(c.population[city]),
        )

    def search(self, text: str, limit: int = 10) -> list[Hit]:
        """Places whose name starts with the text before the first comma (folded), in the
        country or region the rest names; most populous first."""
        name, _, within = text.partition(",")
        prefix, scope = fold(name), fold(within)
        if not prefix:
            return []
        lo = bisect.bisect_left(self.keys, prefix)
        hi = bisect.bisect_left(self.keys, prefix + "\U0010ffff", lo)
        cities = self.ids[lo:hi]
        pop = self.geo.cities.population
        cities.sort(key=lambda i: (-int(pop[i]), i))
        out: list[Hit] = []
        for city in cities:
            hit = self._hit(city)
            if scope and not _within(hit, scope):
                continue
            out.append(hit)
            if len(out) >= limit:
                break
        return out


def _within(hit: Hit, scope: str) -> bool:
    """Does the folded text after the comma name the hit's country, its code or region?"""
    if scope == hit.country_code.casefold():
        return True
    return any(fold(part).startswith(scope) for part in (hit.country, hit.region))


_GAZETTEER = Once(lambda: Gazetteer(geocoder()))


def gazetteer() -> Gazetteer:
    """The process's one index, built on first use (thread-safe)."""
    return _GAZETTEER.get()


def search(text: str, limit: int = 10) -> list[Hit]:
    return gazetteer().search(text, max(1, min(limit, MAX_HITS)))
