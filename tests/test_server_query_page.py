"""The query page in headless Chromium: examples from queries/ load, a shared query link runs into a table."""

from __future__ import annotations

import subprocess
import urllib.parse
from pathlib import Path

import html5lib
import pytest
from conftest import require

from server_fixtures import LiveServer

from acse_kg.paths import QUERIES_DIR

pytest_plugins = ["server_fixtures"]
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


def test_a_shared_query_link_runs_and_shows_a_table_with_the_examples_listed(bundle_server: LiveServer) -> None:
    query = "SELECT ?cohort ?n WHERE { ?cohort a acse:Cohort ; acse:cohortNumber ?n } ORDER BY ?n"
    dom = html5lib.parse(
        _rendered_dom(bundle_server.url + "/sparql#" + urllib.parse.urlencode({"query": query})),
        namespaceHTMLElements=False,
    )
    rows = dom.findall(".//div[@id='result']/table/tbody/tr") or dom.findall(".//div[@id='result']/table/tr")
    assert [th.text for th in rows[0].findall("th")] == ["cohort", "n"]
    numbers = [int(tr.findall("td")[1].text) for tr in rows[1:]]
    assert numbers == list(range(1, 24))
    first_link = rows[1].find("td/a").get("href")
    assert first_link.startswith("/id/study/NCT02034981/cohort/")  # registry IRIs link to this server
    examples = [o.text for o in dom.findall(".//select[@id='examples']/option")][1:]
    assert len(examples) == len(list(Path(QUERIES_DIR).glob("*.rq")))


def test_an_example_link_from_the_ontology_page_opens_that_example(bundle_server: LiveServer) -> None:
    example = Path(QUERIES_DIR) / "cohorts_by_gene.rq"
    dom = html5lib.parse(_rendered_dom(bundle_server.url + "/sparql#example=" + example.stem),
                         namespaceHTMLElements=False)
    assert dom.find(".//textarea[@id='query']").text == example.read_text(encoding="utf-8")
    selected = [o for o in dom.findall(".//select[@id='examples']/option") if o.get("selected") is not None]
    assert len(selected) == 1 and selected[0].text.strip()
