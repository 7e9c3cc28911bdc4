"""A :class:`~acse_kg.store.GraphStore` over a remote SPARQL 1.1 endpoint.

This is what lets the registry move from the embedded Oxigraph store to an
external engine (Oxigraph server, Fuseki, Virtuoso, QLever, GraphDB, or
another acse-kg server) without touching callers: ``--store https://host/sparql``.
Only the SPARQL 1.1 Protocol is used (queries and updates), so any compliant
engine works.

The same graph layout holds as in the embedded store: the *live* named graphs
form the default graph of queries (sent as ``default-graph-uri``), history
graphs are left out of it. Every named graph stays reachable with ``GRAPH``
(sent as ``named-graph-uri``): the protocol says a request that names its
default graph and no named graphs has *no* named graphs, and compliant engines
(Oxigraph server) apply that, while the embedded store keeps them all.

Writes go to the update endpoint with ``Authorization: Bearer <token>`` when a
token is given (``ACSE_KG_REMOTE_TOKEN``). Engines differ on where that is
(see :func:`update_url_for`): given explicitly, or derived from the query URL.

A write under a :class:`~acse_kg.store.Claim` takes a lock first. SPARQL 1.1
does not say how concurrent updates are isolated, and the Oxigraph server
evaluates an update's WHERE clauses on a snapshot: two conditional updates
sent at once can both see the condition hold and both apply (measured: every
time, with a few hundred triples in each). The lock needs only that each
update is atomic and that a read after it sees it: a writer adds its request
to the claim's scope in :data:`LOCK_GRAPH`, then reads the requests; it holds
the lock if its own is the only one, and otherwise withdraws it and tries
again after a random pause. Of two writers, the one that reads second sees
the other's request, so they never both hold it (both may withdraw: the
pauses break that tie). A request older than :data:`LOCK_TTL_S` (its writer
died) is ignored and removed. A writer alive but slow (a bulk batch to a slow
engine can take longer than the TTL) must not be taken for a dead one, so while
it holds the lock a heartbeat (:mod:`acse_kg.heartbeat`) replaces its
request with a fresh stamp every quarter of the TTL, one small update each.

History on a second endpoint. Listing the live graphs as every request's
default graph costs the engine dearly at scale (at 1,000 studies, 90 s for a
query that takes 0.03 s over the union default graph). Given a second
endpoint for the history (``history_url``, or ``ACSE_KG_REMOTE_HISTORY_URL``:
another ``oxigraph serve``, another Fuseki dataset, another Virtuoso ...),
the first holds the live graphs only and is queried over its union default
graph (``oxigraph serve --union-default-graph``; Fuseki ``unionDefaultGraph``;
checked when the store is opened), naming no graphs; the archived versions,
the log and the store's bookkeeping (write locks, generation token) live on
the second. A write that touches both is journalled as the embedded store's
is: the history's request carries the claim and a journal entry holding the
live request; then the live request is sent, with a mark that it was applied
(in the same request: one transaction on the live engine), and the entry
removed, then the mark; an entry older than :data:`LOCK_TTL_S` (its writer
died) is applied when a store is opened, unless its mark says it was already.
Beside the entry, an "alive" stamp (:data:`JOURNAL_ALIVE`, written with it,
removed with it) is refreshed by the writer's heartbeat while the live request
is on its way: an entry is dead only when its own stamp and its alive stamp are
both older than the TTL, so a live request that takes minutes is never applied
a second time by a store opened meanwhile. (The heartbeat never rewrites the
entry: it holds the whole live request, or its pieces beside it.) A live
request longer than :data:`JOURNAL_PIECE` characters is kept in pieces beside
the entry, never as one literal: Oxigraph never removes a string it has stored
(oxigraph/oxigraph#32), so a removed entry's text stays in the engine's files
for good, and a literal of tens of MB there made some lookups of a string
stored beside it read it whole (50-90 ms to read the generation token, which
every request reads, after a 100,000-study import; BENCHMARKS.md).
An engine given no history endpoint keeps everything in one dataset and names
the live graphs in each request, as before.
"""

from __future__ import annotations

import math
import os
import random
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass
from typing import Any, cast

import httpx
import pyoxigraph as ox
import rdflib
from rdflib.term import Node

from .heartbeat import beating
from .namespaces import sparql_string
from .rdf_io import readable_turtle
from .sparql_safety import RefusedQuery, analyse, first_keyword, tokens
from .store import (
    BOOKKEEPING_PREFIX,
    JOURNAL_APPLIED,
    JOURNAL_GRAPH,
    PENDING_UPDATE,
    RDF_FORMATS,
    RESULT_FORMATS,
    AddQuads,
    AddToGraph,
    Bindings,
    Claim,
    CopyGraph,
    DropGraph,
    GraphOp,
    QuerySyntaxError,
    RemoveFromGraph,
    ReplaceGraph,
    SelectResult,
    StoreError,
    bind_values,
    check_claim,
    is_bookkeeping_graph,
    is_live_graph,
    iter_quads,
    one_line,
    quads_by_graph,
    rdflib_graph,
    serialized,
    stored_quads,
    update_request,
    with_prologue,
)

TOKEN_ENV = "ACSE_KG_REMOTE_TOKEN"
HISTORY_URL_ENV = "ACSE_KG_REMOTE_HISTORY_URL"
UPDATE_URL_ENV = "ACSE_KG_REMOTE_UPDATE_URL"
#: A user name and password for updates, sent with HTTP Digest (Virtuoso's ``/sparql-auth``).
USER_ENV = "ACSE_KG_REMOTE_USER"
PASSWORD_ENV = "ACSE_KG_REMOTE_PASSWORD"
#: Where an engine takes N-Quads for the whole dataset in one transactional request (the Oxigraph
#: server's ``/store``): the bulk path of :class:`~acse_kg.store.AddQuads`; unset, quads go as an update.
DATASET_URL_ENV = "ACSE_KG_REMOTE_DATASET_URL"
#: Seconds one request to the engine may take (to connect, to send, between bytes of the answer): a
#: bulk import's batch on a loaded machine may need more than the default, a dashboard less.
TIMEOUT_ENV = "ACSE_KG_REMOTE_TIMEOUT"
DEFAULT_TIMEOUT = 60.0


def timeout_from_env() -> float:
    """The budget of one request to the engine: ``ACSE_KG_REMOTE_TIMEOUT`` seconds, else 60.
    A value that is not a positive number is refused by name, not taken as no budget at all."""
    text = os.environ.get(TIMEOUT_ENV, "").strip()
    if not text:
        return DEFAULT_TIMEOUT
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise StoreError(f"{TIMEOUT_ENV}={text!r} is not a number of seconds above 0")
    return value

#: Graphs an engine keeps for itself and lists among the named graphs: Virtuoso's quad-map
#: schema, its LDP vocabulary and its URIQA graph. Never the registry's; left out like its bookkeeping.
ENGINE_GRAPHS = frozenset({
    "http://www.openlinksw.com/schemas/virtrdf#",
    "http://www.w3.org/ns/ldp#",
    "http://localuriqaserver/sparql",
})
#: The variable Virtuoso (7.2) answers an ASK with, as a one-row SELECT of 1 or 0, in place of a boolean.
VIRTUOSO_ASK_VARIABLE = "__ASK_RETVAL"


