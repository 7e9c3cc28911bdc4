"""Versions of a study record: the one place that writes a study's live graph.

``load`` (an edited record file), ``import`` (a ClinicalTrials.gov record)
and ``history.edit_study`` (a curator's edit) all call :func:`save_study`,
which parses the new content, compares it with the live graph when asked
to, and then, in ONE write transaction of the store: copies the live graph to
the archive graph of its version, replaces the live graph, and logs the new
version (who, when, note) in PROV-O.

Two writers (the CLI through ``--store http://…/sparql`` beside the server,
two threads of the server) can race for the same version number. The write
carries a precondition, a :class:`~acse_kg.store.Claim` on the new version's
IRI in the log: of two writers of version N only one writes it; the other's
transaction is a no-op, it reads the state again and writes version N+1,
archiving the first one's as version N. No version is ever lost.

Layout. Version ``n`` of study ``NCT…`` is the entity
``<HISTORY_PREFIX>NCT…/v<n>``; the current version lives in the study's live
graph, each earlier one in a named graph of its version IRI. A study loaded
from the bundle without any logged write is version 0.
"""

from __future__ import annotations

import random
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import pyoxigraph as ox
import rdflib
from rdflib import RDF, RDFS, XSD, Literal, URIRef
from rdflib.namespace import PROV
from rdflib.term import Node

from .loader import study_graph_name
from .namespaces import ACSE, BASE, study_iri
from .store import (
    HISTORY_PREFIX,
    AddToGraph,
    Claim,
    CopyGraph,
    GraphOp,
    GraphStore,
    ReplaceGraph,
    StoreError,
    WriteConflict,
    has_graph,
    history_of,
    parse_triples,
    stored_quads,
    term_value,
)

LOG_GRAPH = HISTORY_PREFIX + "log"
AGENT_PREFIX = BASE + "id/agent/"

#: How long a writer that keeps losing the race for a version number goes on reading the state again
#: and retrying (each loss means another writer's version was written: the registry made progress).
WRITE_PATIENCE_S = 60.0


def version_iri(nct: str, n: int) -> str:
    return f"{HISTORY_PREFIX}{nct}/v{n}"


def agent_iri(agent: str) -> str:
    return AGENT_PREFIX + (re.sub(r"[^A-Za-z0-9]+", "-", agent).strip("-") or "unknown")


def logged_versions(store: GraphStore, nct: str) -> list[dict[str, Node | None]]:
    """The log's rows for the study (version IRI, number, agent, time, note), oldest first."""
    return history_of(store).select(
        """SELECT ?v ?n ?agent ?time ?note WHERE { GRAPH ?log {
              ?v prov:specializationOf ?study ; acse:versionNumber ?n .
              OPTIONAL { ?v prov:wasAttributedTo/rdfs:label ?agent }
              OPTIONAL { ?v prov:generatedAtTime ?time }
              OPTIONAL { ?v rdfs:comment ?note } } } ORDER BY ?n""",
        {"log": URIRef(LOG_GRAPH), "study": URIRef(study_iri(nct))},
    ).rows


def has_live(store: GraphStore, nct: str) -> bool:
    """Whether the study's live graph holds any triple."""
    return has_graph(store, study_graph_name(nct))


def same_quads(a: list[ox.Quad], b: list[ox.Quad]) -> bool:
    """Whether two graphs' quads (each list one graph's, no quad twice) are the same up to blank-node
    names: compared in Oxigraph, by a canonical form of each (rdflib's isomorphism over graphs it had
    to build took 0.3 s a 5,000-triple study)."""
    if len(a) != len(b):
        return False
    one, other = ox.Dataset(a), ox.Dataset(b)
    if any(isinstance(x, ox.BlankNode) for q in a for x in (q.subject, q.object)):
        one.canonicalize(ox.CanonicalizationAlgorithm.UNSTABLE)  # both in this process: the same algorithm
        other.canonicalize(ox.CanonicalizationAlgorithm.UNSTABLE)
    return bool(one == other)


@dataclass(frozen=True)
class Saved:
    """What :func:`save_study` did."""

    nct: str
    graph: str  # the live graph
    version: int | None  # the version written; None when the content was unchanged
    archived: str | None  # the archive graph of the version before, None for a new study or no write

    @property
    def unchanged(self) -> bool:
        return self.version is None


