"""A study's computable criteria as the criteria-JSON list, drafted and curated alike.

Which ones: a study curated by hand answers its curated criteria (read through
the study model, rule ``curated``, state ``curated``); a study with stored
drafts answers them with their review states; any other study (or ``fresh``)
is drafted from its record's text now, nothing stored. So one call serves a
tool that wants "the criteria of NCT…" whatever their origin, and the
``rule`` and ``state`` of each item say where it comes from.
"""

from __future__ import annotations

from typing import Any

from ..store import GraphStore
from .record import DraftingError, draft


def study_criteria(store: GraphStore, nct: str, *, fresh: bool = False) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The computable criteria of a stored study, and the bullets left to confirm when they were drafted now.

    ``fresh`` drafts the record's text whatever the study holds.
    """
    from ..ctgov.export import StudyNotFound, export_study
    from ..model import StudyNotFound as NoStudy
    from ..model import read_study
    from .compare import curated_items
    from .review import stored_items

    if not fresh:
        stored = stored_items(store, nct)
        if stored:
            return stored, []
        try:
            study = read_study(store, nct)
        except NoStudy as exc:
            raise DraftingError(str(exc)) from None
        if any(c.decidable for c in study.criteria):
            return curated_items(study), []
    try:
        record = export_study(store, nct, full_text=True)
    except StudyNotFound as exc:
        raise DraftingError(str(exc)) from None
    result = draft(record)
    return result.items, result.to_confirm
