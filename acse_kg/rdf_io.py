"""Writing RDF for people and clients: the registry's prefixes in every Turtle, JSON-LD compacted by them.

One place, so that the CLI, the linked-data pages, the dumps and the SPARQL
service description write the same document for the same graph.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import pyoxigraph as ox
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


#: A local name that reads back as itself in Turtle and SPARQL with no escape: letters, digits,
#: ``_`` and ``-`` (and ``.`` inside). Anything else (``/`` above all: ``study:NCT02034981/cohort/5``
#: would need ``study:NCT02034981\/cohort\/5``) stays a plain IRI, which reads better.
_PLAIN_LOCAL = re.compile(rb"[A-Za-z0-9_](?:[A-Za-z0-9_.\-]*[A-Za-z0-9_\-])?")

#: In Oxigraph's Turtle without prefixes: a string literal (always one line, ``"`` and ``\`` escaped),
#: to be left alone, or an IRI.
_TOKEN = re.compile(rb'"[^"\\\n]*(?:\\.[^"\\\n]*)*"|<([^<>"\s]*)>')

#: The registry's namespaces, the most specific first (onco: before id:), as bytes.
_NAMESPACES = sorted(((p.encode(), ns.encode()) for p, ns in PREFIXES.items()), key=lambda pn: -len(pn[1]))


def readable_turtle(triples: Iterable[ox.Triple]) -> bytes:
    """Turtle with the registry's prefixes where a plain local name fits, else the plain IRI.

    Why not Oxigraph's own ``prefixes=``: it compacts every IRI under a prefix and escapes what
    a local name cannot hold, so a cohort reads ``study:NCT02034981\\/cohort\\/5``. Here the
    document is written with full IRIs and each IRI is compacted only when its local name is
    plain; only the prefixes used are declared.
    """
    body = ox.serialize(triples, format=ox.RdfFormat.TURTLE)
    if body is None:
        raise ValueError("the Turtle serialiser wrote nothing")
    used: set[bytes] = set()
    compacted: dict[bytes, bytes] = {}

    def compact(m: re.Match[bytes]) -> bytes:
        iri = m.group(1)
        if iri is None:  # a string literal
            return m.group(0)
        short = compacted.get(iri)
        if short is None:
            short = m.group(0)
            for prefix, ns in _NAMESPACES:
                if iri.startswith(ns) and _PLAIN_LOCAL.fullmatch(iri, len(ns)):
                    short = prefix + b":" + iri[len(ns):]
                    used.add(prefix)
                    break
            compacted[iri] = short
        return short

    body = _TOKEN.sub(compact, body)
    head = b"".join(b"@prefix %s: <%s> .\n" % (p.encode(), ns.encode()) for p, ns in PREFIXES.items()
                    if p.encode() in used)
    return head + (b"\n" if head else b"") + body
