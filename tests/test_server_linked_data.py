"""Every registry IRI dereferences; the ontology, dumps and VoID are derived from the store."""

from __future__ import annotations

import gzip

import html5lib
import httpx
import pytest
import rdflib
from rdflib.namespace import OWL, VOID
from server_fixtures import LiveServer

from acse_kg.namespaces import ACSE, BASE, cohort_iri, study_iri

#: The live servers are session fixtures shared by all server test modules (one of each per run).
NCT = "NCT02034981"
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def _get(server: LiveServer, path: str, accept: str | None = None) -> httpx.Response:
    return httpx.get(server.url + path, headers={"Accept": accept} if accept else {}, timeout=60)


@pytest.mark.parametrize(
    ("accept", "rdf_format"),
    [("text/turtle", "turtle"), ("application/ld+json", "json-ld"), ("application/n-triples", "nt"),
     ("application/rdf+xml", "xml")],
)
def test_a_study_iri_dereferences_to_rdf_by_accept(bundle_server: LiveServer, accept: str, rdf_format: str) -> None:
    r = _get(bundle_server, f"/id/study/{NCT}", accept)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith(accept)
    g = rdflib.Graph().parse(data=r.content, format=rdf_format)
    expected = bundle_server.store.construct(f"DESCRIBE <{study_iri(NCT)}>")
    assert len(g) == len(expected)
    assert (rdflib.URIRef(study_iri(NCT)), rdflib.RDF.type, ACSE.BasketTrial) in g


def test_a_browser_gets_an_html_table_with_local_links(bundle_server: LiveServer) -> None:
    r = _get(bundle_server, f"/id/study/{NCT}/cohort/1", BROWSER)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    doc = html5lib.parse(r.text, namespaceHTMLElements=False)
    hrefs = {a.get("href") for a in doc.iter("a")}
    assert f"/id/study/{NCT}" in hrefs  # the cohort's study, rewritten from https://w3id.org/acse-kg/id/...
    assert not any(h.startswith(BASE) for h in hrefs if h)
    label = bundle_server.store.select(f"SELECT ?l WHERE {{ <{cohort_iri(NCT, 1)}> rdfs:label ?l }}").values("l")[0]
    assert label in r.text


@pytest.mark.parametrize(("path", "page"), [(f"study/{NCT}", f"/study/{NCT}"), (f"study/{NCT}/cohort/5", f"/study/{NCT}/cohort/5")])
def test_the_html_view_of_a_study_or_cohort_links_to_its_page(bundle_server: LiveServer, path: str, page: str) -> None:
    doc = html5lib.parse(_get(bundle_server, "/id/" + path, BROWSER).text, namespaceHTMLElements=False)
    assert page in {a.get("href") for a in doc.iter("a")}
    assert _get(bundle_server, page, BROWSER).status_code == 200


def test_every_cohort_iri_dereferences(bundle_server: LiveServer) -> None:
    cohorts = bundle_server.store.select("SELECT ?c WHERE { ?c a acse:Cohort }").values("c")
    assert len(cohorts) == 23
    for iri in cohorts:
        assert _get(bundle_server, "/" + iri[len(BASE):], "text/turtle").status_code == 200


def test_an_unknown_iri_is_404(bundle_server: LiveServer) -> None:
    assert _get(bundle_server, "/id/study/NCT00000000", BROWSER).status_code == 404
    assert _get(bundle_server, "/id/study/NCT00000000", "text/turtle").status_code == 404


def test_an_unacceptable_media_type_is_406(bundle_server: LiveServer) -> None:
    assert _get(bundle_server, f"/id/study/{NCT}", "image/png").status_code == 406


def test_the_ontology_is_served_as_turtle(bundle_server: LiveServer) -> None:
    r = _get(bundle_server, "/ontology", "text/turtle")
    g = rdflib.Graph().parse(data=r.content, format="turtle")
    assert (rdflib.URIRef(BASE + "ontology"), rdflib.RDF.type, OWL.Ontology) in g
    assert (ACSE.Cohort, rdflib.RDF.type, OWL.Class) in g
    assert len(g) == len(bundle_server.store.graph(BASE + "id/graph/ontology"))


def test_the_ontology_documentation_is_generated_html(bundle_server: LiveServer) -> None:
    r = _get(bundle_server, "/ontology", BROWSER)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    doc = html5lib.parse(r.text, namespaceHTMLElements=False)
    text = "".join(doc.itertext())
    classes = bundle_server.store.select(
        f"SELECT ?l WHERE {{ GRAPH <{BASE}id/graph/ontology> {{ acse:Cohort rdfs:label ?l }} }}"
    ).values("l")
    assert classes and all(label in text for label in classes)
    assert not [s for s in doc.iter("script") if s.get("src", "").startswith(("http:", "https:", "//"))]  # no CDN  # no external assets


