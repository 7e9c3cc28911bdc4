"""Search the registry's studies: free text, an OncoTree condition, and facets with counts.

The free text is ClinicalTrials.gov's query syntax over any text of a record
(``query.term`` of the API, :mod:`acse_kg.ctgov.query`). The condition is an
OncoTree code or name: a study is found by its cohorts' pathologies, a code
finding its subtypes (``NSCLC`` finds a cohort of LUAD) and a cohort of a
broader type taking the narrower one (``LUAD`` finds a cohort of NSCLC; the
OncoTree root, "any tumour type", is not counted as broader). A condition
that is not an OncoTree code or name is searched as the API's ``query.cond``
text. The facets are read from the study model (genes, alteration types) and
from the record's ClinicalTrials.gov fields (status, phase, age group, sex,
country), once per store version.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlencode

from ..ctgov.essie import EssieError, parse
from ..ctgov.query import StudyQuery, matching_ncts
from ..derived import DerivedCache
from ..errors import AcseError
from ..matching.candidates import Taxonomy
from ..model import ModelError, Study, StudyNotFound, read_study
from ..vocab import ONCOTREE_ROOT
from ..store import GraphStore
from . import ctgov_view as cv
from .graph import code_labels

PAGE_SIZE = 10
#: The facets, in the order the page shows them: (URL parameter, heading).
FACETS: tuple[tuple[str, str], ...] = (
    ("gene", "Gene"),
    ("type", "Alteration type"),
    ("status", "Recruitment status"),
    ("phase", "Phase"),
    ("age", "Age group"),
    ("sex", "Sex"),
    ("country", "Country"),
)
#: Every parameter the search page reads; any other is refused by name.
PARAMS = ("q", "cond", "page", *(name for name, _ in FACETS))


class SearchError(AcseError, ValueError):
    """A search parameter is malformed; the message names it."""


@dataclass(frozen=True)
class StudyCard:
    """What the search reads of one study: its title, its pathologies and its facet values (value -> label)."""

    nct: str
    title: str
    status: str
    recruiting: bool | None
    pathologies: frozenset[str]  # OncoTree class IRIs of the cohorts
    cohorts: int
    facets: dict[str, dict[str, str]]


@dataclass(frozen=True)
class Oncotree:
    """The OncoTree codes and names, for the condition box and its type-ahead."""

    taxonomy: Taxonomy
    names: dict[str, str]  # class IRI -> name
    by_name: dict[str, str]  # lower-case name -> class IRI
    root: frozenset[str]  # the OncoTree root (any tumour type): never a broader type of a search

    def resolve(self, text: str) -> str | None:
        return self.taxonomy.resolve(text) or self.by_name.get(" ".join(text.split()).lower())

    def options(self) -> list[tuple[str, str]]:
        """(code, name) of every OncoTree class, by code."""
        return sorted((code, self.names.get(iri, "")) for iri, code in self.taxonomy.code_of.items())


_cache = DerivedCache()


def oncotree(store: GraphStore) -> Oncotree:
    def read() -> Oncotree:
        tax = Taxonomy.load(store)
        names = {str(r["c"]): str(r["name"]) for r in store.select(
            "SELECT ?c ?name WHERE { ?c acse:oncotreeCode ?code ; rdfs:label ?name }")}
        by_name = {n.lower(): c for c, n in names.items()}
        root = frozenset(c for c, code in tax.code_of.items() if code == ONCOTREE_ROOT)
        return Oncotree(tax, names, by_name, root)
    return _cache.get(store, "search-oncotree", read)  # type: ignore[no-any-return]


def gene_symbols(store: GraphStore) -> list[tuple[str, str]]:
    """(symbol, name) of the graph's genes, for the gene type-ahead."""
    def read() -> list[tuple[str, str]]:
        rows = store.select("SELECT ?sym (SAMPLE(?l) AS ?name) WHERE { ?g a acse:Gene ; acse:geneSymbol ?sym . "
                            "OPTIONAL { ?g rdfs:label ?l } } GROUP BY ?sym ORDER BY ?sym")
        return [(str(r["sym"]), str(r.get("name") or "")) for r in rows]
    return _cache.get(store, "search-genes", read)  # type: ignore[no-any-return]