def update_url_for(query_url: str) -> str:
    """Where updates go when nobody says: the ``update`` sibling of a ``.../query`` URL, else the query URL.

    Some engines serve queries and updates at one URL (acse-kg's ``/sparql``,
    Virtuoso, GraphDB's repository URL); others split them, and the common
    split names the query service ``query`` and the update service ``update``
    side by side (Oxigraph server ``/query`` and ``/update``, Fuseki
    ``/dataset/query`` and ``/dataset/update``). Deriving it lets
    ``--store http://host:7878/query`` alone address a read-write Oxigraph.
    Anything else is given with ``update_url`` or ``ACSE_KG_REMOTE_UPDATE_URL``.
    """
    parts = httpx.URL(query_url)
    head, sep, last = parts.path.rpartition("/")
    if sep and last == "query":
        return str(parts.copy_with(path=f"{head}/update"))
    return query_url


#: Seconds the list of the endpoint's named graphs (the default graph of queries) is reused.
GRAPH_LIST_TTL = 2.0

#: Where writers' lock requests live (outside the live graphs, as the history is).
LOCK_GRAPH = BOOKKEEPING_PREFIX + "write-locks"
#: Where every write through this interface leaves a new token, in the same request: what readers
#: compare to know the engine changed (see :attr:`SparqlEndpointStore.generation`).
GENERATION_GRAPH = BOOKKEEPING_PREFIX + "generation"
GENERATION = "urn:acse-kg:generation"
#: Where the dataset's identity lives: a random id written once, the first time a client needs it
#: (see :meth:`SparqlEndpointStore.dataset_id`), kept with the bookkeeping.
IDENTITY_GRAPH = BOOKKEEPING_PREFIX + "identity"
DATASET_ID = "urn:acse-kg:dataset-id"
LOCK_REQUEST = "urn:acse-kg:write-lock-request"
#: The subject of every journal entry (a write over two endpoints not finished yet).
JOURNAL = "urn:acse-kg:journal"
#: Each entry's key (its first line: ``STAMP KEY``, or ``STAMP KEY PIECES``) names its applied-mark,
#: ``JOURNAL_ENTRY + KEY`` (and its pieces' subject).
JOURNAL_ENTRY = "urn:acse-kg:journal:"
#: A live request longer than this (characters) is journalled in pieces of this length: the entry's literal
#: holds its first line only (``STAMP KEY PIECES``), and each piece is ``JOURNAL_ENTRY + KEY`` ``JOURNAL_PIECE_OF``
#: ``"NNNNNNNN TEXT"`` (its number, then its text). See the module docstring for why.
JOURNAL_PIECE = 1 << 16
JOURNAL_PIECE_OF = "urn:acse-kg:journal-piece"
#: Beside each journal entry (on the history endpoint): ``JOURNAL_ENTRY + KEY`` ``JOURNAL_ALIVE`` ``"STAMP"``,
#: the last time its writer said it was still at work (see :func:`_heartbeat`).
JOURNAL_ALIVE = "urn:acse-kg:journal-alive"
#: A lock request (or journal entry) older than this, and not refreshed since by its writer's heartbeat,
#: is a dead writer's, and ignored (an entry: applied by the next store opened).
LOCK_TTL_S = 120.0
#: How long a writer waits for a lock before giving up.
LOCK_WAIT_S = 60.0


def _stamp(request: str) -> float:
    """When a lock request was made (seconds since the epoch); 0 for one that does not say."""
    try:
        return float(request.split(" ", 1)[0])
    except ValueError:
        return 0.0


def _now_stamp() -> str:
    """A stamp of now, as lock requests, journal entries and their alive stamps carry it."""
    return f"{time.time():.6f}"


def _heartbeat(beat: Callable[[], None], what: str) -> AbstractContextManager[None]:
    """``beat`` (one small update refreshing a stamp) every quarter of :data:`LOCK_TTL_S` for the ``with``
    block (see :mod:`acse_kg.heartbeat`): other processes take a lock request or a journal entry older
    than the TTL for a dead writer's, and a writer alive but slow says it is not. The TTL is read when
    the block is entered."""
    return beating(beat, what, LOCK_TTL_S / 4)


def _entry_key(head: str) -> str | None:
    """The key on a journal entry's first line (``STAMP KEY`` or ``STAMP KEY PIECES``), or None for an
    entry of a writer that marked nothing (written before the marks)."""
    parts = head.split(" ")
    return parts[1] if len(parts) > 1 and parts[1] else None


def _entry_pieces(head: str) -> int | None:
    """How many pieces hold the live request of the entry whose first line is ``head``, or None for an
    entry that holds it in its own literal (after its first line).

    >>> _entry_pieces("1764760000.000000 0b9c 3"), _entry_pieces("1764760000.000000 0b9c")
    (3, None)
    """
    parts = head.split(" ")
    return int(parts[2]) if len(parts) > 2 and parts[2].isascii() and parts[2].isdigit() else None


def _journal_entry(stamp: str, key: str, live_text: str, piece: int | None = None) -> tuple[str, list[str]]:
    """The entry's literal and the pieces (of ``piece`` characters, :data:`JOURNAL_PIECE` by default) of
    its live request: none when the literal holds it whole.

    >>> _journal_entry("1.0", "k", "ab", piece=2)
    ('1.0 k\\nab', [])
    >>> _journal_entry("1.0", "k", "abcde", piece=2)
    ('1.0 k 3\\n', ['00000000 ab', '00000001 cd', '00000002 e'])
    """
    size = piece or JOURNAL_PIECE
    if len(live_text) <= size:
        return f"{stamp} {key}\n{live_text}", []
    pieces = [live_text[i:i + size] for i in range(0, len(live_text), size)]
    return f"{stamp} {key} {len(pieces)}\n", [f"{n:08d} {text}" for n, text in enumerate(pieces)]


def _entry_found(text: str) -> str:
    """The pattern that finds the journal entry whose literal is ``text``: by its first line for an
    entry with a key (a UUID: no other entry begins so), else by its whole text."""
    head = text.partition("\n")[0]
    which = (f"STR(?entry) = {ox.Literal(text)}" if _entry_key(head) is None
             else f"STRSTARTS(STR(?entry), {ox.Literal(head + chr(10))})")
    return f"GRAPH <{JOURNAL_GRAPH}> {{ <{JOURNAL}> <{PENDING_UPDATE}> ?entry FILTER ({which}) }}"


def _entry_removal(text: str) -> str:
    """The update that removes the journal entry whose literal is ``text``, with its alive stamp and
    its pieces (an entry with a key)."""
    head = text.partition("\n")[0]
    key = _entry_key(head)
    request = f"DELETE {{ GRAPH <{JOURNAL_GRAPH}> {{ <{JOURNAL}> <{PENDING_UPDATE}> ?entry }} }} WHERE {{ {_entry_found(text)} }}"
    if key is not None:
        request += (f" ;\nDELETE WHERE {{ GRAPH <{JOURNAL_GRAPH}> "
                    f"{{ <{JOURNAL_ENTRY}{key}> <{JOURNAL_ALIVE}> ?stamp }} }}")
        if _entry_pieces(head) is not None:
            request += (f" ;\nDELETE WHERE {{ GRAPH <{JOURNAL_GRAPH}> "
                        f"{{ <{JOURNAL_ENTRY}{key}> <{JOURNAL_PIECE_OF}> ?piece }} }}")
    return request


