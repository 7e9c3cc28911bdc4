"""History on an endpoint of its own: the live graphs on an ``oxigraph serve --union-default-graph``,
queried without naming a graph; archived versions, the log and the bookkeeping on a second server.
The history behaves as on the embedded store (versions, diffs, claims under a race)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import httpx
import pytest
import rdflib
from oxigraph_server_fixtures import OxigraphServer, start_oxigraph
from test_history_concurrency import NCT, edited, race_versions

from acse_kg import remote
from acse_kg.history import diff_versions, edit_study, list_versions
from acse_kg.loader import study_graph_name
from acse_kg.remote import DATASET_URL_ENV, HISTORY_URL_ENV, JOURNAL, SparqlEndpointStore
from acse_kg.store import (
    JOURNAL_GRAPH,
    PENDING_UPDATE,
    AddQuads,
    GraphStore,
    ReplaceGraph,
    StoreError,
    is_live_graph,
    open_store,
    update_request,
)
from acse_kg.versions import LOG_GRAPH, version_iri

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDF_FIRST, RDF_REST, RDF_NIL = RDF + "first", RDF + "rest", RDF + "nil"
def test_a_journal_entry_whose_history_request_outlasts_the_ttl_is_not_taken_for_a_dead_writers(
    servers: tuple[OxigraphServer, OxigraphServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The history's request may itself be slow (a bulk batch's log and journal entry, megabytes, to a
    slow engine): its entry, stamped before it was sent, arrives older than the TTL (here: held 2.5 s
    past a TTL of 1 s), and a recovery at that moment (a store opened) must still find its writer alive.
    The writer's beats while its request is on the way leave a fresh alive stamp for the entry to land
    beside. Before, a beat refreshed only a stamp that was there, so those beats did nothing: the store
    opened applied the live request and the writer applied it again (the list of keywords twice).
    (Beats here run only while the request is held, so that none lands between its commit and the
    recovery, where the writer's next beat would have saved it by chance.)"""
    live, history = servers
    monkeypatch.setattr(remote, "LOCK_TTL_S", 1.0)
    graph = study_graph_name(KEYWORDS)
    holding = threading.Event()
    real_heartbeat = remote._heartbeat
    monkeypatch.setattr(remote, "_heartbeat", lambda beat, what: real_heartbeat(
        lambda: beat() if holding.is_set() else None, what))

    def carries_the_entry(request: httpx.Request) -> bool:
        text = unquote_plus(request.content.decode())
        return str(request.url) == history.update and "INSERT DATA" in text and remote.PENDING_UPDATE in text

    def slow(request: httpx.Request) -> None:
        if carries_the_entry(request):
            holding.set()
            time.sleep(2.5)
            holding.clear()

    other = SparqlEndpointStore(live.query, history_url=history.query)
    recovered: list[list[str]] = []

    def recover_at_once(response: httpx.Response) -> None:
        if carries_the_entry(response.request) and not recovered:
            other._recover()  # what a store opened now does first
            recovered.append(keywords_listed(live, graph))

    writer = SparqlEndpointStore(live.query, history_url=history.query, client=httpx.Client(
        timeout=30, event_hooks={"request": [slow], "response": [recover_at_once]}))
    writer.write([AddQuads(keywords_quads(graph))])
    assert recovered == [[]]  # the recovery left the entry to its writer
    assert keywords_listed(live, graph) == ["basket", "crizotinib"]
    assert not _ask_on(history, f"ASK {{ GRAPH <{JOURNAL_GRAPH}> {{ ?s ?p ?o }} }}")["boolean"]  # nor a stamp


