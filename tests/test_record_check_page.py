"""The record check as a page: each finding with its rule, the IRI it is about and the offending value."""

from __future__ import annotations

import html5lib
import pytest
from fastapi.testclient import TestClient

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


@pytest.fixture(scope="module")
def client():
    from ctgov_fixtures import load_record

    from acse_kg.api.app import create_app
    from acse_kg.api.settings import ServerSettings
    from acse_kg.ctgov.import_ import import_study
    from acse_kg.store import open_store

    st = open_store("memory")
    import_study(st, load_record("example_v2_NCT06171568_APHP_french.json"))
    with TestClient(create_app(st, ServerSettings(query_workers=1))) as c:
        yield c


def findings(client, nct):
    r = client.get(f"/study/{nct}/check", headers=BROWSER)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    doc = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False).parse(r.text)
    return doc, doc.findall(".//tr[@class='finding']")


def test_check_page_shows_rule_iri_and_value_of_each_finding(client):
    _, rows = findings(client, "NCT02034981")
    by_rule = {row.get("data-rule"): row.findall("td") for row in rows}
    assert set(by_rule) == {"implausible-unit", "cohort-excluded-by-criterion", "cohort-gene-not-accepted"}
    unit = by_rule["implausible-unit"]
    assert unit[1].find("a").get("href") == "/id/study/NCT02034981/criterion/inc-06-hemoglobin"
    assert unit[2].text == "8 g/L"


def test_check_page_of_a_clean_record_says_so(client):
    doc, rows = findings(client, "NCT06171568")
    assert rows == [] and doc.find(".//p[@class='clean']") is not None


def test_check_reason_flag_must_be_a_boolean(client):
    r = client.get("/study/NCT02034981/check", params={"reason": "maybe"})
    assert r.status_code == 400 and "reason" in r.json()["error"]
