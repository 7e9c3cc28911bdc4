"""Real SPARQL clients against a live server over the real bundle: SPARQLWrapper, rdflib's SPARQLStore, curl."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from pathlib import Path

import pytest
import rdflib
from rdflib.plugins.stores.sparqlstore import SPARQLStore
from server_fixtures import LiveServer
from SPARQLWrapper import CSV, JSON, JSONLD, N3, POST, RDFXML, TSV, TURTLE, XML, SPARQLWrapper

from acse_kg.namespaces import ACSE, study_iri
from acse_kg.paths import QUERIES_DIR

#: The live servers are session fixtures shared by all server test modules (one of each per run).
NCT = "NCT02034981"
COHORTS = "SELECT ?c ?n WHERE { ?c a acse:Cohort ; acse:cohortNumber ?n } ORDER BY ?n"
STUDY_GRAPH = f"CONSTRUCT {{ <{study_iri(NCT)}> ?p ?o }} WHERE {{ <{study_iri(NCT)}> ?p ?o }}"
QUERY_FILES = sorted(Path(QUERIES_DIR).glob("*.rq"))


def _wrapper(server: LiveServer, query: str, fmt: str, method: str | None = None) -> SPARQLWrapper:
    w = SPARQLWrapper(server.sparql)
    w.setQuery(query)
    w.setReturnFormat(fmt)
    if method:
        w.setMethod(method)
    return w


def _cohort_count(server: LiveServer) -> int:
    return len(server.store.select(COHORTS))


@pytest.mark.parametrize("method", [None, POST])
def test_sparqlwrapper_json_select(bundle_server: LiveServer, method: str | None) -> None:
    data = _wrapper(bundle_server, COHORTS, JSON, method).query().convert()
    numbers = [int(b["n"]["value"]) for b in data["results"]["bindings"]]
    assert numbers == sorted(numbers) and len(numbers) == _cohort_count(bundle_server) == 23


def test_sparqlwrapper_xml_select(bundle_server: LiveServer) -> None:
    doc = _wrapper(bundle_server, COHORTS, XML).query().convert()
    results = doc.getElementsByTagName("result")
    assert len(results) == 23


def test_sparqlwrapper_csv_select(bundle_server: LiveServer) -> None:
    raw = _wrapper(bundle_server, COHORTS, CSV).query().convert()
    rows = list(csv.reader(io.StringIO(raw.decode())))
    assert rows[0] == ["c", "n"] and len(rows) == 24


def test_sparqlwrapper_tsv_select(bundle_server: LiveServer) -> None:
    raw = _wrapper(bundle_server, COHORTS, TSV).query().convert()
    lines = raw.decode().strip().split("\n")
    assert lines[0].split("\t") == ["?c", "?n"] and len(lines) == 24


def test_sparqlwrapper_json_ask(bundle_server: LiveServer) -> None:
    data = _wrapper(bundle_server, f"ASK {{ <{study_iri(NCT)}> a acse:BasketTrial }}", JSON).query().convert()
    assert data["boolean"] is True


@pytest.mark.parametrize("fmt", [TURTLE, RDFXML, JSONLD, N3])
def test_sparqlwrapper_construct_in_each_rdf_format(bundle_server: LiveServer, fmt: str) -> None:
    g = _wrapper(bundle_server, STUDY_GRAPH, fmt).query().convert()
    if isinstance(g, bytes):  # SPARQLWrapper hands Turtle and N3 back as bytes
        g = rdflib.Graph().parse(data=g, format="turtle")
    expected = bundle_server.store.construct(STUDY_GRAPH)
    assert len(g) == len(expected) > 20
    assert (rdflib.URIRef(study_iri(NCT)), rdflib.RDF.type, ACSE.BasketTrial) in g


def test_sparqlwrapper_describe(bundle_server: LiveServer) -> None:
    g = _wrapper(bundle_server, f"DESCRIBE <{study_iri(NCT)}>", RDFXML).query().convert()
    assert (rdflib.URIRef(study_iri(NCT)), rdflib.RDF.type, ACSE.BasketTrial) in g


def _unordered(value: str) -> str:
    """GROUP_CONCAT has no defined order (it differs between two stores): compare its parts sorted."""
    return ", ".join(sorted(value.split(", ")))


@pytest.mark.parametrize("path", QUERY_FILES, ids=lambda p: p.stem)
def test_the_shipped_queries_give_the_same_answers_over_http_as_in_process(bundle_server: LiveServer, path: Path) -> None:
    query = path.read_text(encoding="utf-8")
    data = _wrapper(bundle_server, query, JSON, POST).query().convert()
    over_http = sorted(
        json.dumps({k: _unordered(v["value"]) for k, v in b.items()}, sort_keys=True)
        for b in data["results"]["bindings"]
    )
    local = bundle_server.store.select(query)
    in_process = sorted(
        json.dumps({k: _unordered(str(v)) for k, v in row.items() if v is not None}, sort_keys=True) for row in local
    )
    assert over_http == in_process


def test_rdflib_sparqlstore_queries_and_pattern_matching(bundle_server: LiveServer) -> None:
    g = rdflib.Graph(store=SPARQLStore(query_endpoint=bundle_server.sparql, returnFormat="xml"))
    rows = list(g.query(COHORTS, initNs={"acse": ACSE}))
    assert len(rows) == 23
    types = set(g.objects(rdflib.URIRef(study_iri(NCT)), rdflib.RDF.type))
    assert ACSE.BasketTrial in types


def test_rdflib_sparqlstore_with_json_results_and_post(bundle_server: LiveServer) -> None:
    store = SPARQLStore(query_endpoint=bundle_server.sparql, returnFormat="json", method="POST")
    g = rdflib.Graph(store=store)
    assert g.query(f"ASK {{ <{study_iri(NCT)}> a <{ACSE.BasketTrial}> }}").askAnswer is True


def _curl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["curl", "-sS", "--max-time", "30", *args], capture_output=True, text=True, check=True)


def test_curl_get_with_csv(bundle_server: LiveServer) -> None:
    out = _curl("-G", "-H", "Accept: text/csv", "--data-urlencode", f"query={COHORTS}", bundle_server.sparql)
    assert out.stdout.splitlines()[0].strip() == "c,n"
    assert len(out.stdout.strip().splitlines()) == 24


def test_curl_post_direct_with_turtle(bundle_server: LiveServer) -> None:
    out = _curl("-H", "Content-Type: application/sparql-query", "-H", "Accept: text/turtle",
                "--data-binary", STUDY_GRAPH, bundle_server.sparql)
    g = rdflib.Graph().parse(data=out.stdout, format="turtle")
    assert (rdflib.URIRef(study_iri(NCT)), rdflib.RDF.type, ACSE.BasketTrial) in g


def test_curl_sees_400_with_the_parser_message(bundle_server: LiveServer) -> None:
    out = _curl("-w", "\n%{http_code}", "-G", "--data-urlencode", "query=SELECT * WHERE { ?s ?p", bundle_server.sparql)
    body, _, status = out.stdout.rpartition("\n")
    assert status == "400"
    assert body.startswith("malformed query:") and "expected" in body


def test_curl_sees_406_for_an_unsupported_accept(bundle_server: LiveServer) -> None:
    out = _curl("-o", "/dev/null", "-w", "%{http_code}", "-G", "-H", "Accept: image/png",
                "--data-urlencode", f"query={COHORTS}", bundle_server.sparql)
    assert out.stdout == "406"


def test_curl_dereferences_a_registry_iri_as_turtle(bundle_server: LiveServer) -> None:
    out = _curl("-H", "Accept: text/turtle", bundle_server.url + f"/id/study/{NCT}")
    g = rdflib.Graph().parse(data=out.stdout, format="turtle")
    assert (rdflib.URIRef(study_iri(NCT)), rdflib.RDF.type, ACSE.BasketTrial) in g


def test_the_endpoint_describes_itself_to_a_client_asking_for_rdf(bundle_server: LiveServer) -> None:
    out = _curl("-H", "Accept: text/turtle", bundle_server.sparql)
    g = rdflib.Graph().parse(data=out.stdout, format="turtle")
    sd = rdflib.Namespace("http://www.w3.org/ns/sparql-service-description#")
    service = next(g.subjects(rdflib.RDF.type, sd.Service))
    assert (service, sd.supportedLanguage, sd.SPARQL11Query) in g
    assert (service, sd.supportedLanguage, sd.SPARQL11Update) not in g  # read-only server
