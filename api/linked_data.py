"""Linked data: every IRI the registry mints dereferences on this server.

``https://w3id.org/acse-kg/<path>`` is served at ``/<path>``: ``/id/...`` gives
the description of that resource (HTML for a browser, Turtle / JSON-LD /
N-Triples / RDF/XML by ``Accept``), ``/ontology`` the ontology (Turtle, or
HTML documentation generated from it by pyLODE), ``/dumps/...`` the whole
graph, ``/.well-known/void`` a VoID description. All of it is read from the
store by SPARQL at request time (or cached against a fingerprint of the
store), so nothing here can drift from the graph.
"""

from __future__ import annotations

import gzip
import html
import re
import threading
from collections.abc import Callable
from typing import Any

import pyoxigraph as ox
import rdflib
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from rdflib.namespace import DCTERMS, RDF, VOID
from starlette.concurrency import run_in_threadpool

from acse_kg import __version__
from acse_kg.namespaces import ACSE, BASE, PREFIXES
from acse_kg.store import GraphStore, HISTORY_PREFIX

from .negotiation import CONTENT_TYPE, RDF_MEDIA, choose

router = APIRouter(tags=["linked data"])

_LD_MEDIA: dict[str, str] = {"text/html": "html", "application/xhtml+xml": "html", **RDF_MEDIA}
_LD_MEDIA_RDF_FIRST: dict[str, str] = {**RDF_MEDIA, "text/html": "html", "application/xhtml+xml": "html"}
_RDFLIB_FORMAT = {"turtle": "turtle", "ntriples": "nt", "jsonld": "json-ld", "rdfxml": "xml"}
_UNSAFE_IRI = re.compile(r'[\x00-\x20<>"{}|^`\\]')
ONTOLOGY_IRI = BASE + "ontology"
DATASET_IRI = BASE + ".well-known/void#dataset"

DUMPS: dict[str, tuple[str, bool]] = {
    # file name -> (store dump format, include history graphs)
    "acse-kg.ttl.gz": ("turtle", False),
    "acse-kg.nt.gz": ("ntriples", False),
    "acse-kg.jsonld.gz": ("jsonld", False),
    "acse-kg.nq.gz": ("nquads", True),
}


# ---------------------------------------------------------------- helpers
class _Cache:
    """Values derived from the store, recomputed when the store's fingerprint changes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[tuple[int, str], tuple[Any, Any]] = {}

    def get(self, store: GraphStore, key: str, make: Callable[[], Any]) -> Any:
        fingerprint = (len(store), tuple(store.named_graphs()))
        slot = (id(store), key)
        with self._lock:
            hit = self._values.get(slot)
            if hit and hit[0] == fingerprint:
                return hit[1]
        value = make()
        with self._lock:
            self._values[slot] = (fingerprint, value)
        return value


_cache = _Cache()


def local_href(iri: str) -> str:
    """Where an IRI is served: registry IRIs become paths on this server, others stay as they are."""
    return "/" + iri[len(BASE):] if iri.startswith(BASE) else iri


def _valid_iri(iri: str) -> bool:
    """Only a well-formed IRI is put into a query (the path comes straight from the caller)."""
    if _UNSAFE_IRI.search(iri):
        return False
    try:
        ox.NamedNode(iri)
    except ValueError:
        return False
    return True


def _negotiate(request: Request, rdf_first: bool = False) -> str | None:
    return choose(request.headers.get("accept"), _LD_MEDIA_RDF_FIRST if rdf_first else _LD_MEDIA)


def _not_acceptable() -> PlainTextResponse:
    return PlainTextResponse(
        "no acceptable format; this resource is offered as: " + ", ".join(_LD_MEDIA) + "\n", status_code=406
    )


def _qname(iri: str) -> str:
    for prefix, ns in PREFIXES.items():
        if iri.startswith(ns) and len(iri) > len(ns):
            return f"{prefix}:{iri[len(ns):]}"
    return iri


def _term_html(term: Any) -> str:
    if isinstance(term, rdflib.URIRef):
        return f'<a href="{html.escape(local_href(str(term)))}">{html.escape(_qname(str(term)))}</a>'
    if isinstance(term, rdflib.BNode):
        return f"<code>_:{html.escape(str(term))}</code>"
    if isinstance(term, rdflib.Literal):
        text = html.escape(str(term))
        if term.language:
            return f'{text} <small>@{html.escape(term.language)}</small>'
        if term.datatype:
            return f"{text} <small>^^{html.escape(_qname(str(term.datatype)))}</small>"
        return text
    return html.escape(str(term))


def _page(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)} — acse-kg</title>"
        "<style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:70rem}"
        "table{border-collapse:collapse;width:100%}td,th{border:1px solid #ccc;padding:.3rem .5rem;"
        "text-align:left;vertical-align:top}th{background:#f3f3f3}small{color:#666}</style></head><body>"
        f"<nav><a href=\"/sparql\">SPARQL</a> · <a href=\"/ontology\">ontology</a> · "
        f"<a href=\"/.well-known/void\">dataset</a></nav>{body}</body></html>"
    )


_PAGE_PATH = re.compile(r"^study/(NCT\d{8})(?:/cohort/(\d+))?$")


def page_href(path: str) -> str | None:
    """The human page of a study or cohort IRI (path under id/), which the generic view links to."""
    m = _PAGE_PATH.match(path)
    if not m:
        return None
    return f"/study/{m.group(1)}" + (f"/cohort/{m.group(2)}" if m.group(2) else "")


def resource_html(iri: str, outgoing: rdflib.Graph, incoming: rdflib.Graph, page: str | None = None) -> str:
    """A table of the resource's triples, links rewritten to this server."""
    esc = html.escape(iri)
    rows = "".join(
        f"<tr><td>{_term_html(p)}</td><td>{_term_html(o)}</td></tr>"
        for _, p, o in sorted(outgoing.triples((rdflib.URIRef(iri), None, None)), key=lambda t: (str(t[1]), str(t[2])))
    )
    others = "".join(
        f"<tr><td>{_term_html(s)}</td><td>{_term_html(p)}</td><td>{_term_html(o)}</td></tr>"
        for s, p, o in sorted(outgoing, key=lambda t: (str(t[0]), str(t[1]), str(t[2])))
        if s != rdflib.URIRef(iri)
    )
    back = "".join(
        f"<tr><td>{_term_html(s)}</td><td>{_term_html(p)}</td></tr>"
        for s, p, _ in sorted(incoming, key=lambda t: (str(t[1]), str(t[0])))
    )
    label = next((str(o) for o in outgoing.objects(rdflib.URIRef(iri), rdflib.RDFS.label)), None)
    body = f"<h1>{html.escape(label or _qname(iri))}</h1><p><code>{esc}</code></p>"
    if page:
        body += f'<p>Read it as a page: <a href="{html.escape(page)}">{html.escape(page)}</a></p>'
    body += f"<h2>Properties</h2><table><tr><th>property</th><th>value</th></tr>{rows}</table>"
    if others:
        body += f"<h2>Nested</h2><table><tr><th>subject</th><th>property</th><th>value</th></tr>{others}</table>"
    if back:
        body += f"<h2>Referenced by</h2><table><tr><th>subject</th><th>property</th></tr>{back}</table>"
    alt = " · ".join(
        f'<a href="?format={n}">{n}</a>' for n in ("turtle", "jsonld", "ntriples", "rdfxml")
    )
    body += f"<p><small>Also as {alt} (or ask by Accept).</small></p>"
    return _page(label or _qname(iri), body)


