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

import functools
import gzip
import html
import re
from typing import Any

import pyoxigraph as ox
import rdflib
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from rdflib.namespace import DCTERMS, OWL, RDF, RDFS, VOID
from starlette.concurrency import run_in_threadpool

from acse_kg import __version__
from acse_kg.derived import DerivedCache
from acse_kg.namespaces import ACSE, BASE, PREFIXES, compact_iri
from acse_kg.paths import ONTOLOGY_DIR
from acse_kg.rdf_io import RDFLIB_FORMAT, serialize_rdf
from acse_kg.store import GraphStore, is_live_graph

from .errors import ApiError
from .negotiation import CONTENT_TYPE, RDF_MEDIA, choose

router = APIRouter(tags=["linked data"])

_LD_MEDIA: dict[str, str] = {"text/html": "html", "application/xhtml+xml": "html", **RDF_MEDIA}
_LD_MEDIA_RDF_FIRST: dict[str, str] = {**RDF_MEDIA, "text/html": "html", "application/xhtml+xml": "html"}
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
_cache = DerivedCache()


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


def _not_acceptable() -> ApiError:
    return ApiError("no acceptable format; this resource is offered as: " + ", ".join(_LD_MEDIA), status=406)


def _qname(iri: str) -> str:
    return compact_iri(iri) or iri


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


#: The registry's services in the site header, as the study pages list them (acse_kg/pages' base template).
SITE_SERVICES: tuple[tuple[str, str], ...] = (
    ("SPARQL", "/sparql"),
    ("Ontology", "/ontology"),
    ("Data dump", "/dumps/acse-kg.ttl.gz"),
    ("API docs", "/docs"),
)
_STUDY_IRI = re.compile("^" + re.escape(BASE) + r"id/study/(NCT\d{8})$")


def site_header(study: str | None = None) -> str:
    """The study pages' header (``header.site`` of style.css): home, the study, the registry's services."""
    items = [f'<li><a class="nav-study" href="/study/{study}">Study {study}</a></li>'] if study else []
    items += [f'<li><a class="nav-service" href="{href}">{label}</a></li>' for label, href in SITE_SERVICES]
    return (
        '<header class="site"><nav class="site-nav" aria-label="Site"><a class="brand" href="/">acse-kg registry</a>'
        f'<ul class="site-links">{"".join(items)}</ul></nav></header>'
    )


def registry_studies(store: GraphStore) -> list[str]:
    """NCT numbers of the studies in the store (cached against the store's fingerprint)."""

    def make() -> list[str]:
        rows = store.select("SELECT DISTINCT ?s WHERE { ?s a/rdfs:subClassOf* acse:Study }").values("s")
        return sorted(m.group(1) for m in map(_STUDY_IRI.match, map(str, rows)) if m)

    return _cache.get(store, "studies", make)


def nav_study(store: GraphStore, path: str | None = None) -> str | None:
    """The study a page's header links to: the one the page is about, else the registry's only study."""
    m = _PAGE_PATH.match(path or "")
    if m:
        return m.group(1)
    studies = registry_studies(store)
    return studies[0] if len(studies) == 1 else None


def _page(title: str, body: str, study: str | None = None) -> str:
    """A generated page in the site's layout and stylesheet (the one the study pages use)."""
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{html.escape(title)} — acse-kg</title><link rel=\"icon\" href=\"data:,\">"
        "<link rel=\"stylesheet\" href=\"/static/style.css\">"
        "<style>table.triples td,table.triples th{border:1px solid var(--line,#ccc)}small{color:#666}</style>"
        f"</head><body>{site_header(study)}<main id=\"main\">{body}</main></body></html>"
    )


_PAGE_PATH = re.compile(r"^study/(NCT\d{8})(?:/cohort/(\d+))?$")


def page_href(path: str) -> str | None:
    """The human page of a study or cohort IRI (path under id/), which the generic view links to."""
    m = _PAGE_PATH.match(path)
    if not m:
        return None
    return f"/study/{m.group(1)}" + (f"/cohort/{m.group(2)}" if m.group(2) else "")


