"""Imported ClinicalTrials.gov records render too: the page comes from the same export, whatever the record."""

from __future__ import annotations

import json
import re

import pytest
from conftest import SHARED
from pages_fixtures import find_class, one_class, parse, section, text

from acse_kg.ctgov.import_ import import_study
from acse_kg.pages import study_page

RECORDS = sorted((SHARED / "reference" / "ctgov").glob("example_v2_*.json"))


@pytest.mark.parametrize("path", RECORDS, ids=lambda p: p.stem)
def test_an_imported_record_renders_as_valid_html_with_its_fields_and_bullets(fresh_store, path):
    record = json.loads(path.read_text(encoding="utf-8"))
    import_study(fresh_store, record)
    ps = record["protocolSection"]
    nct = ps["identificationModule"]["nctId"]
    root = parse(study_page(fresh_store, nct))  # strict parser: raises on any HTML error
    assert text(root.find(".//h1")) == " ".join(ps["identificationModule"]["briefTitle"].split())
    assert text(one_class(root, "nct")) == nct
    criteria = ps["eligibilityModule"]["eligibilityCriteria"]
    bullets = [line for line in criteria.splitlines() if re.match(r"\s*(?:[*\-•+]|\d+[.)])\s+\S", line)]
    rendered = find_class(section(root, "eligibility"), "criterion", "li")
    assert len(rendered) == len(bullets)
    assert [text(li.find("span")) for li in rendered][:1] == [
        " ".join(re.sub(r"^\s*(?:[*\-•+]|\d+[.)])\s+", "", bullets[0]).split())]
    outcomes = ps.get("outcomesModule", {}).get("primaryOutcomes", [])
    assert [text(e) for e in find_class(root, "measure")][: len(outcomes)] == [" ".join(o["measure"].split())
                                                                                for o in outcomes]


def test_a_clean_imported_record_has_no_finding_in_its_record_check(fresh_store):
    from acse_kg.record_check import check_study

    record = json.loads((SHARED / "reference" / "ctgov" / "example_v2_NCT02513394.json").read_text(encoding="utf-8"))
    import_study(fresh_store, record)
    assert check_study(fresh_store, "NCT02513394") == []
    root = parse(study_page(fresh_store, "NCT02513394"))
    assert text(one_class(section(root, "check"), "no-findings")) == "No finding."


def test_a_reimported_record_shows_its_new_title_at_once(fresh_store):
    """The page's reading of the study is kept between requests, yet a new version is what the next page shows."""
    record = json.loads(RECORDS[0].read_text(encoding="utf-8"))
    import_study(fresh_store, record)
    nct = record["protocolSection"]["identificationModule"]["nctId"]
    first = text(parse(study_page(fresh_store, nct)).find(".//h1"))
    record["protocolSection"]["identificationModule"]["briefTitle"] = "A retitled study"
    import_study(fresh_store, record)
    assert (first, text(parse(study_page(fresh_store, nct)).find(".//h1"))) == (
        " ".join(json.loads(RECORDS[0].read_text(encoding="utf-8"))["protocolSection"]["identificationModule"]
                 ["briefTitle"].split()), "A retitled study")