def test_an_alive_stamp_without_an_entry_is_removed_by_a_recovery_once_old(
    servers: tuple[OxigraphServer, OxigraphServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer that died after a beat and before its entry was written leaves a stamp alone: the next
    recovery past the TTL removes it (a fresh one, of a writer on its way, is left)."""
    live, history = servers
    monkeypatch.setattr(remote, "LOCK_TTL_S", 1.0)
    store = SparqlEndpointStore(live.query, history_url=history.query)
    assert store._hist is not None
    store._hist._refresh_alive("dead-writer")
    store._recover()
    assert _ask_on(history, f"ASK {{ GRAPH <{JOURNAL_GRAPH}> {{ ?s ?p ?o }} }}")["boolean"]  # fresh: kept
    time.sleep(1.2)
    store._recover()
    assert not _ask_on(history, f"ASK {{ GRAPH <{JOURNAL_GRAPH}> {{ ?s ?p ?o }} }}")["boolean"]


EVERY_GRAPH = "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }"


def graphs_on(server: OxigraphServer) -> list[str]:
    """The server's own named graphs, asked directly (no registry code between)."""
    answer = httpx.post(server.query, data={"query": EVERY_GRAPH},
                        headers={"Accept": "application/sparql-results+json"}, timeout=30)
    return [b["g"]["value"] for b in answer.json()["results"]["bindings"]]


@pytest.fixture()
def servers(tmp_path: Path) -> Iterator[tuple[OxigraphServer, OxigraphServer]]:
    live = start_oxigraph(tmp_path / "live", union_default_graph=True)
    history = start_oxigraph(tmp_path / "history")
    try:
        yield live, history
    finally:
        live.stop()
        history.stop()


@pytest.fixture()
def split(servers: tuple[OxigraphServer, OxigraphServer], monkeypatch: pytest.MonkeyPatch) -> SparqlEndpointStore:
    live, history = servers
    monkeypatch.setenv(HISTORY_URL_ENV, history.query)
    store = open_store(live.query)  # loads the bundle, as the CLI does
    assert isinstance(store, SparqlEndpointStore) and store.split
    return store


def edit(store: GraphStore, note: str) -> None:
    base = store.graph(study_graph_name(NCT)).serialize(format="nt")
    edit_study(store, NCT, edited(base, note), "ntriples", agent="test", note=note)


def test_versions_are_kept_on_the_history_server_and_read_as_on_the_embedded_store(
    split: SparqlEndpointStore, servers: tuple[OxigraphServer, OxigraphServer], fresh_store: GraphStore
) -> None:
    live, history = servers
    for st in (split, fresh_store):
        edit(st, "first")
        edit(st, "second")
    assert all(is_live_graph(g) for g in graphs_on(live))
    assert {version_iri(NCT, 0), version_iri(NCT, 1), LOG_GRAPH} <= set(graphs_on(history))
    assert [v.number for v in list_versions(split, NCT)] == [v.number for v in list_versions(fresh_store, NCT)]
    assert diff_versions(split, NCT, 1, 2) == diff_versions(fresh_store, NCT, 1, 2)
    assert version_iri(NCT, 1) in split.named_graphs() and version_iri(NCT, 1) not in split.live_graphs()


def test_a_live_query_names_no_graph(split: SparqlEndpointStore) -> None:
    sent: list[bytes] = []
    split._client.event_hooks["request"].append(lambda request: sent.append(request.read()))
    assert split.select("SELECT (COUNT(?c) AS ?n) WHERE { ?s acse:hasCohort ?c }").values("n") == [23]
    assert sent and not any(b"graph-uri" in body for body in sent)


def test_writers_racing_for_a_version_lose_none(split: SparqlEndpointStore) -> None:
    race_versions(split, writers=3, edits=2)


def test_a_dead_writers_journal_entry_is_applied_when_a_store_is_opened(
    split: SparqlEndpointStore, servers: tuple[OxigraphServer, OxigraphServer]
) -> None:
    live, history = servers
    graph = study_graph_name("NCT99999999")
    pending = "0.0\n" + update_request([ReplaceGraph(graph, "<urn:x:a> <urn:x:p> <urn:x:o> .", "ntriples")])
    entry = f"<{JOURNAL}> <{PENDING_UPDATE}> {rdflib.Literal(pending).n3()} ."
    httpx.post(history.update, content=f"INSERT DATA {{ GRAPH <{JOURNAL_GRAPH}> {{ {entry} }} }}",
               headers={"Content-Type": "application/sparql-update"}, timeout=30).raise_for_status()
    reopened = SparqlEndpointStore(live.query, history_url=history.query)
    assert {(str(s), str(o)) for s, _, o in reopened.graph(graph)} == {("urn:x:a", "urn:x:o")}
    assert not reopened.history.ask("ASK { GRAPH ?g { ?s ?p ?o } }", {"g": rdflib.URIRef(JOURNAL_GRAPH)})


class _Died(Exception):
    """The process ends here: the request it was about to send is never sent."""


def _client_dying_before(request_of: Callable[[httpx.Request], bool]) -> httpx.Client:
    """An HTTP client whose process dies before the first request ``request_of`` tells."""
    def hook(request: httpx.Request) -> None:
        if request_of(request):
            raise _Died

    return httpx.Client(timeout=30, follow_redirects=True, event_hooks={"request": [hook]})


def _ask_on(server: OxigraphServer, query: str) -> Any:
    answer = httpx.post(server.query, data={"query": query}, headers={"Accept": "application/sparql-results+json"},
                        timeout=30)
    return answer.json()


KEYWORDS = "NCT09999991"


def keywords_quads(graph: str) -> bytes:
    """A new study whose graph holds an RDF list of keywords (blank nodes: added twice, a list is two
    lists), and its log entry: the live and the history's part of one write."""
    return (f'<urn:x:{KEYWORDS}> <http://schema.org/keywords> _:a <{graph}> .\n'
            f'_:a <{RDF_FIRST}> "basket" <{graph}> .\n_:a <{RDF_REST}> _:b <{graph}> .\n'
            f'_:b <{RDF_FIRST}> "crizotinib" <{graph}> .\n_:b <{RDF_REST}> <{RDF_NIL}> <{graph}> .\n'
            f'<urn:x:{KEYWORDS}-v1> <urn:x:logged> "1" <{LOG_GRAPH}> .\n').encode()


def writes_the_live_server(live: OxigraphServer, request: httpx.Request) -> bool:
    return str(request.url).startswith(live.base) and str(request.url) != live.query


def keywords_listed(live: OxigraphServer, graph: str) -> list[str]:
    items = _ask_on(live, f"SELECT ?item WHERE {{ GRAPH <{graph}> {{ ?list <{RDF_FIRST}> ?item }} }}")
    return sorted(b["item"]["value"] for b in items["results"]["bindings"])


@pytest.mark.parametrize("bulk", [True, False], ids=["through-the-dataset-url", "as-an-update"])
@pytest.mark.parametrize("dies", ["before-its-live-request", "before-removing-its-entry"])
def test_a_journalled_write_replayed_by_recoveries_leaves_each_blank_node_list_once(
    servers: tuple[OxigraphServer, OxigraphServer], bulk: bool, dies: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new study whose graph holds an RDF list (blank nodes: added twice, a list is two lists) and its
    log entry, written over both servers by a writer that dies (before its live request, or after it
    and before its journal entry goes); then a recovery that dies once it has dealt with the live side,
    then one that finishes. The live request is applied once in all: each list is there once, and no
    entry nor applied-mark is left (before, every recovery sent the request again)."""
    live, history = servers
    graph = study_graph_name(KEYWORDS)
    quads = keywords_quads(graph)
    dataset_url = live.base + "/store" if bulk else None

    def removes_an_entry(request: httpx.Request) -> bool:
        return str(request.url) == history.update and f"<{PENDING_UPDATE}> ?entry".encode() in request.read()

    writer = SparqlEndpointStore(live.query, history_url=history.query, dataset_url=dataset_url,
                                 client=_client_dying_before(
                                     partial(writes_the_live_server, live) if dies == "before-its-live-request"
                                     else removes_an_entry))
    with pytest.raises(_Died):
        writer.write([AddQuads(quads)])
    writer.close()
    monkeypatch.setattr(remote, "LOCK_TTL_S", 0.0)  # the writer's entry is a dead writer's at once
    recovering = _client_dying_before(removes_an_entry)
    with pytest.raises(_Died):
        SparqlEndpointStore(live.query, history_url=history.query, client=recovering)
    recovering.close()
    SparqlEndpointStore(live.query, history_url=history.query).close()
    assert keywords_listed(live, graph) == ["basket", "crizotinib"]
    assert _ask_on(history, f"ASK {{ GRAPH <{LOG_GRAPH}> {{ <urn:x:{KEYWORDS}-v1> ?p ?o }} }}")["boolean"]
    assert not _ask_on(history, f"ASK {{ GRAPH <{JOURNAL_GRAPH}> {{ ?s ?p ?o }} }}")["boolean"]
    assert not _ask_on(live, f"ASK {{ GRAPH <{JOURNAL_GRAPH}> {{ ?s ?p ?o }} }}")["boolean"]  # no mark left


def pieced_entry_left_by_a_dead_writer(live: OxigraphServer, history: OxigraphServer,
                                       monkeypatch: pytest.MonkeyPatch) -> str:
    """The keywords study written by a writer that dies before its live request, its journal entry in
    pieces of 64 characters (left on the history server); returns the study's graph."""
    monkeypatch.setattr(remote, "JOURNAL_PIECE", 64)
    graph = study_graph_name(KEYWORDS)
    writer = SparqlEndpointStore(live.query, history_url=history.query,
                                 client=_client_dying_before(partial(writes_the_live_server, live)))
    with pytest.raises(_Died):
        writer.write([AddQuads(keywords_quads(graph))])
    writer.close()
    return graph


def test_a_long_live_request_is_journalled_in_pieces_and_a_recovery_joins_them(
    servers: tuple[OxigraphServer, OxigraphServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Oxigraph never removes a string it stored, and a literal of tens of MB left in the history's files
    made lookups of the strings stored beside it slow for good: a live request longer than a piece is
    journalled in pieces, none longer than a piece (here pieces of 64 characters), and a dead writer's
    pieces are joined again and applied once by the store opened next."""
    live, history = servers
    graph = pieced_entry_left_by_a_dead_writer(live, history, monkeypatch)
    lengths = _ask_on(history, f"SELECT ?p (STRLEN(STR(?o)) AS ?n) WHERE {{ GRAPH <{JOURNAL_GRAPH}> {{ ?s ?p ?o }} }}")
    by_kind: dict[str, list[int]] = {}
    for row in lengths["results"]["bindings"]:
        by_kind.setdefault(row["p"]["value"], []).append(int(row["n"]["value"]))
    assert len(by_kind[remote.JOURNAL_PIECE_OF]) > 2
    assert max(n for ns in by_kind.values() for n in ns) <= 64 + len("00000000 ")
    monkeypatch.setattr(remote, "LOCK_TTL_S", 0.0)  # the writer's entry is a dead writer's at once
    SparqlEndpointStore(live.query, history_url=history.query).close()
    assert keywords_listed(live, graph) == ["basket", "crizotinib"]
    assert not _ask_on(history, f"ASK {{ GRAPH <{JOURNAL_GRAPH}> {{ ?s ?p ?o }} }}")["boolean"]  # pieces too
    assert not _ask_on(live, f"ASK {{ GRAPH <{JOURNAL_GRAPH}> {{ ?s ?p ?o }} }}")["boolean"]


def test_an_entry_removed_while_a_recovery_reads_its_pieces_is_left_alone_and_the_store_opens(
    servers: tuple[OxigraphServer, OxigraphServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer taken for dead may only have been slow: it (or another recovery) may remove its entry
    and pieces between the recovery's list of entries and its read of the pieces. The recovery then
    has nothing to apply; before, it took the missing pieces for a journal changed by hand and no
    store opened."""
    live, history = servers
    graph = pieced_entry_left_by_a_dead_writer(live, history, monkeypatch)
    removed: list[bool] = []

    def the_writer_finishes_first(request: httpx.Request) -> None:
        reads_pieces = str(request.url) == history.query and remote.JOURNAL_PIECE_OF in unquote_plus(request.read().decode())
        if reads_pieces and not removed:
            removed.append(True)
            httpx.post(history.update, content=f"CLEAR GRAPH <{JOURNAL_GRAPH}>",
                       headers={"Content-Type": "application/sparql-update"}, timeout=30).raise_for_status()

    monkeypatch.setattr(remote, "LOCK_TTL_S", 0.0)
    client = httpx.Client(timeout=30, follow_redirects=True, event_hooks={"request": [the_writer_finishes_first]})
    SparqlEndpointStore(live.query, history_url=history.query, client=client).close()
    assert removed and keywords_listed(live, graph) == []  # nothing applied by the recovery


def test_a_journal_entry_missing_a_piece_is_refused_and_nothing_is_applied(
    servers: tuple[OxigraphServer, OxigraphServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    live, history = servers
    graph = pieced_entry_left_by_a_dead_writer(live, history, monkeypatch)
    piece = f"GRAPH <{JOURNAL_GRAPH}> {{ ?e <{remote.JOURNAL_PIECE_OF}> ?t }}"
    httpx.post(history.update, content=f'DELETE {{ {piece} }} WHERE {{ {piece} FILTER(STRSTARTS(?t, "00000001 ")) }}',
               headers={"Content-Type": "application/sparql-update"}, timeout=30).raise_for_status()
    monkeypatch.setattr(remote, "LOCK_TTL_S", 0.0)
    with pytest.raises(StoreError, match=r"has \d+ of its \d+ pieces"):
        SparqlEndpointStore(live.query, history_url=history.query)
    assert keywords_listed(live, graph) == []
    assert _ask_on(history, f"ASK {{ GRAPH <{JOURNAL_GRAPH}> {{ <{JOURNAL}> ?p ?o }} }}")["boolean"]  # kept


def test_a_live_writers_journal_entry_is_not_applied_by_a_store_opened_meanwhile(
    servers: tuple[OxigraphServer, OxigraphServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer whose live request takes longer than the TTL (held here before it is sent, past a TTL
    of 1 s: as a bulk batch to a slow engine) is alive: its heartbeat keeps its journal entry fresh, so
    a store opened meanwhile leaves it alone and the live request is applied once, by its writer.
    Before, the store opened took the entry for a dead writer's and applied it, and the writer then
    sent it again: the study's list of keywords twice."""
    live, history = servers
    monkeypatch.setattr(remote, "LOCK_TTL_S", 1.0)
    graph = study_graph_name(KEYWORDS)
    inside, go_on = threading.Event(), threading.Event()

    def hold(request: httpx.Request) -> None:
        if writes_the_live_server(live, request):
            inside.set()
            go_on.wait(30)

    writer = SparqlEndpointStore(live.query, history_url=history.query,
                                 client=httpx.Client(timeout=30, event_hooks={"request": [hold]}))
    with ThreadPoolExecutor(1) as pool:
        writing = pool.submit(writer.write, [AddQuads(keywords_quads(graph))])
        try:
            assert inside.wait(30)
            time.sleep(2.5)  # the entry's own stamp is well past the TTL
            SparqlEndpointStore(live.query, history_url=history.query).close()
            assert keywords_listed(live, graph) == []  # not applied by the store opened
        finally:
            go_on.set()
        writing.result(30)
    assert keywords_listed(live, graph) == ["basket", "crizotinib"]
    assert not _ask_on(history, f"ASK {{ GRAPH <{JOURNAL_GRAPH}> {{ ?s ?p ?o }} }}")["boolean"]  # nor its stamp
    assert not _ask_on(live, f"ASK {{ GRAPH <{JOURNAL_GRAPH}> {{ ?s ?p ?o }} }}")["boolean"]


def test_a_live_server_without_the_union_default_graph_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    live, history = start_oxigraph(tmp_path / "live"), start_oxigraph(tmp_path / "history")
    try:
        monkeypatch.setenv(HISTORY_URL_ENV, history.query)
        with pytest.raises(StoreError, match="--union-default-graph"):
            open_store(live.query)
    finally:
        live.stop()
        history.stop()


def test_a_bulk_import_through_the_dataset_url_puts_studies_on_the_live_server_and_their_log_on_the_history(
    servers: tuple[OxigraphServer, OxigraphServer], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """New studies' quads go to the live server's bulk path (``/store``, parsed in Rust), their log
    entries to the history's, and the search index file of the pair is in step with both."""
    from acse_kg.ctgov.bulk import bulk_import
    from acse_kg.ctgov.generate import nct_id, write_jsonl
    from acse_kg.search_index import index_for

    live, history = servers
    monkeypatch.setenv(HISTORY_URL_ENV, history.query)
    monkeypatch.setenv(DATASET_URL_ENV, live.base + "/store")
    monkeypatch.setenv("ACSE_KG_HOME", str(tmp_path / "home"))
    store = open_store(live.query)
    try:
        report = bulk_import(store, [write_jsonl(tmp_path / "records.jsonl", 7)], jobs=0, batch=3)
    finally:
        store.close()
    assert report.new == 7
    assert study_graph_name(nct_id(4)) in graphs_on(live) and LOG_GRAPH not in graphs_on(live)
    assert study_graph_name(nct_id(4)) not in graphs_on(history) and LOG_GRAPH in graphs_on(history)
    serving = open_store(live.query)
    try:
        assert [v.number for v in list_versions(serving, nct_id(4))] == [1]
        index = index_for(serving, sync=False)
        assert index.path is not None and index.sync() == [] and index.count() == 8
    finally:
        serving.close()


def test_a_live_engine_started_again_on_another_directory_is_another_dataset_though_the_history_is_kept(
    servers: tuple[OxigraphServer, OxigraphServer], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A search index file is tied to the pair's identity, one id on each side: a live engine replaced
    at the same URL (an older backup, a new directory) must not be served from the old file."""
    live, history = servers
    monkeypatch.setenv(HISTORY_URL_ENV, history.query)
    first = open_store(live.query)
    before = first.dataset_id()
    first.close()
    live.stop()
    other = start_oxigraph(tmp_path / "another-live", base=live.base, union_default_graph=True)
    try:
        again = open_store(other.query)
        try:
            after = again.dataset_id()
            assert before is not None and after is not None and after != before
            assert after.split("/")[0] == before.split("/")[0]  # the history kept its id
        finally:
            again.close()
    finally:
        other.stop()


def test_a_journalled_write_over_the_n_triples_parsers_16_mb_token_is_written_and_its_entry_removed(
    servers: tuple[OxigraphServer, OxigraphServer]
) -> None:
    """A bulk batch's live request is one journal literal: at 1,000 studies, tens of MB, more than one
    token of Oxigraph's N-Triples parser takes (16 MB; the import over the pair failed on its first
    batch). Here 20 MB of new quads and a log entry: all on their server, no journal entry left."""
    live, history = servers
    graph = study_graph_name("NCT09999998")
    filler = "x" * 100
    quads = "".join(f'<urn:x:s{i}> <urn:x:p> "{filler} {i}" <{graph}> .\n' for i in range(160_000))
    data = (quads + f'<urn:x:v1> <urn:x:logged> "1" <{LOG_GRAPH}> .\n').encode()
    assert len(data) > 20_000_000
    writer = SparqlEndpointStore(live.query, history_url=history.query, dataset_url=live.base + "/store")
    try:
        writer.write([AddQuads(data)])
    finally:
        writer.close()
    counted = _ask_on(live, f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}")
    assert counted["results"]["bindings"][0]["n"]["value"] == "160000"
    assert _ask_on(history, f"ASK {{ GRAPH <{LOG_GRAPH}> {{ <urn:x:v1> ?p ?o }} }}")["boolean"] is True
    assert _ask_on(history, f"ASK {{ GRAPH ?g {{ <{JOURNAL}> ?p ?o }} }}")["boolean"] is False
