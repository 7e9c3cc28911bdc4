"""/ontology documents the core ontology and /ontology/ctgov its ClinicalTrials.gov extension, each on its own page."""

from __future__ import annotations

import re

import html5lib
import httpx
import pytest
import rdflib
from rdflib.compare import isomorphic
from rdflib.namespace import OWL
from server_fixtures import LiveServer

from acse_kg.loader import ONTOLOGY_GRAPH
from acse_kg.namespaces import ACSE, BASE
from acse_kg.paths import ONTOLOGY_DIR, QUERIES_DIR

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
CORE = BASE + "ontology"
CTGOV = BASE + "ontology/ctgov"


def _get(server: LiveServer, path: str, accept: str) -> httpx.Response:
    r = httpx.get(server.url + path, headers={"Accept": accept}, timeout=60)
    assert r.status_code == 200, r.text
    return r


def _doc(server: LiveServer, path: str) -> tuple[str, object]:
    text = _get(server, path, BROWSER).text
    return text, html5lib.parse(text, namespaceHTMLElements=False)


def _documented_terms(page: str) -> set[str]:
    """The IRIs pyLODE gives an entry (an entity block with its IRI in <code>)."""
    return set(re.findall(r'<div class="[^"]*\bentity\b[^"]*" id="[^"]+">.*?<code>([^<]+)</code>', page, re.S))


def _ids(doc: object) -> set[str]:
    return {e.get("id") for e in doc.iter() if e.get("id")}


def test_viewing_the_documentation_leaves_the_ontology_rdf_unchanged(bundle_server: LiveServer) -> None:
    before = _get(bundle_server, "/ontology", "application/n-triples").text
    _get(bundle_server, "/ontology", BROWSER)
    _get(bundle_server, "/ontology/ctgov", BROWSER)
    after = _get(bundle_server, "/ontology", "application/n-triples").text
    assert after == before
    served = rdflib.Graph().parse(data=after, format="nt")
    assert not [p for p in served.predicates() if str(p).startswith("https://w3id.org/profile/ontdoc/")]
    assert len(served) == len(bundle_server.store.graph(ONTOLOGY_GRAPH))


def test_the_core_page_documents_the_core_ontology_once(bundle_server: LiveServer) -> None:
    page, doc = _doc(bundle_server, "/ontology")
    core = rdflib.Graph().parse(ONTOLOGY_DIR / "acse.ttl")
    title = str(core.value(rdflib.URIRef(CORE), rdflib.URIRef("http://purl.org/dc/terms/title")))
    assert [h.text for h in doc.iter("h1")] == [title]
    terms = _documented_terms(page)
    assert str(ACSE.Cohort) in terms and str(ACSE.hasCohort) in terms
    assert str(ACSE.CtgovRecordPart) not in terms  # the extension's own class is on its own page
    assert "/ontology/ctgov" in {a.get("href") for a in doc.iter("a")}


def test_the_ctgov_page_documents_the_extension_and_links_core_terms_to_the_core_page(bundle_server: LiveServer) -> None:
    page, doc = _doc(bundle_server, "/ontology/ctgov")
    ext = rdflib.Graph().parse(ONTOLOGY_DIR / "ctgov.ttl")
    label = str(ext.value(rdflib.URIRef(CTGOV), rdflib.RDFS.label))
    assert [h.text for h in doc.iter("h1")] == [label]
    terms = _documented_terms(page)
    assert str(ACSE.CtgovRecordPart) in terms and str(ACSE.otherOutcome) in terms
    assert str(ACSE.Cohort) not in terms
    hrefs = {a.get("href") for a in doc.iter("a") if a.get("href")}
    assert "/ontology" in hrefs
    core_ids = _ids(_doc(bundle_server, "/ontology")[1])
    to_core = [h for h in hrefs if h.startswith("/ontology#")]
    assert to_core  # acse:otherOutcome's range acse:OutcomeMeasure is documented on the core page
    assert all(h.split("#", 1)[1] in core_ids for h in to_core)
    assert not [h for h in hrefs if h.startswith(BASE)]


def test_the_ctgov_rdf_is_exactly_the_extension(bundle_server: LiveServer) -> None:
    r = _get(bundle_server, "/ontology/ctgov", "text/turtle")
    served = rdflib.Graph().parse(data=r.content, format="turtle")
    assert isomorphic(served, rdflib.Graph().parse(ONTOLOGY_DIR / "ctgov.ttl"))
    assert (rdflib.URIRef(CTGOV), OWL.imports, rdflib.URIRef(CORE)) in served


def test_an_unknown_ontology_is_404_naming_the_ones_there_are(bundle_server: LiveServer) -> None:
    r = httpx.get(bundle_server.url + "/ontology/nothing", headers={"Accept": "text/turtle"}, timeout=30)
    assert r.status_code == 404
    assert "/ontology/ctgov" in r.text


@pytest.mark.parametrize("path", ["/ontology", "/ontology/ctgov"])
def test_each_ontology_page_has_a_prefix_table_and_links_to_the_example_queries(
    bundle_server: LiveServer, path: str
) -> None:
    _, doc = _doc(bundle_server, path)
    table = next(t for t in doc.iter("table") if "prefix" in "".join(t.itertext()))
    rows = {tuple("".join(td.itertext()) for td in tr.findall("td")) for tr in table.iter("tr")}
    assert ("acse:", str(ACSE)) in rows
    hrefs = {a.get("href") for a in doc.iter("a")}
    for query in QUERIES_DIR.glob("*.rq"):
        assert f"/sparql#example={query.stem}" in hrefs


def test_the_version_iri_dereferences_to_the_ontology_it_versions(bundle_server: LiveServer) -> None:
    core = rdflib.Graph().parse(ONTOLOGY_DIR / "acse.ttl")
    version = str(core.value(rdflib.URIRef(CORE), OWL.versionIRI))
    assert version.startswith(BASE)
    path = "/" + version[len(BASE):]
    served = _get(bundle_server, path, "text/turtle")
    assert served.content == _get(bundle_server, "/ontology", "text/turtle").content
    _, doc = _doc(bundle_server, "/ontology")
    assert path in {a.get("href") for a in doc.iter("a")}  # the documentation's "Version IRI" link
