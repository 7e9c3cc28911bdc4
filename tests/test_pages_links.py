"""Where the pages' links lead: the site header, IRI links, and the footer's word on IRIs, served and static.

Served by the API, every page's header links the study and the registry's
services (SPARQL, ontology, dump, API docs), and IRIs open on the server's
/id/... route. A static site has no server beside it: it links those services
and sends IRIs to /id/... only on a registry named with --registry; otherwise a
study's and a cohort's IRI link to their own pages and the other registry IRIs
are not linked (w3id.org does not resolve them yet: no link may be dead), and
the footer says they are identifiers.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pages_fixtures import find_class, one_class, parse, text
from typer.testing import CliRunner

from acse_kg.cli import app as cli_app
from acse_kg.namespaces import ACSE, BASE
from acse_kg.pages import Links, cohort_page, index_page, study_page, write_site

NCT = "NCT02034981"
SERVICES = ["/search", "/match", "/sparql", "/ontology", "/dumps/acse-kg.ttl.gz", "/docs"]
REGISTRY = "https://registry.example.org/acse/"


@pytest.fixture(scope="module")
def client(store):
    """The whole API, as `acse-kg serve` runs it, over the bundled record."""
    from acse_kg.api.app import create_app
    from acse_kg.api.settings import ServerSettings

    with TestClient(create_app(store, ServerSettings(query_workers=1))) as c:
        yield c


def header_links(html: str) -> list[str]:
    root = parse(html)
    nav = one_class(root, "site-nav", "nav")
    return [a.get("href") for a in nav.iter("a")]


def iri_hrefs(html: str) -> list[str]:
    return [a.get("href") for a in find_class(parse(html), "iri", "a")]


@pytest.mark.parametrize("path", ["/", f"/study/{NCT}", f"/study/{NCT}/cohort/21"])
def test_served_pages_link_the_study_and_every_service_and_each_link_answers(client, path):
    hrefs = header_links(client.get(path).text)
    assert hrefs == ["/", f"/study/{NCT}", *SERVICES]
    for href in hrefs:
        assert client.get(href).status_code == 200, href


def test_served_iri_links_open_on_this_server(store):
    html = cohort_page(store, NCT, 21, Links())
    targets = [a.get("href") for a in parse(html).iter("a") if a.get("href")]
    assert f"/id/study/{NCT}/cohort/21" in iri_hrefs(html)
    assert all(h.startswith("/id/") for h in iri_hrefs(html))
    assert "/ontology#Amplification" in targets  # an ontology term: the ontology's page, not w3id.org
    assert not [h for h in targets if h.startswith(BASE)]


def all_hrefs(html: str) -> list[str]:
    return [a.get("href") for a in parse(html).iter("a") if a.get("href") is not None]


def test_a_static_site_links_no_server_service_and_no_iri_that_does_not_resolve(store, tmp_path):
    write_site(store, [NCT], tmp_path)
    for page, up in ((Path("study", NCT), "../../"), (Path("study", NCT, "cohort", "21"), "../../../../")):
        html = (tmp_path / page / "index.html").read_text(encoding="utf-8")
        assert header_links(html) == [up + "index.html", f"{up}study/{NCT}/index.html"]
        assert [h for h in all_hrefs(html) if h.startswith(BASE)] == []
        for href in all_hrefs(html):  # every link within the site opens one of its files
            if "://" not in href and not href.startswith(("#", "mailto:")):
                assert (tmp_path / page / href.split("#")[0]).resolve().is_file(), href
        note = text(one_class(parse(html), "iri-note", "p"))
        assert f"({BASE}id/…), its identifier in the graph" in note and "/id/…" in note


def test_a_static_site_for_a_registry_links_its_services_and_its_iri_pages(store):
    html = study_page(store, NCT, Links(static=True, registry=REGISTRY).for_depth(2))
    assert header_links(html) == ["../../index.html", f"../../study/{NCT}/index.html",
                                  *(REGISTRY + s.lstrip("/") for s in SERVICES)]
    assert f"{REGISTRY}id/study/{NCT}" in iri_hrefs(html)
    assert all(h.startswith(REGISTRY + "id/") for h in iri_hrefs(html))
    assert REGISTRY in text(one_class(parse(html), "iri-note", "p"))


def test_a_static_site_links_a_study_and_a_cohort_iri_to_their_own_pages(store):
    links = Links(static=True).for_depth(2)
    assert links.iri(f"{BASE}id/study/{NCT}") == f"../../study/{NCT}/index.html"
    assert links.iri(f"{BASE}id/study/{NCT}/cohort/5") == f"../../study/{NCT}/cohort/5/index.html"
    assert links.iri(f"{BASE}id/gene/MET") is None
    assert links.iri("http://purl.obolibrary.org/obo/NCIT_C3262") == "http://purl.obolibrary.org/obo/NCIT_C3262"
    html = study_page(store, NCT, links)
    assert f"../../study/{NCT}/cohort/5/index.html" in all_hrefs(html)


def test_the_index_of_a_one_study_registry_links_that_study(store):
    assert header_links(index_page(store, Links())) == ["/", f"/study/{NCT}", *SERVICES]


def test_served_footer_says_iris_are_identifiers_opened_here(store):
    note = text(one_class(parse(study_page(store, NCT, Links())), "iri-note", "p"))
    assert f"({BASE}id/…), its identifier in the graph" in note
    assert "on this server (/id/…)" in note


def test_ontology_terms_link_to_the_ontology_page_only_where_there_is_one():
    term = str(ACSE.Amplification)
    assert Links().iri(term) == "/ontology#Amplification"
    assert Links(static=True, registry=REGISTRY).iri(term) == REGISTRY + "ontology#Amplification"
    assert Links(static=True).iri(term) is None  # w3id.org does not resolve it yet
    assert Links().iri("https://example.org/other") == "https://example.org/other"


def test_render_with_a_registry_writes_its_links(tmp_path: Path):
    r = CliRunner().invoke(cli_app, ["render", NCT, "--out", str(tmp_path), "--store", "memory",
                                     "--registry", "https://registry.example.org/acse"])
    assert r.exit_code == 0, r.output
    html = (tmp_path / "study" / NCT / "index.html").read_text(encoding="utf-8")
    assert "https://registry.example.org/acse/sparql" in header_links(html)


@pytest.mark.parametrize("bad", ["registry.example.org", "ftp://x.org/", "https://x.org/?q=1", "/relative/"])
def test_render_refuses_a_registry_that_is_not_an_http_url(tmp_path, bad):
    r = CliRunner().invoke(cli_app, ["render", NCT, "--out", str(tmp_path / "x"), "--store", "memory",
                                     "--registry", bad])
    assert r.exit_code == 2
    assert "--registry" in r.output and repr(bad) in r.output and "Traceback" not in r.output
    assert not (tmp_path / "x").exists()


def test_the_study_page_marks_its_own_header_link_as_the_current_page(store):
    def current(html: str) -> list[str]:
        nav = one_class(parse(html), "site-nav", "nav")
        return [a.get("href") for a in nav.iter("a") if a.get("aria-current") == "page"]

    assert current(study_page(store, NCT, Links())) == [f"/study/{NCT}"]
    assert current(cohort_page(store, NCT, 21, Links())) == []
