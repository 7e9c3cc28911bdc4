"""Pages are safe to open from any link: security headers everywhere, no script from the URL or the data.

The browser tests drive headless Chromium over its DevTools protocol (the
``Browser`` of the pages' browser tests) against a live server on loopback.
"""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from server_fixtures import LiveServer

HTML_PAGES = ["/", "/study/NCT02034981", "/study/NCT02034981/cohort/5", "/sparql", "/ontology", "/docs", "/redoc",
              "/id/gene/ALK", "/no-such-page"]


@pytest.mark.parametrize("path", HTML_PAGES)
def test_every_html_page_carries_a_csp_and_the_security_headers(bundle_server: LiveServer, path: str) -> None:
    r = httpx.get(bundle_server.url + path, headers={"Accept": "text/html"}, timeout=60, follow_redirects=True)
    assert r.headers["content-type"].startswith("text/html"), path
    csp = r.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp and "base-uri 'none'" in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["referrer-policy"] == "strict-origin-when-cross-origin"


@pytest.mark.parametrize("path", ["/", "/study/NCT02034981", "/sparql", "/ontology"])
def test_pages_other_than_the_api_docs_allow_no_inline_script(bundle_server: LiveServer, path: str) -> None:
    csp = httpx.get(bundle_server.url + path, headers={"Accept": "text/html"}, timeout=60).headers[
        "content-security-policy"]
    script_src = next(d for d in csp.split(";") if d.strip().startswith("script-src"))
    assert script_src.split() == ["script-src", "'self'"]


def test_the_sparql_page_has_no_inline_script(bundle_server: LiveServer) -> None:
    import html5lib

    page = httpx.get(bundle_server.sparql, headers={"Accept": "text/html"}, timeout=30).text
    scripts = html5lib.parse(page, namespaceHTMLElements=False).findall(".//script")
    assert scripts and all(s.get("src") and not (s.text or "").strip() for s in scripts)
    js = httpx.get(bundle_server.url + scripts[0].get("src"), timeout=30)
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")


def test_answers_that_are_not_html_are_not_sniffed_either(bundle_server: LiveServer) -> None:
    r = httpx.get(bundle_server.sparql, params={"query": "ASK {}"}, timeout=30)
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "content-security-policy" not in r.headers


# ---------------------------------------------------------------- in the browser
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


def _eval(browser: Any, expression: str) -> Any:
    result = browser.call("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session=True)
    return result["result"].get("value")


def _wait_for(browser: Any, expression: str, seconds: float = 20) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = _eval(browser, expression)
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"never true in the page: {expression}")


#: The workbench (YASGUI): its editor (CodeMirror), its Run button, the rows of its result table.
_EDITOR = "document.querySelector('#workbench .CodeMirror').CodeMirror"
_RUN = "#workbench .yasqe_queryButton"
_ROWS = ".yasr tbody tr"


def _sparql_posts(events: list[dict[str, Any]]) -> list[str]:
    return [e["params"]["request"]["url"] for e in events
            if e["method"] == "Network.requestWillBeSent" and e["params"]["request"]["method"] == "POST"]


def test_a_shared_query_is_shown_but_not_run_until_the_reader_runs_it(browser: Any, bundle_server: LiveServer) -> None:
    from test_pages_browser import problems

    query = "SELECT ?cohort ?n WHERE { ?cohort a acse:Cohort ; acse:cohortNumber ?n } ORDER BY ?n"
    events = browser.open(bundle_server.url + "/sparql#" + urllib.parse.urlencode({"query": query}))
    assert problems(events) == []  # the CSP blocks nothing the page needs
    _wait_for(browser, "document.querySelector('#workbench .CodeMirror') !== null")
    assert _eval(browser, f"{_EDITOR}.getValue()") == query
    assert _sparql_posts(events) == [], "the shared query was sent without the reader pressing Run"
    assert _eval(browser, f"document.querySelectorAll('{_ROWS}').length") == 0
    assert "press Run" in _eval(browser, "document.getElementById('status').textContent")
    _eval(browser, f"document.querySelector('{_RUN}').click()")
    rows = _wait_for(browser, f"document.querySelectorAll('{_ROWS}').length")
    assert rows == 23  # the 23 cohorts


@pytest.mark.parametrize("path", ["/", "/study/NCT02034981", "/study/NCT02034981/cohort/5", "/ontology", "/docs",
                                  "/redoc"])
def test_the_csp_blocks_nothing_a_page_needs(browser: Any, bundle_server: LiveServer, path: str) -> None:
    from test_pages_browser import problems

    found = problems(browser.open(bundle_server.url + path))
    # ReDoc's footer fetches its logo from its CDN: blocking that is the policy (no external assets)
    assert [p for p in found if "cdn.redoc.ly" not in p] == []


def test_only_http_iris_become_links_in_a_result_table(browser: Any, bundle_server: LiveServer) -> None:
    iris = ["javascript:alert(document.domain)", "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
            "https://example.org/a", "https://w3id.org/acse-kg/id/gene/ALK"]
    values = " ".join(f"<{i}>" for i in iris)
    query = f"SELECT ?x WHERE {{ VALUES ?x {{ {values} }} }}"
    browser.open(bundle_server.url + "/sparql")
    _wait_for(browser, "document.querySelector('#workbench .CodeMirror') !== null")
    _eval(browser, f"{_EDITOR}.setValue({json.dumps(query)})")
    _eval(browser, f"document.querySelector('{_RUN}').click()")
    _wait_for(browser, f"document.querySelectorAll('{_ROWS}').length === 4")
    # each cell shows the IRI (prefixed where a registry prefix fits) and holds it whole in its title
    cells = _eval(browser, "[...document.querySelectorAll('.yasr tbody .term')].map(t => "
                           "[t.title, t.tagName === 'A' ? t.getAttribute('href') : null])")
    links = dict(cells)
    assert links["javascript:alert(document.domain)"] is None
    assert links["data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=="] is None
    assert links["https://example.org/a"] == "https://example.org/a"
    assert links["https://w3id.org/acse-kg/id/gene/ALK"] == "/id/gene/ALK"