def _applied_mark(key: str) -> ox.Quad:
    """The quad (in ``JOURNAL_GRAPH``, on the live endpoint) that says the live request of the journal
    entry ``key`` was applied. Its object a plain string, which every engine gives back as it took it."""
    return ox.Quad(ox.NamedNode(JOURNAL_ENTRY + key), ox.NamedNode(JOURNAL_APPLIED), ox.Literal("true"),
                   ox.NamedNode(JOURNAL_GRAPH))


def _mark_triples(keys: Sequence[str]) -> str:
    """The applied-marks of the entries ``keys``, as N-Triples (of ``JOURNAL_GRAPH``)."""
    return "".join(f"{m.subject} {m.predicate} {m.object} .\n" for m in map(_applied_mark, keys))


@dataclass(frozen=True)
class _ParsedQuads(AddQuads):
    """New quads already parsed and written back by Oxigraph (``data``), in the graphs ``graphs``."""

    graphs: tuple[str, ...] = ()
    #: The same quads as the body of an INSERT DATA (``GRAPH <g> { ... }`` blocks), when asked for.
    insert_body: str = ""


def _parsed_quads(by_graph: dict[str, list[ox.Quad]], graphs: list[str], *, insert_body: bool) -> _ParsedQuads:
    r"""The quads of ``graphs`` written back by Oxigraph's serialiser (Rust), not term by term in
    Python: as N-Quads and, with ``insert_body``, as ``GRAPH <g> { ... }`` blocks of N-Triples (each
    graph's N-Quads lines with the graph name taken off their end: a literal's line break is escaped,
    so the graph's `` <g> .`` ends a line only there).

    >>> g = ox.NamedNode("urn:x:g")
    >>> tricky = ox.Literal("ends like a quad <urn:x:g> .\n")
    >>> op = _parsed_quads({g.value: [ox.Quad(ox.NamedNode("urn:x:s"), ox.NamedNode("urn:x:p"), tricky, g)]},
    ...                    [g.value], insert_body=True)
    >>> print(op.insert_body, end="")
    GRAPH <urn:x:g> {
    <urn:x:s> <urn:x:p> "ends like a quad <urn:x:g> .\n" .
    }
    """
    data: list[bytes] = []
    body: list[str] = []
    for graph in graphs:
        quads = by_graph[graph]
        nquads = serialized(ox.serialize(quads, format=ox.RdfFormat.N_QUADS))
        data.append(nquads)
        if insert_body:
            end = f" {ox.NamedNode(graph)} .\n".encode()
            ntriples = nquads.replace(end, b" .\n")
            if nquads.count(end) != len(quads) or ntriples.count(b"\n") != len(quads):
                raise StoreError(f"cannot write the quads of <{graph}> as N-Triples: unexpected serialisation")
            body.append(f"GRAPH {ox.NamedNode(graph)} {{\n{ntriples.decode()}}}\n")
    return _ParsedQuads(b"".join(data), tuple(graphs), "".join(body))


def _marked(live_request: str, key: str) -> str:
    """The live request of journal entry ``key`` with its applied-mark added in the same request."""
    return f"{live_request} ;\n{update_request([AddToGraph(JOURNAL_GRAPH, _mark_triples([key]), 'ntriples')])}"


def _term(binding: dict[str, Any] | None) -> Node | None:
    """A SPARQL JSON results term as an rdflib term."""
    if binding is None:
        return None
    kind, value = binding["type"], binding["value"]
    if kind == "uri":
        return rdflib.URIRef(value)
    if kind == "bnode":
        return rdflib.BNode(value)
    if "xml:lang" in binding:
        return rdflib.Literal(value, lang=binding["xml:lang"])
    dt = binding.get("datatype")
    if dt and dt != "http://www.w3.org/2001/XMLSchema#string":
        return rdflib.Literal(value, datatype=rdflib.URIRef(dt))
    return rdflib.Literal(value)


class EndpointRefused(StoreError):
    """The endpoint refused the request as not allowed or not offered (401, 403, 404, 405, 501): a
    read-only endpoint, one without an update service, or one that wants credentials we do not have.
    Told apart from an endpoint we cannot reach or that fails."""


