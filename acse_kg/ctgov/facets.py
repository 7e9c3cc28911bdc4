"""``aggFilters``: the facets of ClinicalTrials.gov's search page, as the spec's syntax writes them.

The value is a comma- or pipe-separated list of ``filter_id:option option``
pairs (``phase:2 3,status:rec``): the options of one filter are alternatives
(OR), the filters all apply (AND). The facets and option keys are those of
ClinicalTrials.gov's search page (its URLs carry them: ``aggFilters=phase:3``,
``status:not rec``, ``sex:f``, ``healthy:y``, ``ages:adult``, ``funderType:nih``,
``studyType:int``), each mapped here to the piece and API code it selects.

``sex:f`` keeps the studies that take women (sex FEMALE or ALL), as the search
page's "Female" does; likewise ``sex:m``. The ``results`` and ``docs`` facets
are refused by name: the registry keeps neither posted results nor documents,
so it cannot tell which studies have them.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import AcseError

#: facet id -> option key -> the (piece, value) tests any of which selects a study.
FACETS: dict[str, dict[str, tuple[tuple[str, str], ...]]] = {
    "status": {
        "rec": (("OverallStatus", "RECRUITING"),),
        "not": (("OverallStatus", "NOT_YET_RECRUITING"),),
        "act": (("OverallStatus", "ACTIVE_NOT_RECRUITING"),),
        "com": (("OverallStatus", "COMPLETED"),),
        "enr": (("OverallStatus", "ENROLLING_BY_INVITATION"),),
        "sus": (("OverallStatus", "SUSPENDED"),),
        "ter": (("OverallStatus", "TERMINATED"),),
        "wit": (("OverallStatus", "WITHDRAWN"),),
        "unk": (("OverallStatus", "UNKNOWN"),),
        "ava": (("OverallStatus", "AVAILABLE"),),
        "nla": (("OverallStatus", "NO_LONGER_AVAILABLE"),),
        "tna": (("OverallStatus", "TEMPORARILY_NOT_AVAILABLE"),),
        "afm": (("OverallStatus", "APPROVED_FOR_MARKETING"),),
    },
    "phase": {
        "0": (("Phase", "EARLY_PHASE1"),),
        "1": (("Phase", "PHASE1"),),
        "2": (("Phase", "PHASE2"),),
        "3": (("Phase", "PHASE3"),),
        "4": (("Phase", "PHASE4"),),
        "na": (("Phase", "NA"),),
    },
    "studyType": {
        "int": (("StudyType", "INTERVENTIONAL"),),
        "obs": (("StudyType", "OBSERVATIONAL"),),
        "exp": (("StudyType", "EXPANDED_ACCESS"),),
    },
    "sex": {
        "f": (("Sex", "FEMALE"), ("Sex", "ALL")),
        "m": (("Sex", "MALE"), ("Sex", "ALL")),
        "all": (("Sex", "ALL"),),
    },
    "healthy": {
        "y": (("HealthyVolunteers", "true"),),
        "n": (("HealthyVolunteers", "false"),),
    },
    "ages": {
        "child": (("StdAge", "CHILD"),),
        "adult": (("StdAge", "ADULT"),),
        "older": (("StdAge", "OLDER_ADULT"),),
    },
    "funderType": {
        "nih": (("LeadSponsorClass", "NIH"),),
        "fed": (("LeadSponsorClass", "FED"),),
        "industry": (("LeadSponsorClass", "INDUSTRY"),),
        "other": tuple(("LeadSponsorClass", c) for c in ("OTHER", "OTHER_GOV", "INDIV", "NETWORK", "AMBIG", "UNKNOWN")),
    },
}

#: Facets of the search page this registry cannot answer, with the reason.
NOT_HELD = {
    "results": "the registry does not keep posted results",
    "docs": "the registry does not keep study documents",
}


class FacetError(AcseError, ValueError):
    """An aggFilters value that names an unknown facet or option."""


@dataclass(frozen=True)
class AggFilter:
    """One facet with its checked options: a study passes when any of ``tests`` holds."""

    facet: str
    options: tuple[str, ...]
    tests: tuple[tuple[str, str], ...]


def parse_agg_filters(value: str) -> list[AggFilter]:
    """``phase:2 3,status:rec`` -> one filter per facet (a facet named twice: its options together)."""
    out: dict[str, list[str]] = {}
    pairs = [p.strip() for p in value.replace("|", ",").split(",") if p.strip()]
    if not pairs:
        raise FacetError("give filter_id:option pairs, e.g. phase:2,status:rec")
    for pair in pairs:
        facet, sep, options = pair.partition(":")
        facet = facet.strip()
        if not sep or not options.split():
            raise FacetError(f"{pair!r} is not filter_id:option (e.g. phase:2 or status:not rec)")
        if facet in NOT_HELD:
            raise FacetError(f"the {facet!r} filter is not available here: {NOT_HELD[facet]}")
        if facet not in FACETS:
            raise FacetError(f"unknown filter {facet!r} (known: {', '.join(FACETS)})")
        for option in options.split():
            if option not in FACETS[facet]:
                raise FacetError(f"unknown option {option!r} of filter {facet!r} "
                                 f"(known: {', '.join(FACETS[facet])})")
            out.setdefault(facet, []).append(option)
    return [AggFilter(f, tuple(opts), tuple(t for o in opts for t in FACETS[f][o])) for f, opts in out.items()]
