"""The search page and the home page, over the bundled study and two imported reference records."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import parse_qsl, urlparse

import pytest
from conftest import SHARED
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pages_fixtures import find_class, parse, text

from acse_kg.api import browse, match, pages
from acse_kg.ctgov.import_ import import_study
from acse_kg.pages import search as search_module
from acse_kg.pages.search import Search, SearchError, search
from acse_kg.store import GraphStore, open_store

NCT = "NCT02034981"
PALLAS, FRENCH = "NCT02513394", "NCT06171568"


@pytest.fixture(scope="module")
def registry() -> GraphStore:
    """The bundle plus two imported records without cohorts (a breast cancer trial and a French one; not
    drafted, so the breast cancer trial gets no drafted cohort)."""
    store = open_store("memory")
    for path in sorted((SHARED / "reference" / "ctgov").glob("example_v2_*.json")):
        import_study(store, json.loads(path.read_text(encoding="utf-8")), draft=False)
    return store


@pytest.fixture(scope="module")
def client(registry) -> Iterator[TestClient]:
    app = FastAPI()
    app.state.store = registry
    for module in (browse, match, pages):
        app.include_router(module.router)
    with TestClient(app) as c:
        yield c


def found(registry: GraphStore, **params: str | list[str]) -> list[str]:
    pairs = [(k, v) for k, vs in params.items() for v in ([vs] if isinstance(vs, str) else vs)]
    return [c.nct for c in search(registry, Search.from_params(pairs)).cards]


def result_ncts(html: str) -> list[str]:
    return [li.get("data-nct") for li in find_class(parse(html), "result", "li")]


def facet_counts(html: str, name: str) -> dict[str, int]:
    root = parse(html)
    box = next(f for f in find_class(root, "facet", "fieldset") if f.get("data-facet") == name)
    return {text(li.find("label")).rsplit(" (", 1)[0]: int(li.find(".//span[@class='count']").get("data-count"))
            for li in box.iter("li")}


# ------------------------------------------------------------------ what is found
@pytest.mark.parametrize("cond", ["NSCLC", "LUAD", "nsclc", "Non-Small Cell Lung Cancer", "Lung Adenocarcinoma"])
def test_an_oncotree_condition_finds_the_study_by_its_cohorts_pathologies(registry, cond):
    """NSCLC (a cohort's pathology), its subtype LUAD (the cohort takes it) and their names find the basket trial."""
    assert found(registry, cond=cond) == [NCT]


def test_a_broader_oncotree_code_finds_the_cohorts_of_its_subtypes(registry):
    assert found(registry, cond="LUNG") == [NCT]  # the tissue above NSCLC
    assert found(registry, cond="TISSUE") == [NCT]  # the root finds every cohort ...


def test_the_oncotree_root_of_a_cohort_is_not_a_broader_type_of_every_search(registry):
    """... but a cohort open to 'any tumour type' does not make every tumour type find the study."""
    assert found(registry, cond="Leukemia") == found(registry, cond="LEUK")
    assert found(registry, cond="MCL") == []  # mantle cell lymphoma: no cohort of the registry names it or above it


def test_a_condition_that_is_no_oncotree_term_is_searched_in_the_records_conditions(registry):
    assert found(registry, cond="Breast Cancer") == [PALLAS]


def test_free_text_uses_the_clinicaltrials_gov_syntax(registry):
    assert found(registry, q="palbociclib") == [PALLAS]
    assert found(registry, q="palbociclib OR crizotinib") == [NCT, PALLAS]
    assert found(registry, q="crizotinib NOT palbociclib") == [NCT]
    with pytest.raises(SearchError, match=r"^q: "):
        found(registry, q='"unclosed')


def test_facets_filter_and_values_of_one_facet_are_alternatives(registry):
    assert found(registry, gene="MET") == [NCT]
    assert found(registry, status="NOT_YET_RECRUITING") == [FRENCH]
    assert found(registry, status=["NOT_YET_RECRUITING", "ACTIVE_NOT_RECRUITING"]) == [NCT, PALLAS, FRENCH]
    assert found(registry, country="France", phase="PHASE2") == [NCT]


def test_a_facets_counts_are_over_the_other_filters(registry):
    res = search(registry, Search.from_params([("status", "NOT_YET_RECRUITING")]))
    status = {v: n for v, _, n, _ in next(f for f in res.facets if f.name == "status").values}
    assert status == {"ACTIVE_NOT_RECRUITING": 2, "NOT_YET_RECRUITING": 1}  # its own filter left out
    country = {v: n for v, _, n, _ in next(f for f in res.facets if f.name == "country").values}
    assert country == {"France": 1}  # the other filters applied


@pytest.mark.parametrize("params, message", [
    ([("genes", "MET")], "unknown search parameter"), ([("page", "0")], "page"), ([("page", "x")], "page"),
    ([("page", "9")], "past the last page")])
def test_malformed_searches_are_refused_by_name(registry, params, message):
    with pytest.raises(SearchError, match=message):
        search(registry, Search.from_params(params))


# ------------------------------------------------------------------ the page
def test_the_page_lists_the_study_with_facet_counts_and_links_it(client):
    r = client.get("/search", params=[("cond", "NSCLC"), ("gene", "MET")])
    assert r.status_code == 200
    assert result_ncts(r.text) == [NCT]
    assert facet_counts(r.text, "gene")["MET"] == 1 and facet_counts(r.text, "type")["amplification"] == 1
    root = parse(r.text)
    link = find_class(root, "result", "li")[0].find(".//h3/a")
    assert link.get("href") == f"/study/{NCT}" and client.get(link.get("href")).status_code == 200
    checked = [(e.get("name"), e.get("value")) for e in root.iter("input") if e.get("checked") is not None]
    assert checked == [("gene", "MET")]
    assert root.find(".//input[@name='cond']").get("value") == "NSCLC"


def test_results_paginate_and_every_page_link_holds_the_whole_query(client, monkeypatch):
    monkeypatch.setattr(search_module, "PAGE_SIZE", 1)
    first = client.get("/search", params=[("q", "cancer OR tumor OR tumour"), ("age", "ADULT")])
    assert result_ncts(first.text) == [NCT]
    nxt = next(a for a in parse(first.text).iter("a") if a.get("rel") == "next").get("href")
    assert dict(parse_qsl(urlparse(nxt).query)) == {"q": "cancer OR tumor OR tumour", "age": "ADULT", "page": "2"}
    second = client.get(nxt)
    assert result_ncts(second.text) == [PALLAS]
    assert parse(second.text).find(".//ol[@class='result-list']").get("start") == "2"


def test_a_malformed_search_is_a_400_page_with_the_reason(client):
    r = client.get("/search", params={"gene": "MET", "colour": "blue"})
    assert r.status_code == 400 and "colour" in text(find_class(parse(r.text), "errors", "section")[0])


def test_the_home_page_says_what_is_here_and_lists_the_studies_with_their_counts(client):
    root = parse(client.get("/").text)
    rows = {tr.get("data-nct"): [text(td) for td in tr.findall("td")] for tr in root.iter("tr") if tr.get("data-nct")}
    assert set(rows) == {NCT, PALLAS, FRENCH}
    assert rows[NCT][1] == "23" and "MET" in rows[NCT][2] and rows[PALLAS][1] == "0"
    assert "3 studies with 23 cohorts" in text(find_class(root, "lede", "p")[0])
    form = root.find(".//form[@role='search']")
    assert form.get("action") == "/search" and {i.get("name") for i in form.iter("input")} == {"cond", "q"}


def test_the_home_page_of_a_large_registry_lists_its_first_studies_and_links_to_the_search(monkeypatch, client):
    """A registry of thousands is paged through on the search page, not rendered whole on each visit."""
    from acse_kg.pages import browse as browse_pages

    monkeypatch.setattr(browse_pages, "HOME_STUDIES", 2)
    root = parse(client.get("/").text)
    assert [tr.get("data-nct") for tr in root.iter("tr") if tr.get("data-nct")] == sorted([NCT, PALLAS, FRENCH])[:2]
    more = find_class(root, "more", "p")[0]
    assert "The first 2 of 3 studies" in text(more) and more.find(".//a").get("href") == "/search"
    assert "3 studies with 23 cohorts" in text(find_class(root, "lede", "p")[0])  # the summary counts them all


def test_a_study_without_cohorts_cannot_preset_the_match_form(client):
    for r in (client.get(f"/match?trial={PALLAS}", headers={"accept": "text/html"}),
              client.post(f"/match/form?trial={PALLAS}", data={"id": "p", "age_years": "50", "diagnosis": "BRCA"})):
        assert r.status_code == 404 and "no study with cohorts" in text(find_class(parse(r.text), "errors", "section")[0])
