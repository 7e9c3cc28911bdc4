"""The query page in headless Chromium: examples from queries/ load, a shared query link fills the editor.

The workbench's editor text is read from its permalink (``#permalink``), which
always holds the whole query (CodeMirror draws only the lines in view).
"""

from __future__ import annotations

import subprocess
import urllib.parse
from pathlib import Path

import html5lib
import pytest
from conftest import require
from server_fixtures import LiveServer

from acse_kg.paths import QUERIES_DIR

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"


def _rendered_dom(url: str) -> str:
    """The page's DOM after its scripts ran (Chromium's virtual time lets fetches finish)."""
    require(Path(CHROMIUM).exists(), CHROMIUM)
    out = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--no-first-run", "--virtual-time-budget=10000", "--dump-dom", url],
        capture_output=True, text=True, timeout=90, check=True,
    )
    return out.stdout


def _editor_text(dom) -> str:
    link = dom.find(".//a[@id='permalink']").get("href")
    return urllib.parse.parse_qs(urllib.parse.urlparse(link).fragment)["query"][0]


def test_a_shared_query_link_fills_the_box_without_running_it_and_the_examples_are_listed(
        bundle_server: LiveServer) -> None:
    """Shown, not run (issue 13): the reader presses Run (tests/security/test_pages_safety.py runs it)."""
    query = "SELECT ?cohort ?n WHERE { ?cohort a acse:Cohort ; acse:cohortNumber ?n } ORDER BY ?n"
    dom = html5lib.parse(
        _rendered_dom(bundle_server.url + "/sparql#" + urllib.parse.urlencode({"query": query})),
        namespaceHTMLElements=False,
    )
    assert _editor_text(dom) == query
    assert dom.findall(".//div[@id='workbench']//tbody/tr") == []
    assert "press Run" in "".join(dom.find(".//span[@id='status']").itertext())
    examples = [o.text for o in dom.findall(".//select[@id='examples']/option")][1:]
    assert len(examples) == len(list(Path(QUERIES_DIR).glob("*.rq")))


def test_an_example_link_from_the_ontology_page_opens_that_example(bundle_server: LiveServer) -> None:
    example = Path(QUERIES_DIR) / "cohorts_by_gene.rq"
    dom = html5lib.parse(_rendered_dom(bundle_server.url + "/sparql#example=" + example.stem),
                         namespaceHTMLElements=False)
    assert _editor_text(dom) == example.read_text(encoding="utf-8")
    selected = [o for o in dom.findall(".//select[@id='examples']/option") if o.get("selected") is not None]
    assert len(selected) == 1 and selected[0].text.strip()