def resource_html(
    iri: str, outgoing: rdflib.Graph, incoming: rdflib.Graph, page: str | None = None, study: str | None = None
) -> str:
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
    body += f"<h2>Properties</h2><table class=\"triples\"><tr><th>property</th><th>value</th></tr>{rows}</table>"
    if others:
        body += f"<h2>Nested</h2><table class=\"triples\"><tr><th>subject</th><th>property</th><th>value</th></tr>{others}</table>"
    if back:
        body += f"<h2>Referenced by</h2><table class=\"triples\"><tr><th>subject</th><th>property</th></tr>{back}</table>"
    alt = " · ".join(
        f'<a href="?format={n}">{n}</a>' for n in ("turtle", "jsonld", "ntriples", "rdfxml")
    )
    body += f"<p><small>Also as {alt} (or ask by Accept).</small></p>"
    return _page(label or _qname(iri), body, study)


# ---------------------------------------------------------------- resources
@router.get("/id/{path:path}", summary="Dereference a registry IRI (https://w3id.org/acse-kg/id/...)")
async def resource(request: Request, path: str, format: str | None = None) -> Response:
    """Every registry IRI answers: a browser gets the resource's page (or is sent to the study page that
    shows it), an RDF client its triples by `Accept` or `?format=` (turtle, ntriples, jsonld, rdfxml)."""
    iri = BASE + "id/" + path
    if not _valid_iri(iri):
        raise ApiError(f"not a registry IRI: {iri}", status=404)
    fmt = format if format in RDFLIB_FORMAT or format == "html" else _negotiate(request)
    if fmt is None:
        raise _not_acceptable()
    store: GraphStore = request.app.state.store

    def describe() -> tuple[bool, rdflib.Graph, rdflib.Graph, str | None]:
        known = store.ask(f"ASK {{ {{ <{iri}> ?p ?o }} UNION {{ ?s ?p <{iri}> }} }}")
        if not known:
            return False, rdflib.Graph(), rdflib.Graph(), None
        out = store.construct(f"DESCRIBE <{iri}>")
        inc = (
            store.construct(f"CONSTRUCT {{ ?s ?p <{iri}> }} WHERE {{ ?s ?p <{iri}> }} LIMIT 2000")
            if fmt == "html"
            else rdflib.Graph()
        )
        return True, out, inc, nav_study(store, path) if fmt == "html" else None

    known, out, inc, study = await run_in_threadpool(describe)
    if not known:
        raise ApiError(f"unknown IRI: {iri}", status=404)
    headers = {"Vary": "Accept", "Link": f'<{iri}>; rel="canonical"'}
    if fmt == "html":
        return HTMLResponse(resource_html(iri, out, inc, page_href(path), study), headers=headers)
    return _rdf_response(out, fmt, headers)


def _rdf_response(g: rdflib.Graph, fmt: str, headers: dict[str, str]) -> Response:
    return Response(serialize_rdf(g, fmt), media_type=CONTENT_TYPE[fmt], headers=headers)


# ---------------------------------------------------------------- ontology
def _ontology_graph(store: GraphStore) -> rdflib.Graph:
    """Every live graph that holds the ontology: the core and its extensions (all acse: terms)."""
    rows = store.select(
        "PREFIX owl: <http://www.w3.org/2002/07/owl#>\n"
        f"SELECT DISTINCT ?g WHERE {{ GRAPH ?g {{ <{ONTOLOGY_IRI}> a owl:Ontology }} }}"
    )
    g = rdflib.Graph()
    for row in rows:
        name = str(row["g"])
        if is_live_graph(name):
            g += store.graph(name)
    return g


def _copy(g: rdflib.Graph) -> rdflib.Graph:
    """A new graph with ``g``'s triples and the registry's prefixes (pyLODE adds triples to what it is given)."""
    out = rdflib.Graph()
    for prefix, ns in PREFIXES.items():
        out.bind(prefix, ns, override=True)
    for t in g:
        out.add(t)
    return out


@functools.lru_cache(maxsize=8)
def _file_subjects(ontology_iri: str) -> frozenset[str]:
    """The terms an extension's source file (ontology/<last segment>.ttl) defines.

    The ontology files share one named graph and one namespace, so the graph
    alone does not say which term belongs to which ontology unless the terms
    carry ``rdfs:isDefinedBy``; until then the file the loader read says it.
    """
    path = ONTOLOGY_DIR / (ontology_iri.rstrip("/").rsplit("/", 1)[-1] + ".ttl")
    if not path.is_file():
        return frozenset()
    return frozenset(str(s) for s in rdflib.Graph().parse(path, format="turtle").subjects()
                     if isinstance(s, rdflib.URIRef))


