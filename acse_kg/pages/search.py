"""Search the registry's studies: free text, an OncoTree condition, and facets with counts.

The free text is ClinicalTrials.gov's query syntax over any text of a record
(``query.term`` of the API, :mod:`acse_kg.ctgov.query`). The condition is an
OncoTree code or name: a study is found by its cohorts' pathologies, a code
finding its subtypes (``NSCLC`` finds a cohort of LUAD) and a cohort of a
broader type taking the narrower one (``LUAD`` finds a cohort of NSCLC; the
OncoTree root, "any tumour type", is not counted as broader). A condition
that is not an OncoTree code or name is searched as the API's ``query.cond``
text (the records' own conditions). The facets are read from the study model
(genes, alteration types) and from the record's ClinicalTrials.gov fields
(status, phase, age group, sex, country). All of it is answered by the search
index beside the graph (:mod:`acse_kg.search_index`), which reads each study
once per version of it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from ..ctgov.essie import EssieError, parse
from ..ctgov.pieces import UnknownPiece
from ..ctgov.query import QueryError, StudyQuery, search_query
from ..derived import DerivedCache
from ..errors import AcseError
from ..matching.candidates import Taxonomy
from ..matching.engine import vocabulary_for
from ..search_index import index_for
from ..store import GraphStore
from ..vocab import ONCOTREE_ROOT

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
        tax = vocabulary_for(store).taxonomy  # the registry's one reading of OncoTree
        names = dict(tax.label_of)
        by_name = {n.lower(): c for c, n in sorted(names.items())}
        root = frozenset(c for c, code in tax.code_of.items() if code == ONCOTREE_ROOT)
        return Oncotree(tax, names, by_name, root)
    return _cache.get(store, "search-oncotree", read, vocabulary=True)


def gene_symbols(store: GraphStore) -> list[tuple[str, str]]:
    """(symbol, name) of the graph's genes, for the gene type-ahead."""
    def read() -> list[tuple[str, str]]:
        rows = store.select("SELECT ?sym (SAMPLE(?l) AS ?name) WHERE { ?g a acse:Gene ; acse:geneSymbol ?sym . "
                            "OPTIONAL { ?g rdfs:label ?l } } GROUP BY ?sym ORDER BY ?sym")
        return [(str(r["sym"]), str(r.get("name") or "")) for r in rows]
    return _cache.get(store, "search-genes", read, vocabulary=True)


def card(c: Mapping[str, Any]) -> StudyCard:
    """A study's card as the search index holds it (:func:`acse_kg.search_index.row_from_graph`): the
    cohorts, genes and alteration types are the study model's, the other facets the record's
    ClinicalTrials.gov fields."""
    return StudyCard(c["nct"], c["title"], c["status"], c["recruiting"], frozenset(c["pathologies"]),
                     c["cohorts"], c["facets"])


def first_cards(store: GraphStore, n: int) -> tuple[list[StudyCard], Mapping[str, int]]:
    """The registry's first ``n`` studies by NCT number and what the registry holds (the home page's
    summary: studies, cohorts, genes, tumour types, matchable studies), without reading the other cards."""
    index = index_for(store)
    bits = index.facet_bits()
    return [card(c) for c in index.cards(bits.ncts[:n])], bits.summary()


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


def _text_matches(store: GraphStore, area: str, text: str, deadline: float | None = None) -> set[str]:
    """The studies an Essie text finds in a search area (``query.term``, ``query.cond``), by the index."""
    try:
        tree = parse(text)
        q = StudyQuery(essie={area: tree})
        search_query(q)  # AREA[...] names and RANGE bounds are checked as the API checks them
    except (EssieError, QueryError) as exc:
        raise SearchError(f"{'q' if area == 'query.term' else 'cond'}: {exc}") from None
    except UnknownPiece as exc:
        raise SearchError(f"{'q' if area == 'query.term' else 'cond'}: AREA[{exc.args[0]}] names no field "
                          "of the study record") from None
    return index_for(store).matching(q, deadline=deadline)


def _oncotree_matches(store: GraphStore, code: str, deadline: float | None = None) -> set[str]:
    """The studies with a cohort of the OncoTree class ``code``, of a subtype of it, or of a broader
    type than it other than the root (see :meth:`acse_kg.search_index.OncotreeTerms.covering`)."""
    return index_for(store).matching(StudyQuery(), oncotree=code, deadline=deadline)


def search(store: GraphStore, s: Search, page_size: int | None = None, deadline: float | None = None) -> Results:
    """The studies the search finds (one page of them) and the facets' counts; past ``deadline``
    (time.monotonic) the index stops the search (:class:`acse_kg.search_index.SearchCancelled`).

    A facet's counts are over the studies the other filters find, so that its
    other values stay visible with how many studies choosing them would give.
    """
    index = index_for(store)
    bits = index.facet_bits()
    found = bits.everything
    condition = ""
    if s.q:
        found &= bits.of(_text_matches(store, "query.term", s.q, deadline))
    if s.cond:
        tree = oncotree(store)
        wanted = tree.resolve(s.cond)
        if wanted is not None:
            condition = f"{tree.names.get(wanted, '')} ({tree.taxonomy.code_of.get(wanted, '')})"
            found &= bits.of(_oncotree_matches(store, tree.taxonomy.code_of[wanted], deadline))
        else:
            condition = "text"
            found &= bits.of(_text_matches(store, "record.cond", s.cond, deadline))  # the records' own conditions
    chosen = {name: bits.having(name, values) for name, values in s.chosen.items() if values}

    def within(skip: str = "") -> int:
        """The studies found that pass every chosen facet but ``skip``."""
        out = found
        for name, having in chosen.items():
            if name != skip:
                out &= having
        return out

    hits = within()
    facets = []
    for name, title in FACETS:
        counts = bits.counts(name, within(skip=name))
        labels = {v: label for v, (label, _) in counts.items()}
        picked = s.chosen.get(name, [])
        for v in picked:
            labels.setdefault(v, v)
        values = sorted(labels, key=lambda v: (-counts.get(v, ("", 0))[1], labels[v].lower()))
        facets.append(Facet(name, title, [(v, labels[v], counts.get(v, ("", 0))[1], v in picked) for v in values]))
    size = page_size or PAGE_SIZE
    total = hits.bit_count()
    pages = max(1, -(-total // size))
    if s.page > pages:
        raise SearchError(f"page: {s.page} is past the last page ({pages})")
    shown = [card(c) for c in index.cards(bits.page(hits, (s.page - 1) * size, size))]
    return Results(s, total, shown, facets, pages, condition, size)


__all__ = ["FACETS", "PAGE_SIZE", "Results", "Search", "SearchError", "StudyCard", "card", "first_cards",
           "gene_symbols", "oncotree", "search"]