def current_versions(store: GraphStore) -> dict[str, tuple[int, str | None]]:
    """Every logged study's current version number and the digest of the record it was imported from
    (None for a version made by an edit or an import before digests were logged), from ONE query of
    the log: what a bulk import reads once to skip the records it holds already."""
    rows = history_of(store).select(
        """SELECT ?study ?n ?digest WHERE { GRAPH ?log {
              ?v prov:specializationOf ?study ; acse:versionNumber ?n .
              OPTIONAL { ?v acse:recordDigest ?digest } } }""",
        {"log": URIRef(LOG_GRAPH)},
    ).rows
    out: dict[str, tuple[int, str | None]] = {}
    prefix = study_iri("")
    for r in rows:
        nct = str(r["study"])[len(prefix):]
        n = int(term_value(r["n"]))
        if n >= out.get(nct, (-1, None))[0]:
            out[nct] = (n, str(r["digest"]) if r.get("digest") is not None else None)
    return out


def log_entry(nct: str, new: int, archived: str | None, agent: str, note: str | None,
              when: datetime, digest: str | None = None) -> bytes:
    """The log's triples for version ``new`` (see :func:`_log_entry`), for a bulk write that adds a
    study's first version together with others in one transaction."""
    return _log_entry(nct, new, archived, agent, note, when, digest)


def _log_entry(nct: str, new: int, archived: str | None, agent: str, note: str | None,
               when: datetime, digest: str | None = None) -> bytes:
    """The log's triples for version ``new``, as N-Triples (written by rdflib: no SPARQL text)."""
    g = rdflib.Graph()
    v, who = URIRef(version_iri(nct, new)), URIRef(agent_iri(agent))
    g.add((v, RDF.type, PROV.Entity))
    g.add((v, PROV.specializationOf, URIRef(study_iri(nct))))
    g.add((v, ACSE.versionNumber, Literal(new)))
    g.add((v, PROV.wasAttributedTo, who))
    g.add((v, PROV.generatedAtTime, Literal(when.isoformat(timespec="milliseconds"), datatype=XSD.dateTime)))
    if note:
        g.add((v, RDFS.comment, Literal(note)))
    if archived:
        g.add((v, PROV.wasRevisionOf, URIRef(archived)))
    if digest:  # the source record's digest: a re-import of the same record is known without mapping it
        g.add((v, ACSE.recordDigest, Literal(digest)))
    g.add((who, RDF.type, PROV.Agent))
    g.add((who, RDFS.label, Literal(agent)))
    return g.serialize(format="nt", encoding="utf-8")


def save_study(store: GraphStore, nct: str, data: bytes | str, rdf_format: str = "ntriples", *,
               agent: str, note: str | None = None, when: datetime | None = None,
               if_changed: bool = True, digest: str | None = None) -> Saved:
    """Make ``data`` the live version of study ``nct``, keeping the version before it; all or nothing.

    The data is parsed before anything is read or written (a bad document
    raises :class:`StoreError` and changes nothing). With ``if_changed``, a
    content equal to the live graph writes nothing. Otherwise one write
    transaction archives the live graph as its version, replaces it and logs
    the new version, claimed by its IRI (see the module docstring); a writer
    that loses the race reads the state again and writes the next version.
    ``digest`` (of the source record, :func:`acse_kg.ctgov.import_.record_digest`) is logged with the
    version, so that importing the same record again is known to change nothing without mapping it.
    """
    graph = study_graph_name(nct)
    new_content = stored_quads(data, rdf_format, graph) if if_changed else None
    if new_content is None:
        parse_triples(data, rdf_format, graph)  # bad data: refused before anything is read or written
    deadline, attempt = time.monotonic() + WRITE_PATIENCE_S, 0
    while True:
        attempt += 1
        live = has_live(store, nct)
        rows = logged_versions(store, nct)
        if live and new_content is not None and same_quads(store.graph_quads(graph), new_content):
            return Saved(nct, graph, None, None)
        current = max((int(term_value(r["n"])) for r in rows), default=0)
        new = current + 1
        archived = version_iri(nct, current) if live else None
        ops: list[GraphOp] = [CopyGraph(graph, archived)] if archived else []
        ops += [
            ReplaceGraph(graph, data, rdf_format),
            AddToGraph(LOG_GRAPH, _log_entry(nct, new, archived, agent, note,
                                             when or datetime.now(UTC), digest), "ntriples"),
        ]
        try:
            store.write(ops, claim=Claim(LOG_GRAPH, version_iri(nct, new), scope=study_iri(nct)))
        except WriteConflict:  # another writer took version `new`: read the state again
            if time.monotonic() > deadline:
                raise StoreError(f"{nct}: gave up after {attempt} attempts in {WRITE_PATIENCE_S:.0f} s, each "
                                 "beaten by another writer of the same study; nothing was written by this one") from None
            time.sleep(random.uniform(0, min(0.2, 0.002 * 2 ** min(attempt, 7))))
            continue
        return Saved(nct, graph, new, archived)