def split_ontology(g: rdflib.Graph) -> dict[str, rdflib.Graph]:
    """The ontology graph cut into one graph per ``owl:Ontology`` (core first), for separate documentation.

    A term belongs to an extension when it says so (``rdfs:isDefinedBy``) or
    its source file defines it; everything else is the core's. Blank nodes go
    with the term that uses them (restrictions, lists).
    """
    extensions = sorted(str(o) for o in g.subjects(RDF.type, OWL.Ontology) if str(o) != ONTOLOGY_IRI)
    owner: dict[rdflib.term.Node, str] = {}
    for ext in extensions:
        members = set(_file_subjects(ext)) | {ext}
        members |= {str(s) for s in g.subjects(RDFS.isDefinedBy, rdflib.URIRef(ext))}
        for iri in members:
            owner[rdflib.URIRef(iri)] = ext
    parts = {iri: _copy(rdflib.Graph()) for iri in (ONTOLOGY_IRI, *extensions)}

    def add(subject: rdflib.term.Node, target: rdflib.Graph, seen: set[rdflib.term.Node]) -> None:
        for s, p, o in g.triples((subject, None, None)):
            target.add((s, p, o))
            if isinstance(o, rdflib.BNode) and o not in seen:
                seen.add(o)
                add(o, target, seen)

    placed: set[rdflib.term.Node] = set()
    for subject in set(g.subjects()):
        if isinstance(subject, rdflib.URIRef):
            add(subject, parts[owner.get(subject, ONTOLOGY_IRI)], placed)
    for subject in set(g.subjects()):  # blank nodes no term refers to: the core's
        if isinstance(subject, rdflib.BNode) and subject not in placed:
            add(subject, parts[ONTOLOGY_IRI], placed)
    return parts


def ontology_doc_path(ontology_iri: str) -> str:
    """Where an ontology's documentation is served: /ontology, /ontology/ctgov ..."""
    return local_href(ontology_iri)


_ENTITY = re.compile(r'<div class="[^"]*\bentity\b[^"]*" id="([^"]+)">.*?<code>([^<]+)</code>', re.S)
_HREF = re.compile(r'href="(' + re.escape(BASE) + r'[^"]*)"')
_FRAGMENT_LINK = re.compile(r'<a href="#([^"]*)">(' + re.escape(BASE) + r'[^<"]*)</a>')


def ontology_docs(
    g: rdflib.Graph, examples: list[dict[str, str]] | None = None, study: str | None = None
) -> dict[str, str]:
    """HTML documentation of each ontology in ``g`` (ontology IRI -> page), by pyLODE, linked to each other.

    pyLODE gets a copy of each part, since it adds its own documentation
    triples to the graph it is given. A term's link leads to its entry on
    whichever page documents it; other registry IRIs become paths here.
    """
    from pylode import OntPub

    parts = split_ontology(g)
    raw: dict[str, str] = {}
    anchors: dict[str, str] = {}  # term IRI -> page path#anchor
    for iri, part in parts.items():
        copy = _copy(part)
        node = rdflib.URIRef(iri)
        if (node, DCTERMS.title, None) in copy:  # pyLODE runs dcterms:title and rdfs:label together as the title
            copy.remove((node, RDFS.label, None))
        raw[iri] = OntPub(ontology=copy).make_html(include_css=True)
        for anchor, term in _ENTITY.findall(raw[iri]):
            anchors.setdefault(html.unescape(term.strip()), f"{ontology_doc_path(iri)}#{anchor}")

    def link(m: re.Match[str], here: str) -> str:
        target = html.unescape(m.group(1))
        where = anchors.get(target)
        if where is None:
            return f'href="{html.escape(local_href(target))}"'
        path, _, anchor = where.partition("#")
        return f'href="#{anchor}"' if path == here else f'href="{html.escape(where)}"'

    def fragment(m: re.Match[str], ids: set[str]) -> str:
        return m.group(0) if m.group(1) in ids else f'<a href="{html.escape(local_href(m.group(2)))}">{m.group(2)}</a>'

    docs = {}
    for iri, page in raw.items():
        page = _HREF.sub(functools.partial(link, here=ontology_doc_path(iri)), page)
        # pyLODE links a version IRI to a fragment no entry has: serve it instead
        page = _FRAGMENT_LINK.sub(functools.partial(fragment, ids=set(re.findall(r' id="([^"]+)"', page))), page)
        page = page.replace("<head>", '<head>\n<meta charset="utf-8"><link rel="icon" href="data:,">', 1)
        page = page.replace("</head>", f"<style>{_PREFACE_CSS}</style></head>", 1)
        # The site header on top; the preface after pyLODE's metadata (title, IRI), before the terms.
        page = page.replace('<div id="content">', '<div id="content">' + site_header(study), 1)
        sections = [m.start() for m in re.finditer(r'<div class="section" id="', page)]
        at = sections[1] if len(sections) > 1 else page.index('<div id="content">') + len('<div id="content">')
        page = page[:at] + _preface(iri, parts, examples or []) + page[at:]
        docs[iri] = page
    return docs


