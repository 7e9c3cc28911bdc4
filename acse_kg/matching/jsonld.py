"""The published JSON-LD context: the same profile document is also RDF.

Each contract field becomes a property in the profile vocabulary
(``https://w3id.org/acse-kg/profile#``); nested objects (``labs``,
``history``, ``performance``) become nodes, so ``labs.anc`` is the property
path ``prof:labs/prof:anc`` — which is what the SHACL shapes walk. Three
values become IRIs through scoped contexts: the diagnosis is an OncoTree
class (so ``rdfs:subClassOf*`` reaches the cohort's pathology), the gene is
``id:gene/SYMBOL``, and the alteration type is the ontology's individual.
The alteration words and the list fields come from the graph (see
profile_schema.py): ``build_context`` is given them; ``context()`` is the
bundled graph's.
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


def build_context(alteration_types: dict[str, str], lists: dict[str, str]) -> dict[str, Any]:
    """The JSON-LD 1.1 context of a profile whose graph has these alteration words and list fields.

    ``alteration_types``: every word a profile may write as an alteration type
    (profile terms and their synonyms) -> the type's IRI or ``acse:`` CURIE;
    ``lists``: list field -> the property each item hangs from (``alterations``
    -> ``alteration``), each a set of nodes.
    """
    ctx: dict[str, Any] = {
        "@version": 1.1,
        "@vocab": str(PROF),
        "acse": str(ACSE),
        "xsd": "http://www.w3.org/2001/XMLSchema#",
        "id": {"@id": "profileId"},
        # An OncoTree code is a class under onco:; an NCIt code (NCIT:C3512) is the NCIt class,
        # which the graph links to OncoTree with skos:exactMatch.
        "diagnosis": {"@type": "@vocab", "@context": {"@vocab": str(ONCO), "NCIT": NCIT_PREFIX}},
    }
    for name, prop in lists.items():
        ctx[name] = {"@id": prop, "@container": "@set"}
    ctx["gene"] = {"@type": "@vocab", "@context": {"@vocab": f"{ID}gene/"}}
    ctx["type"] = {"@id": "alterationType", "@type": "@vocab", "@context": dict(alteration_types)}
    return {"@context": ctx}


def context() -> dict[str, Any]:
    """The JSON-LD context of the bundled graph's profile (a store's own: ``profile_schema(store).context()``)."""
    from .profile_schema import bundled_schema

    return bundled_schema().context()


def profile_document(normalised: dict[str, Any], ctx: dict[str, Any] | None = None) -> dict[str, Any]:
    """The profile (already validated and normalised) as a JSON-LD document."""
    return {**(ctx or context()), **normalised}


def to_graph(documents: list[dict[str, Any]], graph: rdflib.Graph | None = None,
             ctx: dict[str, Any] | None = None) -> rdflib.Graph:
    """Parse normalised profiles through the context into one RDF graph (one node each)."""
    g = graph if graph is not None else rdflib.Graph()
    payload = {"@context": (ctx or context())["@context"], "@graph": documents}
    g.parse(data=json.dumps(payload), format="json-ld")
    return g
