"""The SPARQL 1.1 Protocol endpoint at ``/sparql``, read-only unless an admin token says otherwise.

Requests are read by hand rather than through FastAPI's body models because
the protocol's rules are about the raw request: which content type, how many
``query`` parameters, which charset. Each rule breaks with a 4xx and a
one-line plain-text reason, which is what SPARQL clients show their users.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import html
import re
import threading
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qsl

import pyoxigraph as ox
from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from acse_kg.namespaces import BASE, PREFIXES
from acse_kg.paths import QUERIES_DIR, STATIC_DIR
from acse_kg.rdf_io import serialize_rdf
from acse_kg.sparql_safety import (
    DatasetConflict,
    MalformedQuery,
    QueryInfo,
    RefusedQuery,
    analyse,
    check_dataset,
    unknown_prefix_message,
    with_using,
)
from acse_kg.store import GraphStore, QuerySyntaxError, StoreError

from .errors import ApiError
from .limits import ClientSlots
from .linked_data import nav_study, site_header
from .negotiation import CONTENT_TYPE, RDF_MEDIA, RESULT_MEDIA, choose
from .query_pool import (
    Cancelled,
    NotAcceptable,
    QueryFailed,
    QueryRequest,
    QueryTimeout,
    ResultTooLarge,
    WorkerDied,
    run_in_thread,
)
from .settings import ServerSettings
from .sparql_table import TABLE_ACCEPT, answer_html

router = APIRouter(tags=["sparql"])

_DATASET_PARAMS = ("default-graph-uri", "named-graph-uri")
_USING_PARAMS = ("using-graph-uri", "using-named-graph-uri")
#: The query OpenAPI shows as the example of GET and POST /sparql.
EXAMPLE_QUERY = "SELECT ?cohort ?label WHERE { ?cohort a acse:Cohort ; rdfs:label ?label } ORDER BY ?cohort"
#: The endpoint's canonical IRI: relative IRIs in a query resolve against it (so <id/gene/ALK> works).
ENDPOINT_IRI = BASE + "sparql"
_BODY_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "query": {"type": "string"},
                        "update": {"type": "string"},
                        "default-graph-uri": {"type": "string"},
                        "named-graph-uri": {"type": "string"},
                        "using-graph-uri": {"type": "string"},
                        "using-named-graph-uri": {"type": "string"},
                    },
                },
                "example": {"query": EXAMPLE_QUERY},
            },
            "application/sparql-query": {"schema": {"type": "string"}, "example": EXAMPLE_QUERY},
            "application/sparql-update": {"schema": {"type": "string"}},
        },
    },
    "responses": {
        "200": {
            "description": "Query results (SELECT/ASK: SPARQL JSON, XML, CSV, TSV; CONSTRUCT/DESCRIBE: Turtle, "
            "N-Triples, JSON-LD, RDF/XML)"
        },
        "204": {"description": "Update applied (admin token only)"},
        "400": {"description": "Malformed request or query; the body is the reason"},
        "401": {"description": "Update without the admin token"},
        "403": {"description": "Update on a read-only server, or SERVICE / LOAD / FROM outside the store"},
        "406": {"description": "No acceptable result format for this query form"},
        "415": {"description": "Unsupported request content type"},
        "429": {"description": "This client already has as many queries running as it may (Retry-After)"},
        "503": {"description": "The query exceeded the time limit, or its worker ended (out of memory)"},
    },
}


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> ApiError:
    """A protocol error: the app's one handler writes it as plain text (HTML for a browser)."""
    return ApiError(message, status=status, headers=headers)


def _settings(request: Request) -> ServerSettings:
    return getattr(request.app.state, "settings", None) or ServerSettings()