def ontology_html(g: rdflib.Graph) -> str:
    """The core ontology's documentation page (see :func:`ontology_docs`)."""
    return ontology_docs(g)[ONTOLOGY_IRI]


_PREFACE_CSS = (  # the site header's look (style.css is not linked: it would restyle pyLODE's text)
    "header.site{background:#1d2430;margin:0 0 1rem;padding:.6rem 1rem;font-family:system-ui,sans-serif}"
    "header.site a{color:#fff;text-decoration:none}header.site .brand{font-weight:700;margin-right:auto}"
    "nav.site-nav{display:flex;flex-wrap:wrap;align-items:baseline;gap:.3rem 1.5rem}"
    "ul.site-links{display:flex;flex-wrap:wrap;gap:.2rem 1.1rem;margin:0;padding:0;list-style:none}"
    "section.preface table{border-collapse:collapse}"
    "section.preface td,section.preface th{border:1px solid #ccc;padding:.2rem .5rem;text-align:left}"
)


def _title(part: rdflib.Graph, iri: str) -> str:
    node = rdflib.URIRef(iri)
    return str(part.value(node, DCTERMS.title) or part.value(node, RDFS.label) or iri)


def _preface(iri: str, parts: dict[str, rdflib.Graph], examples: list[dict[str, str]]) -> str:
    """Beside pyLODE's text: the sibling ontologies, RDF downloads, prefixes, example queries."""
    here = ontology_doc_path(iri)
    others = "".join(
        f'<li><a href="{html.escape(ontology_doc_path(o))}">{html.escape(_title(parts[o], o))}</a>'
        + (" (the core ontology)" if o == ONTOLOGY_IRI else " (an extension of the core)")
        + "</li>"
        for o in parts if o != iri
    )
    formats = " · ".join(f'<a href="{here}?format={f}">{f}</a>' for f in ("turtle", "jsonld", "ntriples", "rdfxml"))
    used = {str(t) for triple in parts[iri] for t in triple if isinstance(t, rdflib.URIRef)}
    prefix_rows = "".join(
        f"<tr><td><code>{p}:</code></td><td><code>{html.escape(ns)}</code></td></tr>"
        for p, ns in PREFIXES.items() if any(u.startswith(ns) for u in used)
    )
    queries = "".join(
        f'<li><a href="/sparql#example={html.escape(e["name"])}">{html.escape(e["title"])}</a></li>'
        for e in examples
    )
    return (
        "<section class=\"preface\" id=\"about\">"
        f"<p>Documentation of <code>{html.escape(iri)}</code>, generated by pyLODE from the ontology graph "
        f"in this registry. As RDF: {formats} (or ask by Accept).</p>"
        + (f"<p>See also:</p><ul>{others}</ul>" if others else "")
        + f"<h2 id=\"prefixes\">Prefixes</h2><p>Known to the <a href=\"/sparql\">SPARQL endpoint</a> "
        f"without declaring them.</p><table><tr><th>prefix</th><th>namespace</th></tr>{prefix_rows}</table>"
        + (f"<h2 id=\"examples\">Example queries</h2><ul>{queries}</ul>" if queries else "")
        + "</section>"
    )


async def _ontology_response(request: Request, iri: str, format: str | None) -> Response:
    fmt = format if format in RDFLIB_FORMAT or format == "html" else _negotiate(request)
    if fmt is None:
        raise _not_acceptable()
    store: GraphStore = request.app.state.store
    g = await run_in_threadpool(_cache.get, store, "ontology-graph", lambda: _ontology_graph(store))
    if len(g) == 0:
        raise ApiError("the store holds no ontology", status=404)
    versioned = g.value(None, OWL.versionIRI, rdflib.URIRef(iri))
    if versioned is not None:  # the version IRI (ontology/0.1.0) is served as the ontology it versions
        iri = str(versioned)
    headers = {"Vary": "Accept", "Link": f'<{iri}>; rel="canonical"'}
    if fmt != "html":
        # The core's document is where every acse: term (a hash IRI under /ontology) is defined: all of it.
        part = g if iri == ONTOLOGY_IRI else split_ontology(g).get(iri)
        if part is None:
            raise _unknown_ontology(g, iri)
        return _rdf_response(_copy(part), fmt, headers)
    from .sparql import example_queries

    docs = await run_in_threadpool(
        _cache.get, store, "ontology-docs", lambda: ontology_docs(g, example_queries(), nav_study(store))
    )
    if iri not in docs:
        raise _unknown_ontology(g, iri)
    return HTMLResponse(docs[iri], headers=headers)


