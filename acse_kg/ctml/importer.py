"""``acse-kg import FILE.json|FILE.yml`` for CTML: recognise, validate, map, and store as a new version.

All or nothing, like the ClinicalTrials.gov import: the document is checked
against the CTML schema (:mod:`.schema`, findings reported, never fatal on
their own), mapped to a complete graph in memory (:mod:`.mapping`), and only
when no finding refuses it written as the next version of the study's graph
through the registry's history (:func:`_store_version`, the one call site).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import AcseError
from ..loader import study_graph_name
from ..namespaces import NCT_HINT, normalise_nct
from ..store import GraphStore
from .mapping import SOURCE, map_document
from .schema import Finding, validate_ctml
from .vocabulary import read_vocabulary

#: Keys that make a mapping a CTML trial: its id and its treatment list (CAPTUR and the v1 example have both).
CTML_KEYS = ("nct_id", "treatment_list")
SUFFIXES = (".json", ".yml", ".yaml")


class NotCtml(AcseError, ValueError):
    """The file is not a CTML trial (or cannot be read as one); the message says why, on one line."""


class CtmlRefused(AcseError, ValueError):
    """The CTML file has values the registry cannot read; nothing was stored. ``findings`` lists all of them."""

    def __init__(self, findings: list[Finding]) -> None:
        self.findings = findings
        first = findings[0]
        more = f" (and {len(findings) - 1} more)" if len(findings) > 1 else ""
        super().__init__(f"CTML refused, nothing was stored: {first}{more}")


@dataclass
class CtmlImportResult:
    nct_id: str
    graph: str
    triples: int
    cohorts: int
    findings: list[Finding] = field(default_factory=list)
    previous_version: str | None = None
    unchanged: bool = False


def is_ctml(doc: Any) -> bool:
    """Whether a parsed document is a CTML trial (a mapping with an nct_id and a treatment_list)."""
    return isinstance(doc, dict) and all(k in doc for k in CTML_KEYS)


def read_document(path: Path) -> Any:
    """The parsed content of a .json / .yml / .yaml file (YAML safely: no tags run code)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise NotCtml(f"cannot read {path}: {exc}") from exc
    try:
        if path.suffix.lower() == ".json":
            return json.loads(text)
        return yaml.safe_load(text)
    except (ValueError, yaml.YAMLError, RecursionError) as exc:
        kind = "JSON" if path.suffix.lower() == ".json" else "YAML"
        raise NotCtml(f"{path} is not {kind}: {' '.join(str(exc).split())}") from exc


def check_document(doc: Any, nct: str | None = None) -> tuple[str, list[Finding]]:
    """The study's NCT number and the schema findings; :class:`NotCtml` / :class:`CtmlRefused` when unusable."""
    if not is_ctml(doc):
        keys = ", ".join(sorted(doc)[:6]) if isinstance(doc, dict) else type(doc).__name__
        raise NotCtml(f"not a CTML trial: $ needs {' and '.join(CTML_KEYS)} (found {keys})")
    findings = validate_ctml(doc)
    wanted = normalise_nct(nct) if nct else normalise_nct(str(doc["nct_id"]))
    if wanted is None:
        raise CtmlRefused([Finding("$.nct_id", nct or doc["nct_id"],
                                   f"not an NCT number ({NCT_HINT}); give the study's NCT number with --nct")])
    if nct and normalise_nct(str(doc["nct_id"])) not in (None, wanted):
        raise CtmlRefused([Finding("$.nct_id", doc["nct_id"], f"the file is another study than {wanted}")])
    return wanted, findings


def import_ctml(store: GraphStore, doc: Any, *, nct: str | None = None, agent: str = "acse-kg import",
                note: str | None = None, replace_other_source: bool = False) -> CtmlImportResult:
    """Check, map and store one CTML trial; raise :class:`CtmlRefused` (nothing stored) on unreadable values.

    The study's graph is replaced whole (its previous version stays in the history). A study the registry
    holds from another source (a curated record, a ClinicalTrials.gov import) is not replaced unless
    ``replace_other_source``: the CTML file does not carry its dates, outcomes or exclusion criteria.
    """
    nct_id, findings = check_document(doc, nct)
    broken = [f for f in findings if f.action == "refused"]
    if broken:
        raise CtmlRefused(broken)
    held = _held_source(store, nct_id)
    if held is not None and held != SOURCE and not replace_other_source:
        raise CtmlRefused([Finding("$.nct_id", doc.get("nct_id"), f"{nct_id} is in the registry from another "
                                   f"source ({held or 'a curated or ClinicalTrials.gov record'}) that CTML "
                                   "cannot carry; importing would replace it (--replace-curated to do so anyway)")])
    mapped = map_document(doc, read_vocabulary(store), nct_id)
    findings = findings + mapped.findings
    if mapped.refused:
        raise CtmlRefused(mapped.refused)
    if not mapped.cohorts:
        raise CtmlRefused([Finding("$.treatment_list", doc.get("treatment_list"), "no arm to make a cohort of")])
    previous, unchanged = _store_version(store, nct_id, mapped.graph, agent=agent,
                                         note=note or "import of a CTML trial")
    return CtmlImportResult(nct_id, study_graph_name(nct_id), len(mapped.graph), mapped.cohorts, findings,
                            previous, unchanged)


def _held_source(store: GraphStore, nct: str) -> str | None:
    """The source of the study the registry holds (``""`` when unstated), or None when it holds none."""
    from ..model import StudyNotFound, read_study

    try:
        return read_study(store, nct).source
    except StudyNotFound:
        return None


def _store_version(store: GraphStore, nct: str, graph: Any, *, agent: str, note: str) -> tuple[str | None, bool]:
    """Write ``graph`` as the next version of the study through the registry's history (the one call site).

    Returns (archive graph of the previous version, whether nothing changed). A re-import of the same
    content makes no version, as with the ClinicalTrials.gov import.
    """
    from ..versions import save_study

    saved = save_study(store, nct, graph.serialize(format="nt", encoding="utf-8"), "ntriples", agent=agent, note=note)
    return saved.archived, saved.unchanged