# ---------------------------------------------------------------- routes
async def sparql_endpoint(request: Request) -> Response:
    """GET and POST /sparql as a plain Starlette route, ahead of the documented FastAPI routes below.

    The protocol's request is read by hand anyway (see the module docstring), so FastAPI's
    dependency solving and parameter validation for the GET's query parameters only cost time:
    they were about a third of the server's own CPU per millisecond query. The FastAPI routes
    stay for the OpenAPI document (and call the same functions); this route, registered first,
    is the one requests reach. HEAD is served as GET (:class:`acse_kg.api.app.HeadAsGet`).
    """
    if request.method == "POST":
        return await sparql_post(request)
    return await sparql_get(request)


router.add_route("/sparql", sparql_endpoint, methods=["GET", "POST"], include_in_schema=False)


@router.get(
    "/sparql",
    summary="Run a SPARQL query (GET); without a query, the SPARQL workbench",
    description=(
        "The SPARQL 1.1 Protocol's query by GET. The answer's format follows `Accept` (SELECT/ASK: SPARQL "
        "JSON, XML, CSV, TSV; CONSTRUCT/DESCRIBE: Turtle, N-Triples, JSON-LD, RDF/XML) or the `format` "
        "parameter, which wins over `Accept`: a media type, or `table` for an HTML page with the answer as a "
        "table (the workbench's form without JavaScript). The registry's prefixes (`acse:`, `id:`, `gene:`, "
        "`onco:`, …; `GET /sparql/prefixes`) are known without declaring them. Without `query`, a browser "
        "gets the workbench (YASGUI) and an RDF client the service description."
    ),
    responses={200: {"content": {
        "text/html": {},
        "application/sparql-results+json": {},
        "text/turtle": {},
    }}},
)
async def sparql_get(
    request: Request,
    query: Annotated[str | None, Query(description="SPARQL 1.1 query", examples=[EXAMPLE_QUERY])] = None,
    format: Annotated[str | None, Query(
        description="`table` (an HTML page) or a media type of the answer; wins over Accept",
        examples=["table", "text/csv"])] = None,
    default_graph_uri: Annotated[list[str] | None, Query(alias="default-graph-uri")] = None,
    named_graph_uri: Annotated[list[str] | None, Query(alias="named-graph-uri")] = None,
) -> Response:
    params = request.query_params
    if "update" in params:
        raise _error(400, "SPARQL Update must be sent by POST, not GET")
    queries = params.getlist("query")
    if not queries:
        accept = request.headers.get("accept")
        if choose(accept, {"text/html": "html", **RDF_MEDIA}) in (None, "html"):
            return HTMLResponse(await run_in_threadpool(_query_page, request.app.state.store))
        return _service_description(choose(accept, RDF_MEDIA) or "turtle", _settings(request))
    if len(queries) > 1:
        raise _error(400, "exactly one 'query' parameter is allowed")
    wanted, accept = _format_param(params.getlist("format"))
    answer = await _answer_query(request, queries[0], params.getlist(_DATASET_PARAMS[0]),
                                 params.getlist(_DATASET_PARAMS[1]), accept=accept)
    if wanted != "table" or answer.status_code != 200:
        return answer
    store = request.app.state.store
    page = await run_in_threadpool(_query_page, store, queries[0],
                                   answer_html(bytes(answer.body), answer.media_type or ""))
    return HTMLResponse(page)


#: The short names SPARQL clients send as ``format`` (SPARQLWrapper, Virtuoso-style clients), as the
#: media types they stand for; several, so that the query form picks (json: results or JSON-LD).
FORMAT_NAMES = {
    "json": "application/sparql-results+json, application/ld+json",
    "xml": "application/sparql-results+xml, application/rdf+xml",
    "csv": "text/csv", "tsv": "text/tab-separated-values",
    "turtle": "text/turtle", "n3": "text/turtle", "json-ld": "application/ld+json",
    "rdf+xml": "application/rdf+xml", "nt": "application/n-triples", "ntriples": "application/n-triples",
}


