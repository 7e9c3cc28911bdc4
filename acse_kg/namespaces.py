"""The IRIs the registry mints and the vocabularies it aligns to.

Every module takes its namespaces from here so that an IRI is spelled once.
"""

from __future__ import annotations

import re
from typing import Any, cast

from rdflib import Namespace as _RdflibNamespace
from rdflib import URIRef
from rdflib.namespace import DCTERMS, OWL, PROV, RDF, RDFS, SKOS, XSD


class Namespace(_RdflibNamespace):
    """An rdflib namespace whose terms are made once each.

    Why: rdflib makes and checks a new URIRef at every ``ACSE.site`` (after a failed ordinary attribute
    lookup) and every ``ACSE["city"]``: 3 to 10 µs each, and mapping one ClinicalTrials.gov record to
    its graph asks about 900 times (a bulk import's workers, the export, the model's reader).

    >>> ACSE.site is ACSE.site and ACSE["city"] is ACSE["city"] and ACSE.site == URIRef(BASE + "ontology#site")
    True
    """

    _items: dict[str, URIRef]

    def __new__(cls, value: Any) -> Namespace:
        ns = cast(Namespace, super().__new__(cls, value))
        ns._items = {}
        return ns

    def __getattr__(self, name: str) -> URIRef:
        term = super().__getattr__(name)
        self.__dict__[name] = term  # found by the ordinary lookup from now on
        return term

    def __getitem__(self, key: str) -> URIRef:  # type: ignore[override]
        try:
            return self._items[key]
        except (KeyError, TypeError):  # not made yet, or a slice (rdflib's term() decides)
            term = self.term(key)
            if isinstance(key, str):
                self._items[key] = term
            return term


#: Base of every IRI the registry mints; the server dereferences paths under it.
BASE = "https://w3id.org/acse-kg/"

ACSE = Namespace(BASE + "ontology#")
ID = Namespace(BASE + "id/")
#: The OncoTree release the registry's tumour types come from; it is part of every code's IRI.
ONCOTREE_RELEASE_ID = "2025_10_03"
ONCO = Namespace(f"{BASE}id/oncotree/{ONCOTREE_RELEASE_ID}/")
SCHEMA = Namespace("https://schema.org/")
OBO = Namespace("http://purl.obolibrary.org/obo/")
NCIT = Namespace("http://purl.obolibrary.org/obo/NCIT_")
SO = Namespace("http://purl.obolibrary.org/obo/SO_")
HGNC = Namespace("http://identifiers.org/hgnc/")
MESH = Namespace("http://id.nlm.nih.gov/mesh/")
SH = Namespace("http://www.w3.org/ns/shacl#")

#: Prefixes written into every serialisation and accepted in every query.
PREFIXES: dict[str, str] = {
    "acse": str(ACSE),
    "id": str(ID),
    # A local name cannot hold "/" in SPARQL: these let a query say gene:ALK, study:NCT02034981.
    "gene": str(ID) + "gene/",
    "study": str(ID) + "study/",
    "onco": str(ONCO),
    "schema": str(SCHEMA),
    "obo": str(OBO),
    "ncit": str(NCIT),
    "so": str(SO),
    "hgnc": str(HGNC),
    "mesh": str(MESH),
    "sh": str(SH),
    "rdf": str(RDF),
    "rdfs": str(RDFS),
    "owl": str(OWL),
    "xsd": str(XSD),
    "skos": str(SKOS),
    "dcterms": str(DCTERMS),
    "prov": str(PROV),
}


#: Namespaces from the most specific, so that onco:LUAD wins over id:oncotree/2025_10_03/LUAD.
_BY_SPECIFICITY = sorted(PREFIXES.items(), key=lambda kv: -len(kv[1]))


def compact_iri(iri: str) -> str | None:
    """``prefix:local`` with the most specific registry namespace, for people to read; None when none fits."""
    for prefix, ns in _BY_SPECIFICITY:
        if iri.startswith(ns) and len(iri) > len(ns):
            return f"{prefix}:{iri[len(ns):]}"
    return None


def sparql_prologue() -> str:
    """PREFIX lines for every known prefix, for queries written in code."""
    return "".join(f"PREFIX {p}: <{iri}>\n" for p, iri in PREFIXES.items())


#: ClinicalTrials.gov's nctId pattern: any case, leading zeros optional, not all zeros.
_NCT_PATTERN = re.compile(r"[Nn][Cc][Tt]0*([1-9]\d{0,7})")

#: What an NCT number looks like, for error messages.
NCT_HINT = "NCT and 8 digits, not all zero, e.g. NCT02034981"


def normalise_nct(value: str) -> str | None:
    """``nct2034981`` -> ``NCT02034981``: the one spelling IRIs, graph names and files use; None when
    the value is not an NCT number."""
    m = _NCT_PATTERN.fullmatch(value.strip())
    return f"NCT{int(m.group(1)):08d}" if m else None


def is_nct(value: str) -> bool:
    """Whether ``value`` is an NCT number in the registry's own spelling (``NCT02034981``)."""
    return normalise_nct(value) == value


def study_iri(nct_id: str) -> str:
    return f"{ID}study/{nct_id}"


def cohort_iri(nct_id: str, number: int) -> str:
    return f"{ID}study/{nct_id}/cohort/{number}"


def sparql_string(text: str) -> str:
    """``text`` as a quoted SPARQL/Turtle string literal, every special character escaped.

    One escaper for all code that writes user text into a query or Turtle: the
    N-Triples form (quotes, backslashes, \\n, \\r, \\t and other control
    characters escaped) is valid in SPARQL and Turtle alike, so no text can end
    the literal early or break the query.
    """
    import pyoxigraph as ox

    return str(ox.Literal(text))