@pytest.mark.parametrize(
    ("name", "rdf_format"), [("acse-kg.ttl.gz", "turtle"), ("acse-kg.nt.gz", "nt"), ("acse-kg.jsonld.gz", "json-ld")]
)
def test_a_dump_holds_the_whole_live_graph(bundle_server: LiveServer, name: str, rdf_format: str) -> None:
    r = _get(bundle_server, "/dumps/" + name)
    assert r.status_code == 200
    g = rdflib.Graph().parse(data=gzip.decompress(r.content), format=rdf_format)
    count = bundle_server.store.select("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }").values("n")[0]
    assert len(g) == count


def test_the_nquads_dump_keeps_each_graph(bundle_server: LiveServer) -> None:
    r = _get(bundle_server, "/dumps/acse-kg.nq.gz")
    ds = rdflib.Dataset()
    ds.parse(data=gzip.decompress(r.content), format="nquads")
    names = {str(c.identifier) for c in ds.graphs() if len(c)}
    assert names == set(bundle_server.store.named_graphs())


def test_void_counts_come_from_the_store(bundle_server: LiveServer) -> None:
    r = _get(bundle_server, "/.well-known/void")
    assert r.headers["content-type"].startswith("text/turtle")
    g = rdflib.Graph().parse(data=r.content, format="turtle")
    ds = next(g.subjects(VOID.sparqlEndpoint, None))
    total = bundle_server.store.select("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }").values("n")[0]
    assert g.value(ds, VOID.triples).toPython() == total
    subsets = set(g.objects(ds, VOID.subset))
    assert {str(s) for s in subsets} == set(bundle_server.store.named_graphs())
    assert len(list(g.objects(ds, VOID.dataDump))) == 4


def test_the_query_page_is_served_to_a_browser_with_the_examples(bundle_server: LiveServer) -> None:
    r = _get(bundle_server, "/sparql", BROWSER)
    assert r.status_code == 200 and "<textarea" in r.text
    doc = html5lib.parse(r.text, namespaceHTMLElements=False)
    assert not [s for s in doc.iter("script") if s.get("src", "").startswith(("http:", "https:", "//"))]  # no CDN
    assert not [link for link in doc.iter("link") if link.get("href", "").startswith("http")]
    examples = _get(bundle_server, "/sparql/examples").json()
    assert {e["name"] for e in examples} >= {"cohorts_by_gene"}
    assert all(e["query"].strip() for e in examples)


@pytest.mark.parametrize("path", [f"/id/study/{NCT}", f"/id/study/{NCT}/cohort/1", "/.well-known/void", "/sparql",
                                  "/ontology", "/ontology/ctgov"])
def test_every_generated_page_has_the_site_header_with_home_study_and_services(
    bundle_server: LiveServer, path: str
) -> None:
    doc = html5lib.parse(_get(bundle_server, path, BROWSER).text, namespaceHTMLElements=False)
    header = doc.find(".//header")
    assert header is not None
    links = {a.get("href") for a in header.iter("a")}
    assert links == {"/", f"/study/{NCT}", "/sparql", "/ontology", "/dumps/acse-kg.ttl.gz", "/docs"}
    for href in links:
        assert httpx.get(bundle_server.url + href, headers={"Accept": BROWSER}, timeout=60).status_code == 200


def _assert_compact_jsonld(body: bytes) -> dict:
    import json

    doc = json.loads(body)
    context = doc["@context"]
    assert context["acse"] == str(ACSE) and context["id"] == BASE + "id/"
    text = json.dumps({k: v for k, v in doc.items() if k != "@context"})
    assert '"acse:' in text and '"https://w3id.org/acse-kg/ontology#' not in text  # terms are written acse:...
    return doc


def test_an_iri_as_json_ld_is_compacted_with_the_registry_prefixes_and_is_the_same_rdf(
    bundle_server: LiveServer,
) -> None:
    from rdflib.compare import isomorphic

    r = _get(bundle_server, f"/id/study/{NCT}/cohort/1", "application/ld+json")
    _assert_compact_jsonld(r.content)
    served = rdflib.Graph().parse(data=r.content, format="json-ld")
    assert isomorphic(served, bundle_server.store.construct(f"DESCRIBE <{cohort_iri(NCT, 1)}>"))


def test_the_json_ld_dump_is_compacted_and_is_the_same_rdf_as_the_n_triples_dump(bundle_server: LiveServer) -> None:
    from rdflib.compare import isomorphic

    body = gzip.decompress(_get(bundle_server, "/dumps/acse-kg.jsonld.gz").content)
    _assert_compact_jsonld(body)
    nt = gzip.decompress(_get(bundle_server, "/dumps/acse-kg.nt.gz").content)
    assert isomorphic(rdflib.Graph().parse(data=body, format="json-ld"), rdflib.Graph().parse(data=nt, format="nt"))