def _format_param(values: list[str]) -> tuple[str | None, str | None]:
    """(the format asked for, the Accept it stands for) from the ``format`` parameters.

    ``table`` is the HTML page; a media type or a client's short name (``json``, ``turtle`` ...) wins
    over Accept; several values (clients send a name and a media type) take the first one known; a
    value that is none of these is a 400 naming it.
    """
    if not values:
        return None, None
    for value in values:
        if value == "table":
            return value, TABLE_ACCEPT
        if value in RESULT_MEDIA or value in RDF_MEDIA:
            return value, value
        if value.lower() in FORMAT_NAMES:
            return value, FORMAT_NAMES[value.lower()]
    raise _error(400, f"unknown format {values[0]!r}: use table, one of "
                      + ", ".join(dict.fromkeys([*RESULT_MEDIA, *RDF_MEDIA])) + ", or one of "
                      + ", ".join(FORMAT_NAMES))


@router.post(
    "/sparql",
    summary="Run a SPARQL query or update (POST)",
    description=(
        "The SPARQL 1.1 Protocol's query or update by POST: the query as the body "
        "(`application/sparql-query`) or as the form field `query` "
        "(`application/x-www-form-urlencoded`). The answer's format follows `Accept`. SPARQL Update needs "
        "the server's admin token (`Authorization: Bearer …`); without one the endpoint is read-only."
    ),
    openapi_extra=_BODY_DOC,
)
async def sparql_post(request: Request) -> Response:
    ctype = request.headers.get("content-type", "")
    media, _, rest = ctype.partition(";")
    media = media.strip().lower()
    charset = _charset(rest)
    if charset and charset not in ("utf-8", "utf8"):
        raise _error(415, f"only UTF-8 is accepted, not charset={charset}")
    raw = await request.body()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _error(400, "the request body is not valid UTF-8") from None
    url = request.query_params
    if media == "application/x-www-form-urlencoded":
        try:
            fields = parse_qsl(text, keep_blank_values=True, strict_parsing=False, encoding="utf-8", errors="strict")
        except UnicodeDecodeError:
            raise _error(400, "the form is not valid UTF-8") from None
        queries = [v for k, v in fields if k == "query"]
        updates = [v for k, v in fields if k == "update"]
        if queries and updates:
            raise _error(400, "send either 'query' or 'update', not both")
        if len(queries) > 1 or len(updates) > 1:
            raise _error(400, "exactly one 'query' or 'update' parameter is allowed")
        if not queries and not updates:
            raise _error(400, "the form has no 'query' or 'update' parameter")
        dataset = {p: url.getlist(p) + [v for k, v in fields if k == p] for p in (*_DATASET_PARAMS, *_USING_PARAMS)}
        if queries:
            return await _answer_query(request, queries[0], dataset[_DATASET_PARAMS[0]], dataset[_DATASET_PARAMS[1]])
        return await _answer_update(request, updates[0], dataset[_USING_PARAMS[0]], dataset[_USING_PARAMS[1]])
    if media == "application/sparql-query":
        return await _answer_query(request, text, url.getlist(_DATASET_PARAMS[0]), url.getlist(_DATASET_PARAMS[1]))
    if media == "application/sparql-update":
        return await _answer_update(request, text, url.getlist(_USING_PARAMS[0]), url.getlist(_USING_PARAMS[1]))
    if not media:
        raise _error(415, "missing Content-Type: use application/sparql-query, application/sparql-update "
                      "or application/x-www-form-urlencoded")
    raise _error(415, f"unsupported Content-Type {media!r}: use application/sparql-query, "
                  "application/sparql-update or application/x-www-form-urlencoded")


_HEADER = re.compile(r'<header class="site">.*?</header>', re.S)
_TEXTAREA = re.compile(r'(<textarea id="query"[^>]*>).*?(</textarea>)', re.DOTALL)
_RESULT = '<div id="result"></div>'


