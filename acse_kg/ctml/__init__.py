"""MatchMiner's Clinical Trial Markup Language (CTML) in and out.

``acse-kg import FILE.json|FILE.yml`` recognises a CTML trial and turns it into a
structured, matchable study (:mod:`.importer`, :mod:`.mapping`): each arm a
cohort whose rule is the arm's match tree. ``acse-kg export NCT… --format ctml``
writes any structured study as CTML (:mod:`.export`), read through the study
model only. Both are checked against the CTML schema derived from CTIMS's
(:mod:`.schema`); CTML's value vocabularies are in :mod:`.vocabulary`.
"""

from .export import CtmlExportError, Exported, study_to_ctml
from .importer import CtmlImportResult, CtmlRefused, NotCtml, import_ctml, is_ctml, read_document
from .schema import Finding, ctml_schema, validate_ctml

__all__ = ["CtmlExportError", "CtmlImportResult", "CtmlRefused", "Exported", "Finding", "NotCtml", "ctml_schema",
           "import_ctml", "is_ctml", "read_document", "study_to_ctml", "validate_ctml"]