# ---------------------------------------------------------------- resources
@router.get("/id/{path:path}", summary="Dereference a registry IRI (https://w3id.org/acse-kg/id/...)")
async def resource(request: Request, path: str, format: str | None = None) -> Response:
    iri = BASE + "id/" + path
    if not _valid_iri(iri):
        return PlainTextResponse(f"not a registry IRI: {iri}\n", status_code=404)
    fmt = format if format in _RDFLIB_FORMAT or format == "html" else _negotiate(request)
    if fmt is None:
        return _not_acceptable()
    store: GraphStore = request.app.state.store

    def describe() -> tuple[bool, rdflib.Graph, rdflib.Graph]:
        known = store.ask(f"ASK {{ {{ <{iri}> ?p ?o }} UNION {{ ?s ?p <{iri}> }} }}")
        if not known:
            return False, rdflib.Graph(), rdflib.Graph()
        out = store.construct(f"DESCRIBE <{iri}>")
        inc = (
            store.construct(f"CONSTRUCT {{ ?s ?p <{iri}> }} WHERE {{ ?s ?p <{iri}> }} LIMIT 2000")
            if fmt == "html"
            else rdflib.Graph()
        )
        return True, out, inc

    known, out, inc = await run_in_threadpool(describe)
    if not known:
        return PlainTextResponse(f"unknown IRI: {iri}\n", status_code=404)
    headers = {"Vary": "Accept", "Link": f'<{iri}>; rel="canonical"'}
    if fmt == "html":
        return HTMLResponse(resource_html(iri, out, inc, page_href(path)), headers=headers)
    return _rdf_response(out, fmt, headers)


def _rdf_response(g: rdflib.Graph, fmt: str, headers: dict[str, str]) -> Response:
    for prefix, ns in PREFIXES.items():
        g.bind(prefix, ns, override=True)
    body = g.serialize(format=_RDFLIB_FORMAT[fmt], encoding="utf-8")
    return Response(body, media_type=CONTENT_TYPE[fmt], headers=headers)


# ---------------------------------------------------------------- ontology
def _ontology_graph(store: GraphStore) -> rdflib.Graph:
    rows = store.select(
        "PREFIX owl: <http://www.w3.org/2002/07/owl#>\n"
        f"SELECT DISTINCT ?g WHERE {{ GRAPH ?g {{ <{ONTOLOGY_IRI}> a owl:Ontology }} }}"
    )
    g = rdflib.Graph()
    for row in rows:
        name = str(row["g"])
        if not name.startswith(HISTORY_PREFIX):
            g += store.graph(name)
    return g