def _query_page(store: GraphStore, query: str | None = None, result: str = "") -> str:
    """sparql.html with the site header the other pages carry (which links the registry's study);
    with ``query`` and ``result`` (an HTML fragment), the form holds the query and the answer follows."""
    page = (STATIC_DIR / "sparql.html").read_text(encoding="utf-8")
    header = site_header(nav_study(store))
    page = _HEADER.sub(lambda _: header, page, count=1)
    if query is not None:
        # A newline after <textarea> is dropped by the HTML parser: one is added so a query's own stays.
        page = _TEXTAREA.sub(lambda m: m.group(1) + "\n" + html.escape(query, quote=False) + m.group(2), page,
                             count=1)
        page = page.replace(_RESULT, f'<div id="result">{result}</div>', 1)
    return page


@router.get("/sparql/sparql.js", include_in_schema=False)
async def sparql_script() -> Response:
    """The query page's script, served as a file so that the pages' CSP can forbid inline script."""
    return FileResponse(STATIC_DIR / "sparql.js", media_type="text/javascript; charset=utf-8",
                        headers={"Cache-Control": "public, max-age=3600"})


#: The workbench's vendored files (acse_kg/static/vendor/yasgui, ORIGIN.md there): nothing else is served.
_YASGUI = {"yasgui.min.js": "text/javascript; charset=utf-8", "yasgui.min.css": "text/css; charset=utf-8"}


@router.get("/sparql/yasgui/{name}", include_in_schema=False)
async def yasgui_asset(name: str) -> Response:
    """YASGUI, served by the registry itself (no CDN: the workbench works offline and under the CSP)."""
    if name not in _YASGUI:
        raise _error(404, f"no workbench file {name!r}")
    return FileResponse(STATIC_DIR / "vendor" / "yasgui" / name, media_type=_YASGUI[name],
                        headers={"Cache-Control": "public, max-age=86400"})


@router.get(
    "/sparql/examples",
    summary="The example queries",
    description="The queries shipped in `queries/*.rq`: name, title (the first comment line) and text. "
                "The workbench lists them; `/sparql#example=<name>` opens one.",
)
async def sparql_examples() -> JSONResponse:
    return JSONResponse(example_queries())


@router.get(
    "/sparql/prefixes",
    summary="The registry's prefixes",
    description="Prefix → namespace IRI. Every query may use these without declaring them; the workbench "
                "completes them and shows answers with them.",
    responses={200: {"content": {"application/json": {"example": {"acse": "https://w3id.org/acse-kg/ontology#"}}}}},
)
async def sparql_prefixes() -> JSONResponse:
    return JSONResponse(PREFIXES)


def example_queries() -> list[dict[str, str]]:
    """The queries in ``queries/*.rq`` for the query page, first comment line as title."""
    out = []
    for path in sorted(Path(QUERIES_DIR).glob("*.rq")):
        text = path.read_text(encoding="utf-8")
        first = text.lstrip().splitlines()[0] if text.strip() else ""
        title = first.lstrip("#").strip() if first.startswith("#") else path.stem
        out.append({"name": path.stem, "title": title, "query": text})
    return out


# ---------------------------------------------------------------- query
def _charset(params: str) -> str | None:
    for p in params.split(";"):
        k, _, v = p.strip().partition("=")
        if k.lower() == "charset":
            return v.strip().strip('"').lower()
    return None