#: The ClinicalTrials.gov fields the facets read, for every study at once (the record's own terms).
_RECORD_FIELDS = """
SELECT ?nct ?title ?status ?phase ?sex ?age ?country WHERE {
  ?s acse:nctId ?nct .
  OPTIONAL { ?s acse:briefTitle ?title } OPTIONAL { ?s acse:overallStatus/acse:code ?status }
  OPTIONAL { ?s acse:phase/acse:code ?phase } OPTIONAL { ?s acse:sex ?sex }
  OPTIONAL { ?s acse:stdAge ?age } OPTIONAL { ?s acse:site/acse:country ?country }
}"""
_AGE_ORDER = {"CHILD": 0, "ADULT": 1, "OLDER_ADULT": 2}


def _record_fields(store: GraphStore) -> dict[str, dict[str, set[str]]]:
    """nct -> field -> values, from one query over the registry (not one export per study)."""
    out: dict[str, dict[str, set[str]]] = {}
    for r in store.select(_RECORD_FIELDS):
        fields = out.setdefault(str(r["nct"]), {})
        for key in ("title", "status", "phase", "sex", "age", "country"):
            if r.get(key) is not None:
                fields.setdefault(key, set()).add(str(r[key]))
    return out


def _card(nct: str, fields: dict[str, set[str]], study: Study | None,
          label: cv.Labels) -> StudyCard:
    status = min(fields.get("status", {""}))
    facets: dict[str, dict[str, str]] = {
        "gene": {t.code or t.label: t.code or t.label for t in study.target_genes} if study else {},
        "type": {t.code or t.label: t.label or t.code for c in study.cohorts for t in c.accepts} if study else {},
        "status": {status: label("overallStatus", status)} if status else {},
        "phase": {p: label("phase", p) for p in sorted(fields.get("phase", ()))},
        "age": {a: cv.humanise(a) for a in sorted(fields.get("age", ()), key=lambda a: _AGE_ORDER.get(a, 9))},
        "sex": {x: cv.humanise(x) for x in sorted(fields.get("sex", ()))},
        "country": {c: c for c in sorted(fields.get("country", ()))},
    }
    pathologies = frozenset(t.iri for c in study.cohorts for t in c.pathologies) if study else frozenset()
    return StudyCard(nct, min(fields.get("title", {""})), label("overallStatus", status),
                     study.recruiting if study else None, pathologies, len(study.cohorts) if study else 0, facets)


def study_cards(store: GraphStore) -> list[StudyCard]:
    """Every study of the registry as the search reads it, by NCT number (kept per store version).

    The cohorts, genes and alteration types are the study model's (kept per store version and
    shared with the matcher, which reads every model anyway); the record's fields come from one query.
    """
    def read() -> list[StudyCard]:
        label = cv.Labels(code_labels(store))
        cards = []
        for nct, fields in sorted(_record_fields(store).items()):
            try:
                study: Study | None = read_study(store, nct)
            except (ModelError, StudyNotFound):  # a record the model cannot read is still found by its fields
                study = None
            cards.append(_card(nct, fields, study, label))
        return cards
    return _cache.get(store, "search-cards", read)  # type: ignore[no-any-return]


@dataclass
class Search:
    """One search, as the URL holds it."""

    q: str = ""
    cond: str = ""
    page: int = 1
    chosen: dict[str, list[str]] = field(default_factory=dict)  # facet -> values (any of them)

    @classmethod
    def from_params(cls, params: Sequence[tuple[str, str]]) -> Search:
        unknown = sorted({k for k, _ in params} - set(PARAMS))
        if unknown:
            raise SearchError(f"unknown search parameter(s): {', '.join(unknown)} (known: {', '.join(PARAMS)})")
        s = cls()
        for key, value in params:
            value = value.strip()
            if key == "q":
                s.q = value
            elif key == "cond":
                s.cond = value
            elif key == "page":
                if not value.isdigit() or int(value) < 1:
                    raise SearchError(f"page: a page number from 1, not {value!r}")
                s.page = int(value)
            elif value and value not in s.chosen.setdefault(key, []):
                s.chosen[key].append(value)
        return s

    def params(self, **change: object) -> list[tuple[str, str]]:
        """The query string's pairs, with ``change`` applied (page, or a facet value toggled)."""
        out: list[tuple[str, str]] = []
        if self.q:
            out.append(("q", self.q))
        if self.cond:
            out.append(("cond", self.cond))
        toggle = change.get("toggle")
        for name, _ in FACETS:
            values = list(self.chosen.get(name, []))
            if isinstance(toggle, tuple) and toggle[0] == name:
                values = [v for v in values if v != toggle[1]] if toggle[1] in values else [*values, toggle[1]]
            out.extend((name, v) for v in values)
        page = change.get("page", 1 if toggle else self.page)
        if page != 1:
            out.append(("page", str(page)))
        return out

    def url(self, base: str, **change: object) -> str:
        qs = urlencode(self.params(**change))
        return base + ("?" + qs if qs else "")

    @property
    def empty(self) -> bool:
        return not (self.q or self.cond or any(self.chosen.values()))


