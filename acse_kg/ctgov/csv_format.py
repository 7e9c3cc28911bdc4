"""``format=csv``: the studies as ClinicalTrials.gov's CSV download writes them.

Which columns: the spec (2.0.5) says only that "available fields are listed
on [CSV Download] page" and types the answer as a plain string
(``StudiesCsv``); the field metadata has no CSV names either. So the columns
are ClinicalTrials.gov's 30 default CSV columns, in its order, as the live
API writes them (``NCT Number`` ... ``Study Documents``): they are what a
client that reads our CSV was written against, and ``fields`` takes these
display names, answered in this fixed order whatever order they are asked in,
as ClinicalTrials.gov does. Each value is rebuilt from the exported API v2
JSON (:mod:`.export`), so CSV and JSON never disagree.

Lists are joined by ``|`` (``PHASE2|PHASE3``), a structured item's parts by
``, `` (a location: facility, city, state, zip, country); codes stay API codes
(``RECRUITING``), as ClinicalTrials.gov's CSV has them. ``Study Results`` and
``Study Documents`` are left empty: the registry keeps neither posted results
nor documents, so it says nothing rather than "NO". Paging follows the API:
the header row comes with the first page only, and the next page's token and
the total count travel in the ``x-next-page-token`` / ``x-total-count``
response headers.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from typing import Any

from ..errors import AcseError

STUDY_URL = "https://clinicaltrials.gov/study/"


class CsvError(AcseError, ValueError):
    """A ``fields`` value naming no CSV column."""


def _get(d: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(d, dict):
            return None
        d = d.get(key)
    return d


def _ps(s: dict[str, Any], module: str, *path: str) -> Any:
    return _get(s, "protocolSection", module, *path)


def _joined(values: Iterable[Any], sep: str = "|") -> str:
    return sep.join(str(v) for v in values if v not in (None, ""))


def _outcomes(kind: str) -> Callable[[dict[str, Any]], str]:
    def column(s: dict[str, Any]) -> str:
        items = _ps(s, "outcomesModule", kind) or []
        return _joined(_joined((o.get("measure"), o.get("description"), o.get("timeFrame")), ", ") for o in items)

    return column


def _design(s: dict[str, Any]) -> str:
    info = _ps(s, "designModule", "designInfo") or {}
    parts = [("Allocation", info.get("allocation")), ("Intervention Model", info.get("interventionModel")),
             ("Masking", _get(info, "maskingInfo", "masking")), ("Primary Purpose", info.get("primaryPurpose")),
             ("Observational Model", info.get("observationalModel")),
             ("Time Perspective", info.get("timePerspective"))]
    return _joined(f"{label}: {value}" for label, value in parts if value)


def _other_ids(s: dict[str, Any]) -> str:
    ident = _ps(s, "identificationModule") or {}
    return _joined([_get(ident, "orgStudyIdInfo", "id"), *(i.get("id") for i in ident.get("secondaryIdInfos") or [])])


def _locations(s: dict[str, Any]) -> str:
    return _joined(_joined((loc.get(k) for k in ("facility", "city", "state", "zip", "country")), ", ")
                   for loc in _ps(s, "contactsLocationsModule", "locations") or [])


def _date(key: str) -> Callable[[dict[str, Any]], str]:
    return lambda s: _ps(s, "statusModule", key, "date") or ""


_YES_NO: dict[object, str] = {True: "YES", False: "NO"}  # hasResults; absent (or anything else): empty

#: ClinicalTrials.gov's CSV columns, in its order -> how each is written from the study JSON.
COLUMNS: dict[str, Callable[[dict[str, Any]], str]] = {
    "NCT Number": lambda s: _ps(s, "identificationModule", "nctId") or "",
    "Study Title": lambda s: _ps(s, "identificationModule", "briefTitle") or "",
    "Study URL": lambda s: STUDY_URL + (_ps(s, "identificationModule", "nctId") or ""),
    "Acronym": lambda s: _ps(s, "identificationModule", "acronym") or "",
    "Study Status": lambda s: _ps(s, "statusModule", "overallStatus") or "",
    "Brief Summary": lambda s: _ps(s, "descriptionModule", "briefSummary") or "",
    "Study Results": lambda s: _YES_NO.get(s.get("hasResults"), ""),
    "Conditions": lambda s: _joined(_ps(s, "conditionsModule", "conditions") or []),
    "Interventions": lambda s: _joined(f"{i.get('type')}: {i.get('name')}" if i.get("type") else i.get("name")
                                       for i in _ps(s, "armsInterventionsModule", "interventions") or []),
    "Primary Outcome Measures": _outcomes("primaryOutcomes"),
    "Secondary Outcome Measures": _outcomes("secondaryOutcomes"),
    "Other Outcome Measures": _outcomes("otherOutcomes"),
    "Sponsor": lambda s: _ps(s, "sponsorCollaboratorsModule", "leadSponsor", "name") or "",
    "Collaborators": lambda s: _joined(c.get("name") for c in _ps(s, "sponsorCollaboratorsModule", "collaborators") or []),
    "Sex": lambda s: _ps(s, "eligibilityModule", "sex") or "",
    "Age": lambda s: _joined(_ps(s, "eligibilityModule", "stdAges") or [], ", "),
    "Phases": lambda s: _joined(_ps(s, "designModule", "phases") or []),
    "Enrollment": lambda s: str(_ps(s, "designModule", "enrollmentInfo", "count") or ""),
    "Funder Type": lambda s: _ps(s, "sponsorCollaboratorsModule", "leadSponsor", "class") or "",
    "Study Type": lambda s: _ps(s, "designModule", "studyType") or "",
    "Study Design": _design,
    "Other IDs": _other_ids,
    "Start Date": _date("startDateStruct"),
    "Primary Completion Date": _date("primaryCompletionDateStruct"),
    "Completion Date": _date("completionDateStruct"),
    "First Posted": _date("studyFirstPostDateStruct"),
    "Results First Posted": _date("resultsFirstPostDateStruct"),
    "Last Update Posted": _date("lastUpdatePostDateStruct"),
    "Locations": _locations,
    "Study Documents": lambda s: "",
}


def parse_columns(value: str) -> list[str]:
    """``fields`` with format=csv: column names (any case), answered in the fixed column order."""
    by_lower = {c.lower(): c for c in COLUMNS}
    asked = [f.strip() for f in value.replace("|", ",").split(",") if f.strip()]
    if not asked:
        raise CsvError("Parameter 'fields' must be a non-empty list of CSV column names")
    for name in asked:
        if name.lower() not in by_lower:
            raise CsvError(f"Parameter 'fields' contains invalid CSV column name: {name!r}")
    wanted = {by_lower[n.lower()] for n in asked}
    return [c for c in COLUMNS if c in wanted]


def write_csv(studies: Iterable[dict[str, Any]], columns: list[str] | None, *, header: bool) -> str:
    """The rows of ``studies`` (and the header row first when ``header``), RFC 4180 quoted."""
    cols = columns or list(COLUMNS)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    if header:
        writer.writerow(cols)
    for s in studies:
        writer.writerow([COLUMNS[c](s) for c in cols])
    return out.getvalue()
