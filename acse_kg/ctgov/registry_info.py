"""What ``/api/v2/version``, ``/studies/metadata``, ``/studies/enums`` and ``/stats/size`` answer.

* **version**: the spec's ``info.version`` (the API this registry speaks) and,
  as ``dataTimestamp``, the time of the last import or edit the history log
  records (left out when the log is empty: no time is invented).
* **metadata**: the field metadata ClinicalTrials.gov publishes, shipped with
  the package (``studies-metadata.json``, see ORIGIN.md); the registry keeps
  the same fields, so the same tree describes them. ``includeIndexedOnly`` /
  ``includeHistoricOnly`` drop the nodes flagged ``indexedOnly`` /
  ``historicOnly`` unless true, as the spec says; the shipped capture has no
  such node, so both answer the whole tree.
* **enums**: every enumeration of the spec's ``components/schemas`` that a
  field of the record takes, with the pieces whose values it holds (from the metadata's ``isEnum`` fields) and, as
  ``legacyValue``, the curated label the registry's ontology gives the value
  (the individual carrying that ``acse:code``; "Active, not recruiting"),
  else the code in words (values the ontology only mints from the spec carry
  a generated label, not a display name).
* **size**: the gzip size of each study's API v2 JSON as this registry writes
  it, with ClinicalTrials.gov's summary (average, percentiles, 10 largest,
  ranges of 1 KB ... 1 MB), computed from the graph and kept until the store
  changes (exporting every study takes a while).
"""

from __future__ import annotations

import gzip
import json
import re
from typing import Any

from ..derived import DerivedCache
from ..history import LOG_GRAPH
from ..namespaces import sparql_string
from ..store import GraphStore, history_of
from .export import _codes, export_study
from .pieces import metadata
from .spec import ENUM_CLASSES, schemas, spec

_CACHE = DerivedCache()
#: The percentiles ClinicalTrials.gov reports for study sizes.
PERCENTILES = (5, 10, 25, 50, 75, 90, 95)
#: Upper edges of the size ranges, in bytes.
RANGE_EDGES = (1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072, 262144, 524288, 1048576)
LARGEST = 10


def version(store: GraphStore) -> dict[str, Any]:
    """``{"apiVersion": "2.0.5", "dataTimestamp": "2026-12-01T23:04:05"}``."""
    out: dict[str, Any] = {"apiVersion": str(spec()["info"]["version"])}
    rows = history_of(store).select(f"SELECT (STR(MAX(?t)) AS ?latest) WHERE {{ GRAPH <{LOG_GRAPH}> {{ "
                        "?v prov:generatedAtTime ?t } }")
    latest = next(iter(rows.values("latest")), None)
    if latest:
        out["dataTimestamp"] = str(latest)[:19]  # yyyy-MM-ddTHH:mm:ss, as ClinicalTrials.gov writes it
    return out


def _keep(node: dict[str, Any], indexed_only: bool, historic_only: bool) -> dict[str, Any] | None:
    if (node.get("indexedOnly") and not indexed_only) or (node.get("historicOnly") and not historic_only):
        return None
    out = dict(node)
    if "children" in node:
        out["children"] = [k for c in node["children"] if (k := _keep(c, indexed_only, historic_only)) is not None]
    return out


def field_metadata(indexed_only: bool = False, historic_only: bool = False) -> list[dict[str, Any]]:
    """The FieldNodeList, without indexed-only / historic-only fields unless asked for."""
    return [k for n in metadata() if (k := _keep(n, indexed_only, historic_only)) is not None]


def _enum_pieces() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}

    def walk(node: dict[str, Any]) -> None:
        if node.get("isEnum"):
            out.setdefault(str(node["type"]).removesuffix("[]"), []).append(node["piece"])
        for child in node.get("children", []):
            walk(child)

    for top in metadata():
        walk(top)
    return out


#: How the definition of an enumeration value minted from the spec (no curated label) begins.
MINTED = "The ClinicalTrials.gov API v2 value "


def code_in_words(code: str) -> str:
    """``EARLY_PHASE1`` -> ``Early phase 1``; a short code stays as it is (``NA``)."""
    if len(code) <= 2:
        return code
    return re.sub(r"(?<=[A-Za-z])(?=\d)", " ", code.replace("_", " ").capitalize())


def enums(store: GraphStore) -> list[dict[str, Any]]:
    """The EnumInfoList: each spec enumeration, its pieces and its values."""
    rows = store.select(f"""SELECT ?cls ?code (SAMPLE(?label) AS ?l) WHERE {{
        ?i a ?cls ; acse:code ?code ; rdfs:label ?label
        FILTER NOT EXISTS {{ ?i skos:definition ?d FILTER(STRSTARTS(STR(?d), {sparql_string(MINTED)})) }} }}
        GROUP BY ?cls ?code""")
    labels = {(str(r["cls"]).rsplit("#", 1)[-1].rsplit("/", 1)[-1], str(r["code"])): str(r["l"]) for r in rows}
    pieces = _enum_pieces()
    out = []
    for name, schema in schemas().items():
        if "enum" not in schema or name not in pieces:  # only the enumerations of the record's fields
            continue
        cls = ENUM_CLASSES.get(name)
        values = [{"value": str(v), "legacyValue": labels.get((cls or "", str(v))) or code_in_words(str(v))}
                  for v in schema["enum"]]
        out.append({"type": name, "pieces": pieces.get(name, []), "values": values})
    return out


def _study_sizes(store: GraphStore) -> list[tuple[str, int]]:
    ncts = [str(n) for n in store.select("SELECT DISTINCT ?nct WHERE { ?s a/rdfs:subClassOf* acse:Study ; "
                                          "acse:nctId ?nct }").values("nct")]
    codes = _codes(store)
    sizes = []
    for nct in sorted(ncts):
        body = json.dumps(export_study(store, nct, full_text=True, codes=codes), ensure_ascii=False,
                          separators=(",", ":")).encode()
        sizes.append((nct, len(gzip.compress(body, mtime=0))))
    return sizes


def _percentile(sorted_sizes: list[int], p: int) -> int:
    """Nearest-rank percentile."""
    rank = max(1, -(-p * len(sorted_sizes) // 100))
    return sorted_sizes[rank - 1]


def _range_name(low: int, high: int | None) -> str:
    def kb(n: int) -> str:
        return f"{n // 1048576}MB" if n >= 1048576 else f"{n // 1024}KB" if n else "0"

    return f"{kb(low)}-{kb(high)}" if high is not None else f"{kb(low)}+"


def size_stats(store: GraphStore) -> dict[str, Any]:
    """The GzipStats of the registry's studies."""
    sizes: list[tuple[str, int]] = _CACHE.get(store, "ctgov-study-sizes", lambda: _study_sizes(store))
    values = sorted(n for _, n in sizes)
    ranges = []
    low = 0
    for high in (*RANGE_EDGES, None):
        count = sum(1 for n in values if n >= low and (high is None or n < high))
        if count:
            ranges.append({"sizeRange": _range_name(low, high), "studiesCount": count})
        low = high or 0
    largest = sorted(sizes, key=lambda item: (-item[1], item[0]))[:LARGEST]
    return {
        "averageSizeBytes": round(sum(values) / len(values)) if values else 0,
        "largestStudies": [{"id": nct, "sizeBytes": n} for nct, n in largest],
        "percentiles": {str(p): _percentile(values, p) for p in PERCENTILES} if values else {},
        "ranges": ranges,
        "totalStudies": len(values),
    }