async def _answer_query(request: Request, query: str, default_graphs: list[str], named_graphs: list[str],
                        accept: str | None = None) -> Response:
    """The answer to ``query``; its format follows ``accept`` when given (the ``format`` parameter),
    else the request's Accept header."""
    settings = _settings(request)
    store = request.app.state.store
    try:
        info = await _analysed(query)
        for iri in (*default_graphs, *named_graphs):
            ox.NamedNode(iri)
        # A protocol graph the store lacks is an empty graph to the embedded engine, which never
        # fetches one (SPARQL 1.1 Protocol, as Oxigraph's own server does); an external engine might
        # fetch it, so there it is refused like FROM. FROM itself only ever names store graphs.
        protocol = (*default_graphs, *named_graphs) if getattr(request.app.state, "query_pool", None) is None else ()
        if info.dataset_iris or protocol:
            check_dataset(info, await run_in_threadpool(store.named_graphs), protocol)
    except MalformedQuery as exc:
        raise _error(400, f"malformed query: {exc}") from exc
    except RefusedQuery as exc:
        raise _error(403, str(exc)) from exc
    except ValueError as exc:
        raise _error(400, f"invalid graph IRI in default-graph-uri / named-graph-uri: {exc}") from exc
    if accept is None:
        accept = request.headers.get("accept")
    result_fmt = choose(accept, RESULT_MEDIA)
    rdf_fmt = choose(accept, RDF_MEDIA)
    if info.form in ("SELECT", "ASK") and result_fmt is None:
        raise _not_acceptable(info.form, RESULT_MEDIA)
    if info.form in ("CONSTRUCT", "DESCRIBE") and rdf_fmt is None:
        raise _not_acceptable(info.form, RDF_MEDIA)
    req = QueryRequest(
        query=query,
        result_format=result_fmt,
        rdf_format=rdf_fmt,
        default_graph_uris=tuple(default_graphs),
        named_graph_uris=tuple(named_graphs),
        use_query_dataset=info.has_dataset_clause,
        base_iri=ENDPOINT_IRI,
    )
    pool = getattr(request.app.state, "query_pool", None)
    slots: ClientSlots = getattr(request.app.state, "client_slots", None) or ClientSlots(0, 1)
    try:
        if pool is not None:
            with slots.hold(request.client.host if request.client else ""):
                kind, body = await _unless_disconnected(request, pool, req)
        else:  # a remote store: its engine does the work; we stop waiting at the time limit
            try:
                kind, body = await asyncio.wait_for(
                    run_in_threadpool(run_in_thread, store, req, info.form, settings.max_result_bytes),
                    settings.query_timeout,
                )
            except TimeoutError:
                raise QueryTimeout(
                    f"the query ran longer than the time limit of {settings.query_timeout:g} s"
                ) from None
    except QueryFailed as exc:
        prefix = "malformed query" if exc.syntax else "the query failed"
        message = str(exc)
        if exc.syntax and "Prefix not found" in message:  # the engine's message lists Unicode ranges
            message = unknown_prefix_message(query) or message
        raise _error(400, message if message.startswith(prefix) else f"{prefix}: {message}") from exc
    except (QueryTimeout, WorkerDied) as exc:
        raise _error(503, str(exc)) from exc
    except Cancelled:
        return Response(status_code=499)  # nobody is there to read it
    except ResultTooLarge as exc:
        raise _error(400, str(exc)) from exc
    except StoreError as exc:  # a remote store's endpoint failed or refused
        raise _error(502, str(exc)) from exc
    except NotAcceptable:
        raise _not_acceptable(info.form or "this query", RDF_MEDIA if rdf_fmt is None else RESULT_MEDIA) from None
    fmt = rdf_fmt if kind == "graph" else result_fmt
    return Response(body, media_type=CONTENT_TYPE[fmt or "json"], headers={"Vary": "Accept"})


async def _analysed(text: str) -> QueryInfo:
    """analyse(text), in a thread for a long text: lexing is linear but a large body is still
    a few hundred milliseconds the event loop should spend answering others."""
    if len(text) < 32_768:
        return analyse(text)
    return await run_in_threadpool(analyse, text)


async def _unless_disconnected(request: Request, pool: Any, req: QueryRequest) -> tuple[str, bytes]:
    """The pool's answer to ``req``, or :class:`Cancelled` (its worker stopped) if the client goes away first.

    A query nobody waits for any more would otherwise hold its worker until the time limit. A request
    the pool knows to be quick is not watched: it ends within the pool's quick time anyway, and the
    watch (a second task per request) was a visible share of a millisecond query's time.
    """
    quick = pool.quick_seconds_of(req)
    if quick is not None:
        return await pool.run_async(req, quick=quick)
    cancel = threading.Event()
    work = asyncio.ensure_future(pool.run_async(req, cancel))
    gone = asyncio.ensure_future(_disconnected(request))
    try:
        await asyncio.wait((work, gone), return_when=asyncio.FIRST_COMPLETED)
        if not work.done():
            cancel.set()  # a query waiting in a thread stops at its next look (0.1 s)
            work.cancel()  # one waited on by the event loop stops now
            with contextlib.suppress(BaseException):
                await work
            raise Cancelled("the client went away")
        return work.result()
    finally:
        gone.cancel()