@dataclass
class Facet:
    name: str
    title: str
    values: list[tuple[str, str, int, bool]]  # (value, label, studies, chosen)


@dataclass
class Results:
    search: Search
    total: int
    cards: list[StudyCard]
    facets: list[Facet]
    pages: int
    condition: str = ""  # how the condition was read: the OncoTree class's "name (CODE)", or "text"
    page_size: int = PAGE_SIZE


def _covers(tree: Oncotree, wanted: str, pathology: str) -> bool:
    """Whether a cohort of ``pathology`` is found by a search for ``wanted`` (both OncoTree classes)."""
    if wanted in tree.taxonomy.ancestors(pathology):  # the pathology is the condition or one of its subtypes
        return True
    return pathology not in tree.root and pathology in tree.taxonomy.ancestors(wanted)


def _text_matches(store: GraphStore, area: str | None, text: str) -> set[str]:
    try:
        tree = parse(text)
    except EssieError as exc:
        raise SearchError(f"{'cond' if area else 'q'}: {exc}") from None
    q = StudyQuery(essie={area or "query.term": tree})  # a named area, else any text of the record
    return set(matching_ncts(store, q))


def search(store: GraphStore, s: Search, page_size: int | None = None) -> Results:
    """The studies the search finds (one page of them) and the facets' counts.

    A facet's counts are over the studies the other filters find, so that its
    other values stay visible with how many studies choosing them would give.
    """
    cards = study_cards(store)
    found = {c.nct for c in cards}
    condition = ""
    if s.q:
        found &= _text_matches(store, None, s.q)
    if s.cond:
        tree = oncotree(store)
        wanted = tree.resolve(s.cond)
        if wanted is not None:
            condition = f"{tree.names.get(wanted, '')} ({tree.taxonomy.code_of.get(wanted, '')})"
            found &= {c.nct for c in cards if any(_covers(tree, wanted, p) for p in c.pathologies)}
        else:
            condition = "text"
            found &= _text_matches(store, "query.cond", s.cond)
    base = [c for c in cards if c.nct in found]

    def keep(card: StudyCard, skip: str = "") -> bool:
        return all(not values or any(v in card.facets.get(name, {}) for v in values)
                   for name, values in s.chosen.items() if name != skip)

    hits = [c for c in base if keep(c)]
    facets = []
    for name, title in FACETS:
        counts: Counter[str] = Counter()
        labels: dict[str, str] = {}
        for c in base:
            if keep(c, skip=name):
                for value, text in c.facets.get(name, {}).items():
                    counts[value] += 1
                    labels[value] = text
        chosen = s.chosen.get(name, [])
        for v in chosen:
            labels.setdefault(v, v)
        values = sorted(labels, key=lambda v: (-counts[v], labels[v].lower()))
        facets.append(Facet(name, title, [(v, labels[v], counts[v], v in chosen) for v in values]))
    size = page_size or PAGE_SIZE
    pages = max(1, -(-len(hits) // size))
    if s.page > pages:
        raise SearchError(f"page: {s.page} is past the last page ({pages})")
    start = (s.page - 1) * size
    return Results(s, len(hits), hits[start:start + size], facets, pages, condition, size)


def registry_summary(cards: Sequence[StudyCard]) -> Mapping[str, int]:
    """What the home page says is here: studies, cohorts, genes, tumour types, recruiting studies."""
    return {
        "studies": len(cards),
        "cohorts": sum(c.cohorts for c in cards),
        "genes": len({g for c in cards for g in c.facets.get("gene", {})}),
        "tumour_types": len({p for c in cards for p in c.pathologies}),
        "matchable": sum(1 for c in cards if c.cohorts),
    }


__all__ = ["FACETS", "PAGE_SIZE", "Results", "Search", "SearchError", "StudyCard", "gene_symbols", "oncotree",
           "registry_summary", "search", "study_cards"]
