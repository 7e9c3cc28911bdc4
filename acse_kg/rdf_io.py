"""Writing RDF for people and clients: the registry's prefixes in every Turtle, JSON-LD compacted by them.

One place, so that the CLI, the linked-data pages, the dumps and the SPARQL
service description write the same document for the same graph.
"""

from __future__ import annotations

import rdflib

from .namespaces import PREFIXES

#: rdflib's name for each RDF format name the registry uses.
RDFLIB_FORMAT = {"turtle": "turtle", "ntriples": "nt", "jsonld": "json-ld", "rdfxml": "xml"}

#: The JSON-LD context of every document the registry writes: its prefixes. Only namespaces ending in
#: "/" or "#" qualify: JSON-LD 1.1 expands ``p:x`` with a plain term only then (so ncit:/so: are left out
#: and those IRIs compact with obo:).
JSONLD_CONTEXT: dict[str, str] = {p: ns for p, ns in PREFIXES.items() if ns.endswith(("/", "#"))}


def serialize_rdf(g: rdflib.Graph, fmt: str) -> bytes:
    """``g`` in a format of :data:`RDFLIB_FORMAT`, with the registry's prefixes (JSON-LD compacted by them)."""
    for prefix, ns in PREFIXES.items():
        g.bind(prefix, ns, override=True)
    if fmt == "jsonld":
        return g.serialize(format="json-ld", context=JSONLD_CONTEXT, auto_compact=True, encoding="utf-8")
    return g.serialize(format=RDFLIB_FORMAT[fmt], encoding="utf-8")