async def _disconnected(request: Request) -> None:
    """Return when the client closes the connection (the body has been read by then)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


def _service_description(fmt: str, settings: ServerSettings) -> Response:
    """SPARQL 1.1 Service Description of this endpoint, for clients that ask for RDF at the endpoint URL."""
    import rdflib
    from rdflib.namespace import RDF

    sd = rdflib.Namespace("http://www.w3.org/ns/sparql-service-description#")
    fmts = rdflib.Namespace("http://www.w3.org/ns/formats/")
    g = rdflib.Graph()
    g.bind("sd", sd)
    g.bind("formats", fmts)
    service = rdflib.URIRef(ENDPOINT_IRI)
    g.add((service, RDF.type, sd.Service))
    g.add((service, sd.endpoint, service))
    g.add((service, sd.supportedLanguage, sd.SPARQL11Query))
    if settings.admin_token:
        g.add((service, sd.supportedLanguage, sd.SPARQL11Update))
    g.add((service, sd.feature, sd.UnionDefaultGraph))  # the default graph is the union of the live graphs
    for name in ("SPARQL_Results_JSON", "SPARQL_Results_XML", "SPARQL_Results_CSV", "SPARQL_Results_TSV",
                 "Turtle", "N-Triples", "JSON-LD", "RDF_XML"):
        g.add((service, sd.resultFormat, fmts[name]))
    g.add((service, sd.defaultDataset, rdflib.URIRef(BASE + ".well-known/void#dataset")))
    return Response(serialize_rdf(g, fmt), media_type=CONTENT_TYPE[fmt], headers={"Vary": "Accept"})


def _not_acceptable(form: str, offered: dict[str, str]) -> ApiError:
    return _error(406, f"no acceptable format for a {form} answer; this endpoint offers: " + ", ".join(offered))


# ---------------------------------------------------------------- update
async def _answer_update(request: Request, update: str, using: list[str], using_named: list[str]) -> Response:
    settings = _settings(request)
    if not settings.admin_token:
        raise _error(403, "this endpoint is read-only: SPARQL Update is refused (start the server with --admin-token)")
    auth = request.headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), settings.admin_token.encode()):
        raise _error(401, "SPARQL Update needs the admin token: Authorization: Bearer <token>",
                      {"WWW-Authenticate": 'Bearer realm="acse-kg"'})
    store = request.app.state.store
    try:
        info = await _analysed(update)
        if info.dataset_iris:
            check_dataset(info, await run_in_threadpool(store.named_graphs))
        # The protocol's dataset, written in as USING clauses (graphs the store lacks are empty:
        # nothing is fetched), and the endpoint as the base IRI of relative IRIs (§2.2.3).
        text = f"BASE <{ENDPOINT_IRI}> " + with_using(update, using, using_named)
    except MalformedQuery as exc:
        raise _error(400, f"malformed update: {exc}") from exc
    except RefusedQuery as exc:
        raise _error(403, str(exc)) from exc
    except DatasetConflict as exc:
        raise _error(400, str(exc)) from exc
    except ValueError as exc:
        raise _error(400, f"invalid using-graph-uri / using-named-graph-uri: {exc}") from exc
    try:
        await run_in_threadpool(store.update, text)
    except QuerySyntaxError as exc:
        raise _error(400, f"malformed update: {exc}") from exc
    except StoreError as exc:
        raise _error(502, str(exc)) from exc
    pool = getattr(request.app.state, "query_pool", None)
    if pool is not None:
        await run_in_threadpool(pool.invalidate)
    return Response(status_code=204)
