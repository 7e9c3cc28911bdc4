"""Study pages: a ClinicalTrials.gov-style record and what the registry adds, rendered from the graph.

Two sources, both derived from the graph and nothing kept beside it:

* the ClinicalTrials.gov sections, from
  :func:`acse_kg.ctgov.export.export_study` (API v2 JSON), formatted by
  :mod:`.ctgov_view`;
* the registry's own content (cohort table, cohort rules, per-cohort
  criteria with thresholds and units, dosing table, curation notes), from the
  study model (:func:`acse_kg.model.read_study`), arranged by :mod:`.graph`
  and printed by :mod:`.expressions`; the IRIs of the ClinicalTrials.gov items
  come from one query in :mod:`.graph`.

The same templates serve the API (``/study/{nct}``) and the static site
(``acse-kg render``); only the :class:`Links` differ.
"""

from __future__ import annotations

from .render import Links, PageNotFound, cohort_page, index_page, study_page, write_site

__all__ = ["Links", "PageNotFound", "cohort_page", "index_page", "study_page", "write_site"]
