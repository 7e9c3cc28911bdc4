"""``filter.geo=distance(lat,lon,radius)``: studies with a site within ``radius`` of a point.

The sites' coordinates are the ``geoPoint`` of each location in the imported
record (kept by the generic mapper as ``acse:locationGeoPoint`` with
``acse:geoPointLat`` / ``acse:geoPointLon``). SPARQL has no trigonometry, so
the search keeps the studies with a site inside the bounding box of the
circle (a cheap FILTER in the one search query) and the exact great-circle
(haversine) distance is then checked here over those studies' sites.

The radius unit is ``mi`` or ``km`` as the spec's pattern allows; without one
it is miles, ClinicalTrials.gov's own unit (its example is ``50mi``).

With a geo filter, ``@relevance`` also weighs how near a study's nearest site
is, by ``geoDecay`` (the spec's default: ``func:exp,scale:300mi,offset:0mi,
decay:0.5``): nearer studies rank first among equally relevant ones.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import AcseError
from ..namespaces import sparql_string

EARTH_RADIUS_KM = 6371.0088  # the mean Earth radius (IUGG)
KM_PER_MILE = 1.609344
#: The spec's pattern for filter.geo.
PATTERN = re.compile(r"distance\((-?\d+(?:\.\d+)?),(-?\d+(?:\.\d+)?),(\d+(?:\.\d+)?)(km|mi)?\)")

SITE_POINT = "acse:site/acse:locationGeoPoint"


class GeoError(AcseError, ValueError):
    """The filter.geo value is not ``distance(lat,lon,radius)`` with a real point."""


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance between two points in kilometres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


@dataclass(frozen=True)
class GeoFilter:
    lat: float
    lon: float
    radius_km: float

    def box(self) -> tuple[float, float, float, float] | None:
        """(south, north, west, east) around the circle, or None where longitude cannot bound it (poles, 180°)."""
        dlat = math.degrees(self.radius_km / EARTH_RADIUS_KM)
        south, north = self.lat - dlat, self.lat + dlat
        if south <= -90 or north >= 90:
            return None
        dlon = math.degrees(self.radius_km / (EARTH_RADIUS_KM * math.cos(math.radians(max(abs(south), abs(north))))))
        west, east = self.lon - dlon, self.lon + dlon
        if west < -180 or east > 180:
            return (south, north, -180.0, 180.0)
        return (south, north, west, east)

    def box_filter(self, study: str, g: str, lat: str, lon: str) -> str:
        """FILTER keeping the studies with a site inside the circle's bounding box."""
        box = self.box()
        test = "true" if box is None else (
            f"{lat} >= {box[0]!r} && {lat} <= {box[1]!r} && {lon} >= {box[2]!r} && {lon} <= {box[3]!r}")
        return (f"FILTER EXISTS {{ {study} {SITE_POINT} {g} . {g} acse:geoPointLat {lat} ; "
                f"acse:geoPointLon {lon} . FILTER({test}) }}")

    def within(self, select: Callable[[str], list[dict[str, str]]], ncts: list[str]) -> dict[str, float]:
        """Those of ``ncts`` with a site no further than the radius (haversine), with their nearest site's distance in km."""
        if not ncts:
            return {}
        rows = select("SELECT DISTINCT ?nct ?lat ?lon WHERE { VALUES ?nct { "
                      + " ".join(sparql_string(n) for n in ncts) + " } ?s acse:nctId ?nct ; "
                      f"{SITE_POINT} ?g . ?g acse:geoPointLat ?lat ; acse:geoPointLon ?lon }}")
        out: dict[str, float] = {}
        for r in rows:
            km = haversine_km(self.lat, self.lon, float(r["lat"]), float(r["lon"]))
            if km <= self.radius_km and km < out.get(r["nct"], math.inf):
                out[r["nct"]] = km
        return out


#: The spec's pattern for geoDecay.
DECAY_PATTERN = re.compile(r"func:(gauss|exp|linear),scale:(\d+(?:\.\d+)?)(km|mi),offset:(\d+(?:\.\d+)?)(km|mi),"
                           r"decay:(\d+(?:\.\d+)?)")


@dataclass(frozen=True)
class GeoDecay:
    """``geoDecay``: how much a site's distance lowers a study's relevance (Elasticsearch's decay functions,
    which the parameter's vocabulary is: the factor is ``decay`` at ``offset + scale`` and 1 within ``offset``)."""

    func: str
    scale_km: float
    offset_km: float
    decay: float

    def factor(self, km: float) -> float:
        d = max(0.0, km - self.offset_km)
        if self.func == "exp":
            return math.exp(math.log(self.decay) / self.scale_km * d)
        if self.func == "gauss":
            return math.exp(-d * d / (2 * (-self.scale_km ** 2 / (2 * math.log(self.decay)))))
        s = self.scale_km / (1.0 - self.decay)
        return max(0.0, (s - d) / s)


def _km(value: str, unit: str) -> float:
    return float(value) * (1.0 if unit == "km" else KM_PER_MILE)


#: The spec's default geoDecay.
DEFAULT_DECAY = "func:exp,scale:300mi,offset:0mi,decay:0.5"


def parse_decay(value: str) -> GeoDecay:
    """``func:exp,scale:300mi,offset:0mi,decay:0.5`` -> a decay (the spec's default)."""
    m = DECAY_PATTERN.fullmatch(value)
    if m is None:
        raise GeoError(f"{value!r} is not func:(gauss|exp|linear),scale:<distance>,offset:<distance>,decay:<number> "
                       f"with distances in km or mi, e.g. {DEFAULT_DECAY}")
    decay = GeoDecay(m.group(1), _km(m.group(2), m.group(3)), _km(m.group(4), m.group(5)), float(m.group(6)))
    if not 0 < decay.decay < 1:
        raise GeoError(f"decay {decay.decay:g} must be between 0 and 1 (exclusive)")
    if decay.scale_km <= 0:
        raise GeoError("scale must be more than 0")
    return decay


def parse_geo(value: str) -> GeoFilter:
    """``distance(48.85,2.35,20km)`` -> a filter; a radius without unit is in miles."""
    m = PATTERN.fullmatch(value)
    if m is None:
        raise GeoError(f"{value!r} is not distance(latitude,longitude,radius) with the radius in mi or km, "
                       "e.g. distance(39.0035707,-77.1013313,50mi)")
    lat, lon, radius = float(m.group(1)), float(m.group(2)), float(m.group(3))
    if not -90 <= lat <= 90:
        raise GeoError(f"latitude {lat:g} is outside -90..90")
    if not -180 <= lon <= 180:
        raise GeoError(f"longitude {lon:g} is outside -180..180")
    return GeoFilter(lat, lon, radius * (1.0 if m.group(4) == "km" else KM_PER_MILE))