@router.get("/ontology", summary="The ontology: HTML documentation (pyLODE) or RDF by Accept")
async def ontology(request: Request, format: str | None = None) -> Response:
    fmt = format if format in _RDFLIB_FORMAT or format == "html" else _negotiate(request)
    if fmt is None:
        return _not_acceptable()
    store: GraphStore = request.app.state.store
    g = await run_in_threadpool(_cache.get, store, "ontology-graph", lambda: _ontology_graph(store))
    if len(g) == 0:
        return PlainTextResponse("the store holds no ontology\n", status_code=404)
    headers = {"Vary": "Accept", "Link": f'<{ONTOLOGY_IRI}>; rel="canonical"'}
    if fmt != "html":
        return _rdf_response(g, fmt, headers)
    doc = await run_in_threadpool(_cache.get, store, "ontology-html", lambda: ontology_html(g))
    return HTMLResponse(doc, headers=headers)


def ontology_html(g: rdflib.Graph) -> str:
    """Documentation generated from the ontology by pyLODE, with registry links made local."""
    from pylode import OntPub

    doc = OntPub(ontology=g).make_html(include_css=True)
    return doc.replace(f'href="{ACSE}', 'href="#').replace(f'href="{BASE}', 'href="/')


# ---------------------------------------------------------------- dumps and VoID
@router.get("/dumps/{name}", summary="The whole graph, gzipped (Turtle, N-Triples, JSON-LD; N-Quads with history)")
async def dump(request: Request, name: str) -> Response:
    if name not in DUMPS:
        return PlainTextResponse(f"no dump {name!r}; available: {', '.join(DUMPS)}\n", status_code=404)
    fmt, history = DUMPS[name]
    store: GraphStore = request.app.state.store

    def make() -> bytes:
        return gzip.compress(store.dump(fmt, include_history=history), mtime=0)

    body = await run_in_threadpool(_cache.get, store, "dump-" + name, make)
    return Response(
        body,
        media_type="application/gzip",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def void_graph(store: GraphStore) -> rdflib.Graph:
    """The VoID description, counted from the store by SPARQL."""
    ds = rdflib.URIRef(DATASET_IRI)
    g = rdflib.Graph()
    g.bind("void", VOID)
    g.bind("dcterms", DCTERMS)
    total = store.select(
        "SELECT (COUNT(*) AS ?t) (COUNT(DISTINCT ?s) AS ?s_) (COUNT(DISTINCT ?p) AS ?p_) WHERE { ?s ?p ?o }"
    ).rows[0]
    classes = store.select("SELECT (COUNT(DISTINCT ?c) AS ?n) WHERE { ?x a ?c }").rows[0]["n"]
    g.add((ds, RDF.type, VOID.Dataset))
    g.add((ds, DCTERMS.title, rdflib.Literal("acse-kg: a registry of precision-oncology basket trials", lang="en")))
    g.add((ds, DCTERMS.hasVersion, rdflib.Literal(__version__)))
    g.add((ds, VOID.triples, total["t"]))
    g.add((ds, VOID.distinctSubjects, total["s_"]))
    g.add((ds, VOID.properties, total["p_"]))
    g.add((ds, VOID.classes, classes))
    g.add((ds, VOID.uriSpace, rdflib.Literal(BASE + "id/")))
    g.add((ds, VOID.vocabulary, rdflib.URIRef(str(ACSE))))
    g.add((ds, VOID.sparqlEndpoint, rdflib.URIRef(BASE + "sparql")))
    g.add((ds, VOID.rootResource, rdflib.URIRef(ONTOLOGY_IRI)))
    for name in DUMPS:
        g.add((ds, VOID.dataDump, rdflib.URIRef(BASE + "dumps/" + name)))
    for row in store.select(
        "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g ORDER BY ?g"
    ):
        name = str(row["g"])
        if name.startswith(HISTORY_PREFIX):
            continue
        sub = rdflib.URIRef(name)
        g.add((ds, VOID.subset, sub))
        g.add((sub, RDF.type, VOID.Dataset))
        g.add((sub, VOID.triples, row["n"]))
    return g


@router.get("/.well-known/void", summary="VoID description of the dataset (Turtle by default)")
async def void(request: Request) -> Response:
    fmt = _negotiate(request, rdf_first=True)
    if fmt is None:
        return _not_acceptable()
    store: GraphStore = request.app.state.store
    g = await run_in_threadpool(_cache.get, store, "void", lambda: void_graph(store))
    if fmt == "html":
        rows = "".join(
            f"<tr><td>{_term_html(s)}</td><td>{_term_html(p)}</td><td>{_term_html(o)}</td></tr>"
            for s, p, o in sorted(g, key=lambda t: (str(t[0]), str(t[1]), str(t[2])))
        )
        return HTMLResponse(
            _page("dataset", f"<h1>The acse-kg dataset</h1><table>{rows}</table>"), headers={"Vary": "Accept"}
        )
    return _rdf_response(g, fmt, {"Vary": "Accept"})