class SparqlEndpointStore:
    """The registry's store interface, spoken over HTTP to a SPARQL 1.1 endpoint."""

    def __init__(
        self,
        query_url: str,
        *,
        update_url: str | None = None,
        token: str | None = None,
        auth: httpx.Auth | None = None,
        dataset_url: str | None = None,
        timeout: float | None = None,
        client: httpx.Client | None = None,
        history_url: str | None = None,
        history_update_url: str | None = None,
    ) -> None:
        self.query_url = query_url
        self.update_url = update_url or os.environ.get(UPDATE_URL_ENV) or update_url_for(query_url)
        self.token = token if token is not None else os.environ.get(TOKEN_ENV)
        self.dataset_url = dataset_url or os.environ.get(DATASET_URL_ENV)
        user, password = os.environ.get(USER_ENV), os.environ.get(PASSWORD_ENV)
        #: Credentials for updates only (queries stay anonymous): Digest from the environment when not given.
        self.auth = auth if auth is not None else (httpx.DigestAuth(user, password or "") if user else None)
        if client is None:
            client = httpx.Client(timeout=timeout if timeout is not None else timeout_from_env(), follow_redirects=True)
        self._client = client
        #: The budget of one request, named in the error when it is exceeded: the client's own (a client
        #: given, the history's shared one, keeps its budget; else ``timeout`` or :data:`TIMEOUT_ENV`).
        self.timeout: float | None = client.timeout.read
        #: The endpoint's named graphs, listed once and forgotten after each write through this object.
        self._graphs: list[str] | None = None
        self._graphs_at = 0.0
        #: How this engine lists its graphs (:meth:`_graphs_query`), once known.
        self._graphs_form: str | None = None
        history_url = history_url if history_url is not None else os.environ.get(HISTORY_URL_ENV)
        #: The history's endpoint (see the module docstring); None: one dataset holds everything.
        self._hist: SparqlEndpointStore | None = None
        if history_url:
            self._hist = SparqlEndpointStore(history_url, update_url=history_update_url or update_url_for(history_url),
                                             token=self.token, client=self._client, history_url="")
            self._check_union_default_graph()
            self._recover()

    @property
    def split(self) -> bool:
        """Whether the history lives on an endpoint of its own (the live one queried over its union)."""
        return self._hist is not None

    def _check_union_default_graph(self) -> None:
        """A live endpoint whose default graph is not the union of its graphs would answer every
        query of the registry with nothing: refused when opened, naming the engine's option."""
        if self.ask("ASK { GRAPH ?g { ?s ?p ?o } }") and not self.ask("ASK { ?s ?p ?o }"):
            raise StoreError(f"the SPARQL endpoint {self.query_url} does not query the union of its graphs by "
                             "default: start it so (oxigraph serve --union-default-graph, Fuseki unionDefaultGraph) "
                             "or give it no history endpoint")

    def _recover(self) -> None:
        """Apply the live requests of journal entries whose writers died (older than LOCK_TTL_S), each
        once: an entry whose applied-mark the live endpoint holds was applied before its writer (or an
        earlier recovery) died, and is only removed. Why not send it again: a write adding blank nodes
        (an RDF list of a study's keywords) adds new ones each time, so the list would be doubled; a
        mark holds for every kind of write (additions, replacements, removals, copies) alike.

        Done under a lock (taken only when there is something to do), so that processes opened at
        once (a server's workers after a crash) do not each apply the same entry."""
        if self._journal_work():
            assert self._hist is not None
            with self._hist._locked(JOURNAL_GRAPH):
                self._journal_work(apply=True)

    def _journal_work(self, *, apply: bool = False) -> bool:
        """Whether there are dead writers' entries, or marks of entries already removed (left by a
        writer that died between the two removals); with ``apply``, apply and remove them.

        The marks are read before the entries: a mark is written after its entry, so an entry
        missing from the later read was removed, and its mark may go. An entry is a dead writer's
        only when its own stamp and its alive stamp (its writer's heartbeat) are both older than the
        TTL. The alive stamps are read before the entries too: one is written with its entry, so an
        entry of the later read that had none at the earlier one is newer than that read (its own
        stamp fresh)."""
        assert self._hist is not None
        marks = {m[len(JOURNAL_ENTRY):] for m in self._bookkeeping_values(
            JOURNAL_GRAPH, "SELECT ?e WHERE { GRAPH ?g { ?e ?p ?o } }",
            {"g": rdflib.URIRef(JOURNAL_GRAPH), "p": rdflib.URIRef(JOURNAL_APPLIED)}, "e")}
        alive: dict[str, float] = {}  # each entry's latest (an entry that arrived late brings an older one)
        for row in self._hist._bookkeeping_rows(
                JOURNAL_GRAPH, "SELECT ?e ?t WHERE { GRAPH ?g { ?e ?p ?t } }",
                {"g": rdflib.URIRef(JOURNAL_GRAPH), "p": rdflib.URIRef(JOURNAL_ALIVE)}):
            if "e" in row and "t" in row:
                k = row["e"][len(JOURNAL_ENTRY):]
                alive[k] = max(alive.get(k, 0.0), _stamp(row["t"]))
        rows = self._hist._bookkeeping_values(
            JOURNAL_GRAPH, "SELECT ?e WHERE { GRAPH ?g { ?s ?p ?e } }",
            {"g": rdflib.URIRef(JOURNAL_GRAPH), "p": rdflib.URIRef(PENDING_UPDATE)}, "e")
        at_work: set[str | None] = set()
        dead: list[tuple[str, str | None, str]] = []
        for text in rows:
            head, _, update = text.partition("\n")
            key = _entry_key(head)
            last_sign = max(_stamp(head), alive.get(key, 0.0) if key is not None else 0.0)
            if time.time() - last_sign <= LOCK_TTL_S:
                at_work.add(key)  # a writer at work: its entry and mark are its own
            else:
                dead.append((text, key, update))
        # Alive stamps without an entry: a writer whose entry is on its way (its stamp fresh), or one that
        # died before its entry was written (its stamp old: nothing to apply, the stamp to remove).
        entries = {_entry_key(text.partition("\n")[0]) for text in rows}
        orphans = sorted(k for k, t in alive.items() if k not in entries and time.time() - t > LOCK_TTL_S)
        if not apply:
            return bool(dead or marks - at_work or orphans)
        self._hist._forget_alive(orphans)
        for text, key, update in dead:
            if key is None:  # an entry of a writer that marked nothing
                self._send(update)
            elif key not in marks:
                head = text.partition("\n")[0]
                pieces = _entry_pieces(head)
                if pieces is not None:  # read only now: a live writer's, or an applied one's, is never read
                    joined = self._hist._journal_pieces(key, pieces, head)
                    if joined is None:  # removed meanwhile (its writer was slow, not dead): nothing to do
                        continue
                    update = joined
                self._send(_marked(update, key))
                marks.add(key)
            self._hist._forget_journal(text)
        self._forget_marks(sorted(marks - at_work))
        return True

    def _journal_pieces(self, key: str, count: int, head: str) -> str | None:
        """The live request of entry ``key`` (first line ``head``), joined from its ``count`` pieces, or
        None when the entry is gone (its writer, slow rather than dead, or another recovery removed it
        and its pieces after they were listed). The pieces are written in the entry's own request (one
        transaction), so an entry still there without all of them is a journal changed by hand: refused
        by name, nothing sent."""
        pieces = sorted(self._bookkeeping_values(
            JOURNAL_GRAPH, "SELECT ?t WHERE { GRAPH ?g { ?e ?p ?t } }",
            {"g": rdflib.URIRef(JOURNAL_GRAPH), "e": rdflib.URIRef(JOURNAL_ENTRY + key),
             "p": rdflib.URIRef(JOURNAL_PIECE_OF)}, "t"))
        if [p[:8] for p in pieces] == [f"{n:08d}" for n in range(count)]:
            return "".join(p[9:] for p in pieces)
        text = head + "\n"  # a pieced entry's whole literal
        if not self._json(f"ASK {{ {_entry_found(text)} }}").get("boolean"):
            return None
        raise StoreError(
            f"journal entry {key} on {self.query_url} has {len(pieces)} of its {count} pieces: its live request "
            f"cannot be applied, and no store opens until the entry is gone. Was the journal graph changed by "
            f"hand? To give the write up, remove the entry, its pieces and its stamp: {_entry_removal(text)}")

    def _forget_marks(self, keys: Sequence[str]) -> None:
        """Remove the applied-marks of journal entries already removed (on the live endpoint)."""
        if keys:
            self._send(update_request([RemoveFromGraph(JOURNAL_GRAPH, _mark_triples(keys), "ntriples")]))

    def _forget_journal(self, text: str) -> None:
        """Remove a journal entry once its live request is applied, and its alive stamp, with a new
        generation token: the one its first request left may have been read before the live endpoint
        changed. An entry with a key is found by its first line (``STAMP KEY`` or ``STAMP KEY PIECES``, the
        key a UUID), not sent whole again (a literal of up to :data:`JOURNAL_PIECE` characters); its
        pieces, if any, go in the same request."""
        self._send(f"{update_request(self._generation_ops())} ;\n{_entry_removal(text)}")

    def _refresh_alive(self, key: str) -> None:
        """The heartbeat of journal entry ``key``'s writer: a fresh alive stamp, in place of the last.

        Written whether or not there is one: the beats start before the history's request that brings
        the entry (and its first stamp) is done, so that an entry that took longer than the TTL to
        arrive finds a fresh stamp beside it. A stamp without an entry (its writer died before the
        entry was written, or a stalled writer beat after a recovery removed its entry) is removed by
        a recovery once it is older than the TTL (:meth:`_journal_work`)."""
        alive = f"<{JOURNAL_ENTRY}{key}> <{JOURNAL_ALIVE}>"
        self._send(f"DELETE {{ GRAPH <{JOURNAL_GRAPH}> {{ {alive} ?stamp }} }} "
                   f"INSERT {{ GRAPH <{JOURNAL_GRAPH}> {{ {alive} {ox.Literal(_now_stamp())} }} }} "
                   f"WHERE {{ OPTIONAL {{ GRAPH <{JOURNAL_GRAPH}> {{ {alive} ?stamp }} }} }}")

    def _forget_alive(self, keys: Sequence[str]) -> None:
        """Remove the alive stamps of ``keys`` (writes whose entry was never written)."""
        for key in keys:
            self._send(f"DELETE WHERE {{ GRAPH <{JOURNAL_GRAPH}> {{ <{JOURNAL_ENTRY}{key}> <{JOURNAL_ALIVE}> ?s }} }}")

    # -- transport ---------------------------------------------------------
    def _request(self, url: str, data: Any, headers: dict[str, str], auth: httpx.Auth | None = None) -> httpx.Response:
        try:
            response = self._client.post(url, data=data if isinstance(data, dict) else None,
                                         content=data if not isinstance(data, dict) else None, headers=headers,
                                         auth=auth if auth is not None else httpx.USE_CLIENT_DEFAULT)
        except httpx.TimeoutException as exc:
            # Reached, perhaps, and busy: "cannot reach" would send the operator to the wrong place.
            raise StoreError(f"the SPARQL endpoint {url} did not answer within {self.timeout or 0:g} s "
                             f"({type(exc).__name__}; {TIMEOUT_ENV} sets this budget)") from exc
        except httpx.HTTPError as exc:
            raise StoreError(f"cannot reach the SPARQL endpoint {url}: {exc}") from exc
        if response.status_code == 400:
            raise QuerySyntaxError(one_line(response.text) or "the endpoint rejected the request (400)")
        if response.status_code >= 300:
            refused = EndpointRefused if response.status_code in (401, 403, 404, 405, 501) else StoreError
            raise refused(
                f"the SPARQL endpoint {url} answered {response.status_code}: {one_line(response.text, 500)}"
            )
        return response

    def _query_raw(
        self,
        query: str,
        accept: str,
        default_graph_uris: Sequence[str] = (),
        named_graph_uris: Sequence[str] = (),
        *,
        live_default: bool = True,
    ) -> bytes:
        text = with_prologue(query)
        form: dict[str, Any] = {"query": text}
        try:
            has_dataset = analyse(text).has_dataset_clause
        except RefusedQuery:
            has_dataset = False  # the remote endpoint decides what it refuses
        defaults = list(default_graph_uris) or (
            [] if has_dataset or not live_default or self._hist is not None else self._live_graphs())
        if defaults:
            form["default-graph-uri"] = defaults
            # Naming the default graph alone would leave no named graphs (SPARQL 1.1 Protocol 2.1.4);
            # name them all, as the embedded store keeps them all for GRAPH patterns.
            form["named-graph-uri"] = list(named_graph_uris) or self._all_graphs()
        elif named_graph_uris:
            form["named-graph-uri"] = list(named_graph_uris)
        return self._request(self.query_url, form, {"Accept": accept}).content

    def _all_graphs(self) -> list[str]:
        # Other clients write to a shared engine too: the list is trusted for a moment only, so
        # a graph they add is in the default graph within GRAPH_LIST_TTL seconds.
        now = time.monotonic()
        got = self._graphs
        if got is None or now - self._graphs_at > GRAPH_LIST_TTL:
            # (A local: a write in another thread, a heartbeat's, may set the attribute to None meanwhile.)
            got = self.named_graphs()
            self._graphs, self._graphs_at = got, now
        return got

    def _live_graphs(self) -> list[str]:
        return [g for g in self._all_graphs() if is_live_graph(g)]

    def live_graphs(self) -> list[str]:
        return self._live_graphs()

    @property
    def history(self) -> SparqlEndpointStore:
        """The history's dataset: the history endpoint, or the endpoint's own one (whose archived
        graphs are left out of the default graph that every request names; see the module docstring)."""
        return self._hist if self._hist is not None else self

    def _side(self, graph: str) -> SparqlEndpointStore:
        return self._hist if self._hist is not None and not is_live_graph(graph) else self

    def _json(self, query: str) -> dict[str, Any]:
        import orjson

        return orjson.loads(self._query_raw(query, RESULT_FORMATS["json"][1]))

    # -- reading -----------------------------------------------------------
    def _bookkeeping_rows(self, graph: str, query: str, bindings: Bindings) -> list[dict[str, str]]:
        """The rows (variable: value) of a query over one of the store's own graphs (left out of every
        other request)."""
        import orjson

        body = self._query_raw(bind_values(query, bindings), RESULT_FORMATS["json"][1], named_graph_uris=[graph])
        return [{var: term["value"] for var, term in b.items()} for b in orjson.loads(body)["results"]["bindings"]]

    def _bookkeeping_values(self, graph: str, query: str, bindings: Bindings, var: str) -> list[str]:
        """One column of a query over one of the store's own graphs (see :meth:`_bookkeeping_rows`)."""
        return [row[var] for row in self._bookkeeping_rows(graph, query, bindings) if var in row]

    def select(self, query: str, bindings: Bindings | None = None) -> SelectResult:
        data = self._json(bind_values(query, bindings))
        if "results" not in data:
            raise QuerySyntaxError("expected a SELECT query")
        variables = data["head"]["vars"]
        rows = [{v: _term(b.get(v)) for v in variables} for b in data["results"]["bindings"]]
        return SelectResult(variables, rows)

    def ask(self, query: str, bindings: Bindings | None = None) -> bool:
        data = self._json(bind_values(query, bindings))
        if "boolean" in data:
            return bool(data["boolean"])
        if data.get("head", {}).get("vars") == [VIRTUOSO_ASK_VARIABLE]:  # Virtuoso's ASK: one row, 1 or 0
            rows = data["results"]["bindings"]
            return bool(rows) and rows[0][VIRTUOSO_ASK_VARIABLE]["value"] not in ("0", "false")
        raise QuerySyntaxError("expected an ASK query")

    def construct(self, query: str, bindings: Bindings | None = None) -> rdflib.Graph:
        body = self._query_raw(bind_values(query, bindings), RDF_FORMATS["ntriples"][1])
        return rdflib.Graph().parse(data=body, format="nt")

    def query_serialized(
        self,
        query: str,
        result_format: str,
        *,
        default_graph_uris: Sequence[str] = (),
        named_graph_uris: Sequence[str] = (),
    ) -> tuple[str, bytes]:
        form = analyse(with_prologue(query)).form
        if form in ("CONSTRUCT", "DESCRIBE"):
            kind, media = "graph", RDF_FORMATS[result_format][1]
        else:
            kind = "boolean" if form == "ASK" else "bindings"
            media = RESULT_FORMATS[result_format][1]
        return kind, self._query_raw(query, media, default_graph_uris, named_graph_uris)

    #: Each named graph of the dataset (``GRAPH ?g {}``) that holds a triple (an engine may keep a
    #: graph emptied by a DELETE as a name): the same graphs as :data:`_ALL_QUADS_GRAPHS`, without
    #: reading every quad to find them. On ``oxigraph serve``: 0.08 s against 0.47 s at 400 study
    #: graphs, and the gap grows with the quads (seconds at 10,000 studies): the list is read by a
    #: search index's sync and, on one dataset, for every request's default graph.
    _NAMED_GRAPHS = "SELECT ?g WHERE { GRAPH ?g { } FILTER EXISTS { GRAPH ?g { ?s ?p ?o } } }"
    #: The graphs of every quad: what any engine answers (Virtuoso 7.2 binds no graph to ``GRAPH ?g {}``).
    #: Grouped, not ``DISTINCT``: the same graphs, but Virtuoso 7.2 takes a slow path for ``SELECT
    #: DISTINCT ?g`` (2.7 s against 0.03 s for the registry's bundle of 15,000 quads, each time a store
    #: lists its graphs: most of the compliance suite's minutes on Virtuoso).
    _ALL_QUADS_GRAPHS = "SELECT ?g WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g"

    def _graphs_query(self) -> str:
        """:data:`_NAMED_GRAPHS` when the engine answers ``GRAPH ?g {}`` with its graphs, else
        :data:`_ALL_QUADS_GRAPHS`: asked once per store, with two one-row questions (a graph found by
        its quads must be found by its name too), while the dataset holds a graph."""
        if self._graphs_form is not None:
            return self._graphs_form

        def first(query: str) -> list[Any]:
            import orjson

            body = self._query_raw(query + " LIMIT 1", RESULT_FORMATS["json"][1], live_default=False)
            return [b.get("g") for b in orjson.loads(body)["results"]["bindings"]]

        by_quads = first("SELECT ?g WHERE { GRAPH ?g { ?s ?p ?o } }")
        if not by_quads:
            return self._ALL_QUADS_GRAPHS  # an empty dataset: asked again later
        by_name = first("SELECT ?g WHERE { GRAPH ?g { } }")
        form = self._NAMED_GRAPHS if by_name and by_name[0] is not None else self._ALL_QUADS_GRAPHS
        self._graphs_form = form
        return form

    def _every_graph(self) -> list[str]:
        """The engine's named graphs, the store's bookkeeping included."""
        body = self._query_raw(self._graphs_query(), RESULT_FORMATS["json"][1], live_default=False)
        import orjson

        data = orjson.loads(body)
        return sorted(b["g"]["value"] for b in data["results"]["bindings"] if b["g"]["type"] == "uri")

    def named_graphs(self) -> list[str]:
        """The engine's named graphs but the store's bookkeeping, which a request names only when
        it reads it (so the bookkeeping stays out of counts, dumps and the callers' GRAPH patterns),
        nor the engine's own (Virtuoso's system graphs); the history endpoint's too."""
        own = [g for g in self._every_graph() if not is_bookkeeping_graph(g) and g not in ENGINE_GRAPHS]
        return own if self._hist is None else sorted(own + self._hist.named_graphs())

    _GRAPH_QUERY = "CONSTRUCT { ?s ?p ?o } WHERE { GRAPH ?g { ?s ?p ?o } }"

    def _graph_ntriples(self, graph: str) -> bytes:
        """One graph's triples; the request names that graph alone (any graph, bookkeeping too)."""
        query = bind_values(self._GRAPH_QUERY, {"g": rdflib.URIRef(graph)})
        return self._query_raw(query, RDF_FORMATS["ntriples"][1], named_graph_uris=[graph])

    def _graph_triples(self, graph: str) -> list[ox.Triple]:
        return list(ox.parse(self._graph_ntriples(graph), format=ox.RdfFormat.N_TRIPLES))

    def graph(self, graph: str) -> rdflib.Graph:
        # From the quads in Oxigraph's canonical form, as the embedded store gives them: the model reader
        # reads a study through either (graph_quads, or a caller's graph), and both fill one cache entry.
        return rdflib_graph(self.graph_quads(graph))

    def graph_quads(self, graph: str) -> list[ox.Quad]:
        # Through an Oxigraph store in memory: literals in its canonical form, as the protocol says
        # (the engine's own spellings, Virtuoso's decimals and dates, would differ from a document's).
        return stored_quads(self._side(graph)._graph_ntriples(graph), "ntriples", graph)

    def dump(self, rdf_format: str = "nquads", *, include_history: bool = True) -> bytes:
        fmt = RDF_FORMATS[rdf_format][0]
        graphs = self.named_graphs() if include_history else self._live_graphs()
        if fmt in (ox.RdfFormat.N_QUADS, ox.RdfFormat.TRIG):
            quads = [
                ox.Quad(t.subject, t.predicate, t.object, ox.NamedNode(g))
                for g in graphs
                for t in self._side(g)._graph_triples(g)
            ]
            return serialized(ox.serialize(quads, format=fmt))
        triples = [t for g in graphs for t in self._side(g)._graph_triples(g)]
        if fmt is ox.RdfFormat.TURTLE:  # as the embedded store writes Turtle
            return readable_turtle(triples)
        return serialized(ox.serialize(triples, format=fmt))

    def __len__(self) -> int:
        unlisted = ", ".join(f"<{g}>" for g in sorted(ENGINE_GRAPHS))
        rows = self.select("SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } "
                           f"FILTER(!STRSTARTS(STR(?g), {sparql_string(BOOKKEEPING_PREFIX)}) && ?g NOT IN ({unlisted})) }}")
        return int(rows.values("n")[0] or 0) + (0 if self._hist is None else len(self._hist))

    # -- writing -----------------------------------------------------------
    def _send(self, update: str) -> None:
        headers = {"Content-Type": "application/sparql-update"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        try:
            self._request(self.update_url, with_prologue(update).encode("utf-8"), headers, self.auth)
        finally:
            self._graphs = None  # even a failed request may have been applied before the answer was lost

    @staticmethod
    def _generation_ops() -> list[GraphOp]:
        return [ReplaceGraph(GENERATION_GRAPH, f'<{GENERATION}> <{GENERATION}> "{uuid.uuid4()}" .', "ntriples")]

    def update(self, update: str) -> None:
        """Send SPARQL Update text as it is, and a new generation token in the same request."""
        last = [tok for _, tok in tokens(update)][-1:]
        # No operation (an empty update, a prologue alone) or a trailing ';': nothing to separate.
        joint = "\n" if not first_keyword(update) or last == [";"] else "\n;\n"
        if self._hist is not None:  # the token lives with the bookkeeping, on the history endpoint
            self._send(update)
            self._hist._send(update_request(self._generation_ops()))
            return
        self._send(update + joint + update_request(self._generation_ops()))

    @property
    def generation(self) -> str | None:
        """The token the last write through this interface (from any process) left, or None if none
        did: cheap to read, unlike counting the engine's quads. A write made by another program
        that talks to the engine directly does not change it."""
        if self._hist is not None:
            return self._hist.generation
        values = self._bookkeeping_values(
            GENERATION_GRAPH, "SELECT ?token WHERE { GRAPH ?g { ?s ?s ?token } }",
            {"g": rdflib.URIRef(GENERATION_GRAPH), "s": rdflib.URIRef(GENERATION)}, "token")
        return values[0] if values else None

    def dataset_id(self, *, create: bool = True) -> str | None:
        """The dataset's identity: a random id the engine holds, written once (``create``: by the first
        client that asks; None when there is none and it cannot or may not be written).

        Why: a URL does not name a dataset for long (ports are reused, an engine is started again on
        another directory), and what a client keeps about an endpoint's content (a search index file,
        :func:`acse_kg.search_index.index_path`) must never be taken for another dataset's. An id the
        dataset itself holds goes with its content: a fresh engine at the same URL has none (or another)
        and so is told apart. Written with the bookkeeping, under a condition that the graph is empty
        (two clients writing it at once could each add one, so the smallest is the id, whoever reads);
        with a history endpoint, one on each side, joined. An endpoint that refuses the write
        (:class:`EndpointRefused`) has none; one we cannot reach is an error, not "none"."""
        ids = [side._own_id(create) for side in ([self._hist, self] if self._hist is not None else [self])]
        return None if any(i is None for i in ids) else "/".join(cast(list[str], ids))

    def _own_id(self, create: bool) -> str | None:
        """This endpoint's id (see :meth:`dataset_id`): with a history endpoint each side holds one, so
        that a live engine started again on another directory is told apart though the history is kept."""
        query = "SELECT ?id WHERE { GRAPH ?g { ?s ?s ?id } }"
        bindings = {"g": rdflib.URIRef(IDENTITY_GRAPH), "s": rdflib.URIRef(DATASET_ID)}
        values = self._bookkeeping_values(IDENTITY_GRAPH, query, bindings, "id")
        if not values and create:
            mine = ox.Literal(str(uuid.uuid4()))
            try:
                self._send(f"INSERT {{ GRAPH <{IDENTITY_GRAPH}> {{ <{DATASET_ID}> <{DATASET_ID}> {mine} }} }} "
                           f"WHERE {{ FILTER NOT EXISTS {{ GRAPH <{IDENTITY_GRAPH}> {{ ?s ?p ?o }} }} }}")
            except (EndpointRefused, QuerySyntaxError):
                return None  # a read-only endpoint (or one that takes no update): none written, and we may not
            values = self._bookkeeping_values(IDENTITY_GRAPH, query, bindings, "id")
        return min(values) if values else None

    def write(self, ops: Sequence[GraphOp], *, claim: Claim | None = None) -> None:
        """ONE update request (see :func:`~acse_kg.store.update_request`), which a SPARQL 1.1
        endpoint applies atomically; the data is parsed first, so bad data sends nothing. Under a
        claim the write holds the claim's lock (module docstring) and the token is read back
        afterwards: the request cannot say whether its condition held. With a history endpoint,
        see :meth:`_write_split`; new quads alone, with a dataset URL, take the engine's bulk path."""
        if self._hist is not None:
            self._write_split(ops, claim)
            return
        if claim is None and self.dataset_url and ops and all(isinstance(op, AddQuads) for op in ops):
            self._post_quads(b"".join(cast(AddQuads, op).data for op in ops))
            return
        text = update_request([*ops, *self._generation_ops()], claim)
        if claim is None:
            self._send(text)
            return
        with self._locked(claim.lock):
            self._send(text)
        check_claim(self, claim)

    def _write_split(self, ops: Sequence[GraphOp], claim: Claim | None) -> None:
        """A write over the two endpoints (module docstring): the history's request first, with the
        claim, the generation token and, when the live endpoint has operations too, a journal entry
        holding its request; then the live request, with the entry's applied-mark; then the entry
        goes, then the mark.

        A claimed write does it all under the claim's lock (taken on the history endpoint): a
        copy from a live graph into the history (the archive of the version before) is read there,
        so another writer of the same study can never archive a live graph whose new content its
        winner has logged but not yet sent."""
        assert self._hist is not None
        if claim is None:
            self._write_split_locked(ops, None)
            return
        if is_live_graph(claim.graph):
            raise StoreError(f"a claim on the live graph <{claim.graph}>: with a history endpoint, "
                             "claims are taken in the history (the versions' log)")
        with self._hist._locked(claim.lock):
            self._write_split_locked(ops, claim)

    def _write_split_locked(self, ops: Sequence[GraphOp], claim: Claim | None) -> None:
        assert self._hist is not None
        live: list[GraphOp] = []
        hist: list[GraphOp] = []
        changed: set[str] = set()
        # New quads parsed once, each graph's written back by Oxigraph's serialiser (N-Quads, and the
        # same lines without their graph for the journal's INSERT DATA): a bulk batch is ~460,000 quads.
        for op in ops:
            if isinstance(op, AddQuads):
                by_graph = quads_by_graph(op.data)
                for side, graphs in ((live, [g for g in by_graph if is_live_graph(g)]),
                                     (hist, [g for g in by_graph if not is_live_graph(g)])):
                    if graphs:  # the journal's INSERT DATA is made from the live side's (below)
                        side.append(_parsed_quads(by_graph, graphs,
                                                  insert_body=side is live and self.dataset_url is not None))
                changed |= set(by_graph)
                continue
            if isinstance(op, CopyGraph) and is_live_graph(op.source) != is_live_graph(op.target):
                if op.source in changed:
                    raise StoreError(f"cannot copy <{op.source}> into <{op.target}> (another dataset) after "
                                     "changing it in the same write: copy it first")
                op = ReplaceGraph(op.target, self._side(op.source)._graph_ntriples(op.source), "ntriples")
            target = op.target if isinstance(op, CopyGraph) else op.graph
            (live if is_live_graph(target) else hist).append(op)
            changed.add(target)
        bulk = bool(live) and all(isinstance(op, _ParsedQuads) for op in live)
        if bulk and self.dataset_url:  # the live side is Oxigraph's (its /store): blank nodes go in INSERT DATA
            live_text: str | None = "INSERT DATA {\n" + "".join(cast(_ParsedQuads, op).insert_body for op in live) + "}"
        else:
            live_text = update_request(live) if live else None  # parsed here: bad data sends nothing
        if live_text is None:
            self._hist._send(update_request([*hist, *self._generation_ops()], claim))
            if claim is not None:
                check_claim(self._hist, claim)  # a conflict: nothing was written
            return
        key = str(uuid.uuid4())
        stamp = _now_stamp()
        entry_text, pieces = _journal_entry(stamp, key, live_text)
        # Made of terms, not parsed from N-Triples: a bulk batch's live request is tens of MB.
        entry_node = ox.NamedNode(f"{JOURNAL_ENTRY}{key}")
        # The pieces first: on an engine that applies a request's parts in turn, an entry is never there
        # without them.
        journal = [(JOURNAL_GRAPH, ox.Triple(entry_node, ox.NamedNode(JOURNAL_PIECE_OF), ox.Literal(piece)))
                   for piece in pieces]
        journal += [(JOURNAL_GRAPH, ox.Triple(ox.NamedNode(JOURNAL), ox.NamedNode(PENDING_UPDATE), ox.Literal(entry_text))),
                    (JOURNAL_GRAPH, ox.Triple(entry_node, ox.NamedNode(JOURNAL_ALIVE), ox.Literal(stamp)))]
        hist_side = self._hist
        # The heartbeat beats from the history's request on: that request (a bulk batch's log and its
        # journal entry, as big as the live request) may itself take longer than the TTL, and its entry,
        # stamped before it was sent, then arrives as old as that. The beats meanwhile leave a fresh alive
        # stamp where the entry's will be (:meth:`_refresh_alive` writes one whether or not there is one),
        # so that the entry arrives beside its writer's last beat, and a store opened then leaves it alone.
        with _heartbeat(lambda: hist_side._refresh_alive(key), f"journal entry {key}"):
            try:
                self._hist._send(update_request([*hist, *self._generation_ops()], claim, made=journal))
                if claim is not None:
                    check_claim(self._hist, claim)  # a conflict: nothing was written on either endpoint
            except BaseException:
                # No entry (a conflict, a refused request): the beats' stamp goes, else the next recovery's.
                with suppress(StoreError):
                    hist_side._forget_alive([key])
                raise
            if time.time() - float(stamp) > LOCK_TTL_S / 2:  # it took long: the stamp fresh now, not at the next beat
                with suppress(StoreError):  # as a beat's: a refresh that fails does not fail the write
                    self._hist._refresh_alive(key)
            try:
                if self.dataset_url and all(isinstance(op, AddQuads) for op in live):
                    payload = b"".join(cast(AddQuads, op).data for op in live)
                    self._post_quads(payload + f"{_applied_mark(key)} .\n".encode(), generation=False,
                                     checked=bulk)
                else:
                    self._send(_marked(live_text, key))
            finally:
                self._graphs = None
        self._hist._forget_journal(entry_text)  # then the mark: while the entry is there, so is its mark
        self._forget_marks([key])

    def _post_quads(self, data: bytes, *, generation: bool = True, checked: bool = False) -> None:
        """The bulk path: the N-Quads POSTed to the dataset URL, which the Oxigraph server parses in
        Rust and adds in one transaction (a bad quad anywhere adds nothing); checked here first, so
        bad data sends nothing. The generation token follows in a second request: a reader may
        see the quads one request before it learns that the engine changed. With a history endpoint
        (``generation`` False) the token went with the history's request, and the live quads of a
        journalled write (new studies of a bulk import) take this path too, with the entry's
        applied-mark among them (one transaction): the journal entry keeps them as an update for a
        recovery, which applies them only if the mark is not there (a study graph's blank nodes, an
        RDF list of keywords, added again would be new nodes: the list doubled). ``checked``: ``data``
        is Oxigraph's own serialisation of quads it parsed, sent as it is."""
        if not checked:
            data = b"".join(f"{q} .\n".encode() for q in iter_quads(data))
        headers = {"Content-Type": RDF_FORMATS["nquads"][1]}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        assert self.dataset_url is not None
        try:
            self._request(self.dataset_url, data, headers, self.auth)
        finally:
            self._graphs = None
        if generation:
            self._send(update_request(self._generation_ops()))

    @contextmanager
    def _locked(self, scope: str) -> Iterator[None]:
        """Hold the write lock on ``scope`` (see the module docstring) for the ``with`` block, with a
        heartbeat (:meth:`_refresh_request`) while it is held: a block longer than the TTL (a bulk batch
        to a slow engine) keeps the lock."""
        subject, request = rdflib.URIRef(scope), rdflib.URIRef(LOCK_REQUEST)
        deadline = time.monotonic() + LOCK_WAIT_S
        pause = 0.005
        while True:
            me = str(uuid.uuid4())
            mine = rdflib.Literal(f"{_now_stamp()} {me}")
            entry = f"{subject.n3()} {request.n3()} {mine.n3()} .\n"
            self._send(update_request([AddToGraph(LOCK_GRAPH, entry, "ntriples")]))
            requests = self._bookkeeping_values(
                LOCK_GRAPH, "SELECT ?r WHERE { GRAPH ?locks { ?scope ?request ?r } }",
                {"locks": rdflib.URIRef(LOCK_GRAPH), "scope": subject, "request": request}, "r")
            now, others, dead = time.time(), list[str](), list[str]()
            for r in requests:
                if r == str(mine):
                    continue
                (dead if now - _stamp(str(r)) > LOCK_TTL_S else others).append(r)
            if dead:
                gone = "".join(f"{subject.n3()} {request.n3()} {rdflib.Literal(r).n3()} .\n" for r in dead)
                self._send(update_request([RemoveFromGraph(LOCK_GRAPH, gone, "ntriples")]))
            if not others:
                break
            self._send(update_request([RemoveFromGraph(LOCK_GRAPH, entry, "ntriples")]))
            if time.monotonic() > deadline:
                raise StoreError(f"could not take the write lock on <{scope}> within {LOCK_WAIT_S:.0f} s: "
                                 "other writers held it all along")
            time.sleep(random.uniform(0, pause))
            pause = min(pause * 2, 0.5)
        held = [str(mine)]  # our requests that may be there (more than one after a refresh whose answer was lost)
        try:
            with _heartbeat(lambda: self._refresh_request(scope, held, me), f"the write lock on <{scope}>"):
                yield
        finally:  # the heartbeat is stopped: ``held`` is ours alone again
            gone = "".join(f"{subject.n3()} {request.n3()} {rdflib.Literal(r).n3()} .\n" for r in held)
            self._send(update_request([RemoveFromGraph(LOCK_GRAPH, gone, "ntriples")]))

    def _refresh_request(self, scope: str, held: list[str], me: str) -> None:
        """The heartbeat of a lock's holder: its request on ``scope`` replaced by one with a fresh stamp
        (delete and insert in one update), only while it is there (a request removed by another writer,
        which took it for a dead writer's, is never put back: that writer may hold the lock now).
        ``held`` is kept to the requests that may be there, for the release."""
        fresh = f"{_now_stamp()} {me}"
        subject, request = f"<{scope}> <{LOCK_REQUEST}>", " ".join(rdflib.Literal(r).n3() for r in held)
        try:
            self._send(f"DELETE {{ GRAPH <{LOCK_GRAPH}> {{ {subject} ?r }} }} "
                       f"INSERT {{ GRAPH <{LOCK_GRAPH}> {{ {subject} {rdflib.Literal(fresh).n3()} }} }} "
                       f"WHERE {{ VALUES ?r {{ {request} }} GRAPH <{LOCK_GRAPH}> {{ {subject} ?r }} }}")
        except StoreError:
            held.append(fresh)  # sent, perhaps applied: the release removes it too
            raise
        held[:] = [fresh]

    def replace_graph(self, graph: str, data: bytes | str, rdf_format: str = "turtle") -> None:
        self.write([ReplaceGraph(graph, data, rdf_format)])

    def add_to_graph(self, graph: str, data: bytes | str, rdf_format: str = "turtle") -> None:
        self.write([AddToGraph(graph, data, rdf_format)])

    def drop_graph(self, graph: str) -> None:
        self.write([DropGraph(graph)])

    def close(self) -> None:
        self._client.close()
