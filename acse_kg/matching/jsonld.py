"""The published JSON-LD context: the same profile document is also RDF.

Each contract field becomes a property in the profile vocabulary
(``https://w3id.org/acse-kg/profile#``); nested objects (``labs``,
``history``, ``performance``) become nodes, so ``labs.anc`` is the property
path ``prof:labs/prof:anc`` — which is what the SHACL shapes walk. Three
values become IRIs through scoped contexts: the diagnosis is an OncoTree
class (so ``rdfs:subClassOf*`` reaches the cohort's pathology), the gene is
``id:gene/SYMBOL``, and the alteration type is the ontology's individual.
"""

from __future__ import annotations

import json
from typing import Any

import rdflib

from ..namespaces import ACSE, ID, ONCO

PROF = rdflib.Namespace("https://w3id.org/acse-kg/profile#")
CONTEXT_URL = "https://w3id.org/acse-kg/context/tumor-profile.jsonld"
NCIT = "http://purl.obolibrary.org/obo/NCIT_"
NCIT_PREFIX = {"@id": NCIT, "@prefix": True}

#: Contract word -> ontology individual (synonyms of translocation included).
ALTERATION_TERMS = {
    "amplification": "acse:Amplification",
    "mutation": "acse:Mutation",
    "translocation": "acse:Translocation",
    "fusion": "acse:Translocation",
    "rearrangement": "acse:Translocation",
    "overexpression": "acse:Overexpression",
}


def context() -> dict[str, Any]:
    """The JSON-LD 1.1 context of the tumor profile (served at GET /match/context)."""
    return {
        "@context": {
            "@version": 1.1,
            "@vocab": str(PROF),
            "acse": str(ACSE),
            "xsd": "http://www.w3.org/2001/XMLSchema#",
            "id": {"@id": "profileId"},
            # An OncoTree code is a class under onco:; an NCIt code (NCIT:C3512) is the NCIt class,
            # which the graph links to OncoTree with skos:exactMatch.
            "diagnosis": {"@type": "@vocab", "@context": {"@vocab": str(ONCO), "NCIT": NCIT_PREFIX}},
            "alterations": {"@id": "alteration", "@container": "@set"},
            "gene": {"@type": "@vocab", "@context": {"@vocab": f"{ID}gene/"}},
            "type": {"@id": "alterationType", "@type": "@vocab", "@context": dict(ALTERATION_TERMS)},
        }
    }


def profile_document(normalised: dict[str, Any]) -> dict[str, Any]:
    """The profile (already validated and normalised) as a JSON-LD document."""
    return {**context(), **normalised}


def to_graph(documents: list[dict[str, Any]], graph: rdflib.Graph | None = None) -> rdflib.Graph:
    """Parse normalised profiles through the context into one RDF graph (one node each)."""
    g = graph if graph is not None else rdflib.Graph()
    ctx = context()["@context"]
    payload = {"@context": ctx, "@graph": documents}
    g.parse(data=json.dumps(payload), format="json-ld")
    return g