def _unknown_ontology(g: rdflib.Graph, iri: str) -> ApiError:
    known = sorted(ontology_doc_path(str(o)) for o in g.subjects(RDF.type, OWL.Ontology))
    return ApiError(f"no ontology {iri}; this registry has: {', '.join(known)}", status=404)


@router.get("/ontology", summary="The ontology: HTML documentation (pyLODE) or RDF by Accept")
async def ontology(request: Request, format: str | None = None) -> Response:
    """The registry's ontology (`acse:`): documentation for people, Turtle, JSON-LD or RDF/XML for programs."""
    return await _ontology_response(request, ONTOLOGY_IRI, format)


@router.get("/ontology/{name}", summary="An extension of the ontology (e.g. ctgov): HTML documentation or RDF")
async def ontology_extension(request: Request, name: str, format: str | None = None) -> Response:
    """An extension module of the ontology, e.g. `ctgov` (the ClinicalTrials.gov record's terms)."""
    return await _ontology_response(request, f"{ONTOLOGY_IRI}/{name}", format)


# ---------------------------------------------------------------- dumps and VoID
@router.get("/dumps/{name}", summary="The whole graph, gzipped (Turtle, N-Triples, JSON-LD; N-Quads with history)")
async def dump(request: Request, name: str) -> Response:
    """The whole registry in one download, to load into any RDF store (`GET /dumps/acse-kg.ttl.gz`)."""
    if name not in DUMPS:
        raise ApiError(f"no dump {name!r}; available: {', '.join(DUMPS)}", status=404)
    fmt, history = DUMPS[name]
    store: GraphStore = request.app.state.store

    def make() -> bytes:
        if fmt == "jsonld":  # compacted with the registry's prefixes, like every JSON-LD document here
            g = rdflib.Graph().parse(data=store.dump("ntriples", include_history=history), format="nt")
            return gzip.compress(serialize_rdf(g, "jsonld"), mtime=0)
        return gzip.compress(store.dump(fmt, include_history=history), mtime=0)

    body = await run_in_threadpool(_cache.get, store, "dump-" + name, make)
    return Response(
        body,
        media_type="application/gzip",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _bound(value: rdflib.term.Node | None) -> rdflib.term.Node:
    """A COUNT's value, which SPARQL always binds (a row's type allows an unbound one)."""
    assert value is not None, "COUNT is always bound"
    return value


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
    g.add((ds, VOID.triples, _bound(total["t"])))
    g.add((ds, VOID.distinctSubjects, _bound(total["s_"])))
    g.add((ds, VOID.properties, _bound(total["p_"])))
    g.add((ds, VOID.classes, _bound(classes)))
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
        if not is_live_graph(name):
            continue
        sub = rdflib.URIRef(name)
        g.add((ds, VOID.subset, sub))
        g.add((sub, RDF.type, VOID.Dataset))
        g.add((sub, VOID.triples, _bound(row["n"])))
    return g


@router.get("/.well-known/void", summary="VoID description of the dataset (Turtle by default)")
async def void(request: Request) -> Response:
    """The dataset described for catalogues and crawlers: its SPARQL endpoint, dumps, vocabularies, size."""
    fmt = _negotiate(request, rdf_first=True)
    if fmt is None:
        raise _not_acceptable()
    store: GraphStore = request.app.state.store
    g = await run_in_threadpool(_cache.get, store, "void", lambda: void_graph(store))
    if fmt == "html":
        study = await run_in_threadpool(nav_study, store)
        rows = "".join(
            f"<tr><td>{_term_html(s)}</td><td>{_term_html(p)}</td><td>{_term_html(o)}</td></tr>"
            for s, p, o in sorted(g, key=lambda t: (str(t[0]), str(t[1]), str(t[2])))
        )
        return HTMLResponse(
            _page("dataset", f"<h1>The acse-kg dataset</h1><table class=\"triples\">{rows}</table>", study),
            headers={"Vary": "Accept"},
        )
    return _rdf_response(g, fmt, {"Vary": "Accept"})
