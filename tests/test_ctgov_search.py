"""HTTP: the search parameters of /api/v2/studies beyond query.*: filter.advanced, filter.geo, aggFilters, sort.

The registry holds NCT02034981 (phase 2, started 2013-08, 246 patients, from
1 year, Villejuif), NCT02513394 (phase 3, 2015-08, 5796, from 18 years, 437
US and other sites, results posted 2022-04-13) and NCT06171568 (observational,
2024-02-01, 400, Paris). Every answer is checked against the spec.
"""

from __future__ import annotations

import pytest
from ctgov_api_fixtures import answer, conforms, search
from ctgov_fixtures import RECORDS, load_record
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from acse_kg.ctgov.geo import KM_PER_MILE, haversine_km

ALL = ["NCT02034981", "NCT02513394", "NCT06171568"]
START = {"NCT02034981": "2013-08", "NCT02513394": "2015-08", "NCT06171568": "2024-02-01"}
PARIS_SITE = (48.85341, 2.3488)  # NCT06171568's one site


def refused(listing, **params) -> str:
    r = listing.get("/api/v2/studies", params=params)
    assert r.status_code == 400 and conforms(r, "/studies")
    return answer(r)


# ---------------------------------------------------------------- filter.advanced
@pytest.mark.parametrize("expression, expected", [
    ("AREA[Phase]PHASE2 AND AREA[StartDate]RANGE[2013-01-01,MAX]", ["NCT02034981"]),  # the example
    ("AREA[Phase]PHASE3", ["NCT02513394"]),
    ("AREA[Phase](PHASE2 OR PHASE3)", ["NCT02034981", "NCT02513394"]),
    ("AREA[phase]phase2", ["NCT02034981"]),  # piece names and codes in any case
    ("AREA[StartDate]2015", ["NCT02513394"]),  # the spec's example form: a year
    ("AREA[StartDate]RANGE[MIN, 2013]", ["NCT02034981"]),  # an upper bound of a year takes all of it
    ("AREA[StartDate]RANGE[2013-09, 2024-02-01]", ["NCT02513394", "NCT06171568"]),
    ("AREA[EnrollmentCount]RANGE[300, 1000]", ["NCT06171568"]),
    ("AREA[MinimumAge]RANGE[MIN, 16 years]", ["NCT02034981"]),  # the spec's example: ages as durations
    ("AREA[MinimumAge]RANGE[12 months, 12 months]", ["NCT02034981"]),  # 1 Year is 12 months
    ("AREA[LocationCity]Paris", ["NCT06171568"]),
    ("AREA[LeadSponsorName]unicancer", ["NCT02034981"]),
    ("AREA[Condition]breast AND AREA[Phase]PHASE3", ["NCT02513394"]),
    ("AREA[ResultsFirstPostDate]RANGE[2022-01-01, MAX]", ["NCT02513394"]),  # a field kept by the generic mapper
    ("AREA[ResultsFirstPostDate]MISSING", ["NCT02034981", "NCT06171568"]),
    ("AREA[LocationCity]MISSING", []),
    ("NOT AREA[Phase]PHASE2", ["NCT02513394", "NCT06171568"]),
    ("crizotinib", ["NCT02034981"]),  # without AREA: any text of the record, as query.term
])
def test_filter_advanced_takes_area_range_and_missing(listing, expression, expected):
    assert sorted(search(listing, **{"filter.advanced": expression})) == expected


def test_area_works_inside_query_parameters_too(listing):
    """The spec's example of query.term is AREA[LastUpdatePostDate]RANGE[2023-01-15,MAX]."""
    assert search(listing, **{"query.term": "AREA[StartDate]RANGE[2020,MAX]"}) == ["NCT06171568"]
    assert search(listing, **{"query.cond": "breast AND AREA[Phase]PHASE3"}) == ["NCT02513394"]


@given(st.dates(min_value=__import__("datetime").date(2012, 1, 1), max_value=__import__("datetime").date(2025, 1, 1)),
       st.integers(0, 900))
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_a_date_range_keeps_exactly_the_studies_whose_start_is_inside(listing, low, days):
    """Partial dates count from their first day: 2013-08 is 2013-08-01."""
    import datetime

    high = low + datetime.timedelta(days=days)
    def first_day(d: str) -> str:
        return (d + "-01-01")[:10] if len(d) == 4 else (d + "-01")[:10] if len(d) == 7 else d

    expected = [n for n, d in START.items() if low.isoformat() <= first_day(d) <= high.isoformat()]
    got = search(listing, **{"filter.advanced": f"AREA[StartDate]RANGE[{low.isoformat()}, {high.isoformat()}]"})
    assert sorted(got) == expected


@pytest.mark.parametrize("expression, says", [
    ("AREA[NoSuchField]x", "AREA[NoSuchField]"),
    ("RANGE[1, 2]", "AREA[field] before it"),
    ("AREA[StartDate]RANGE[yesterday, MAX]", "not a date"),
    ("AREA[EnrollmentCount]RANGE[many, MAX]", "not a number"),
    ("AREA[MinimumAge]RANGE[old, MAX]", "age or duration"),
    ("AREA[StartDate]RANGE[2013]", "two bounds"),
    ("EXPANSION[Concept]cancer", "EXPANSION[...] operator is not supported"),
    ("AREA[Phase]", "needs a term"),
])
def test_a_malformed_advanced_filter_is_a_400_naming_it(listing, expression, says):
    text = refused(listing, **{"filter.advanced": expression})
    assert text.startswith("filter.advanced: ") and says in text


# ---------------------------------------------------------------- filter.geo
def test_geo_keeps_studies_with_a_site_within_the_radius(listing):
    assert search(listing, **{"filter.geo": "distance(48.8566,2.3522,20km)"}) == ["NCT06171568"]
    assert search(listing, **{"filter.geo": "distance(61.2,-149.9,10mi)"}) == ["NCT02513394"]  # Anchorage
    assert sorted(search(listing, **{"filter.geo": "distance(48.8566,2.3522,5000mi)"})) == \
        ["NCT02513394", "NCT06171568"]  # NCT02034981's curated site has no coordinates


@pytest.mark.parametrize("unit, per_km", [("km", 1.0), ("mi", 1 / KM_PER_MILE), ("", 1 / KM_PER_MILE)])
def test_the_radius_is_a_great_circle_distance_in_its_unit(listing, unit, per_km):
    """A point one degree of latitude north of the Paris site (~111 km): just inside and just outside the radius."""
    lat, lon = PARIS_SITE[0] + 1.0, PARIS_SITE[1]
    d = haversine_km(lat, lon, *PARIS_SITE) * per_km
    assert search(listing, **{"filter.geo": f"distance({lat},{lon},{d * 1.01:.3f}{unit})"}) == ["NCT06171568"]
    assert search(listing, **{"filter.geo": f"distance({lat},{lon},{d * 0.99:.3f}{unit})"}) == []


def test_haversine_gives_the_known_paris_london_distance():
    assert haversine_km(48.8566, 2.3522, 51.5074, -0.1278) == pytest.approx(343.5, abs=1.0)


@pytest.mark.parametrize("value", ["distance(91,2,10km)", "distance(48,181,10km)", "distance(48, 2, 10km)",
                                   "distance(48,2,10 miles)", "near(48,2)", "distance(48,2)"])
def test_a_malformed_geo_filter_is_a_400_naming_it(listing, value):
    assert refused(listing, **{"filter.geo": value}).startswith("filter.geo: ")


# ---------------------------------------------------------------- aggFilters
@pytest.mark.parametrize("value, expected", [
    ("phase:2 3", ["NCT02034981", "NCT02513394"]),  # options of one facet: any of them
    ("phase:3", ["NCT02513394"]),
    ("status:not rec", ["NCT06171568"]),  # the spec's example
    ("status:act,phase:2", ["NCT02034981"]),  # facets: all of them
    ("studyType:obs", ["NCT06171568"]),
    ("sex:f", ALL),  # every study here takes all sexes
    ("healthy:y", []),
    ("ages:child", ["NCT02034981"]),
    ("funderType:other|phase:2", ["NCT02034981"]),
])
def test_agg_filters_select_the_facets_options(listing, value, expected):
    assert sorted(search(listing, aggFilters=value)) == expected


@pytest.mark.parametrize("value, says", [
    ("results:with", "posted results"), ("phase:9", "unknown option '9'"), ("colour:red", "unknown filter 'colour'"),
    ("phase", "filter_id:option"), ("", "filter_id:option"),
])
def test_a_bad_agg_filter_is_a_400_naming_it(listing, value, says):
    text = refused(listing, aggFilters=value)
    assert text.startswith("aggFilters: ") and says in text


# ---------------------------------------------------------------- sort
@pytest.mark.parametrize("sort, expected", [
    ("StartDate", ["NCT06171568", "NCT02513394", "NCT02034981"]),  # a date sorts newest first unless told
    ("StartDate:asc", ["NCT02034981", "NCT02513394", "NCT06171568"]),
    ("EnrollmentCount", ["NCT02034981", "NCT06171568", "NCT02513394"]),  # a number sorts ascending unless told
    ("EnrollmentCount:desc", ["NCT02513394", "NCT06171568", "NCT02034981"]),
    ("ResultsFirstPostDate:asc", ["NCT02513394", "NCT02034981", "NCT06171568"]),  # missing: last, either way
    ("ResultsFirstPostDate:desc", ["NCT02513394", "NCT02034981", "NCT06171568"]),
    ("@relevance", ALL),  # no search: every study scores alike, NCT order
])
def test_sort_orders_by_date_and_number_fields(listing, sort, expected):
    assert search(listing, sort=sort) == expected


def test_relevance_is_the_default_and_ranks_title_hits_first(listing):
    """palbociclib is in NCT02513394's title; xalkori only in NCT02034981's intervention names."""
    term = {"query.term": "xalkori OR palbociclib"}
    assert search(listing, **term) == ["NCT02513394", "NCT02034981"]
    assert search(listing, sort="@relevance", **term) == search(listing, **term)
    assert search(listing, sort="@relevance:asc", **term) == ["NCT02034981", "NCT02513394"]


def test_a_second_key_breaks_the_ties_of_the_first(listing):
    assert search(listing, sort="ResultsFirstPostDate,StartDate:asc") == ["NCT02513394", "NCT02034981", "NCT06171568"]
    assert search(listing, sort="ResultsFirstPostDate|StartDate:desc") == \
        ["NCT02513394", "NCT06171568", "NCT02034981"]


def test_pages_follow_the_sort(listing):
    seen, token = [], None
    while True:
        r = listing.get("/api/v2/studies", params={"sort": "StartDate", "pageSize": 1, "fields": "NCTId",
                                                   **({"pageToken": token} if token else {})})
        seen += [s["protocolSection"]["identificationModule"]["nctId"] for s in r.json()["studies"]]
        token = r.json().get("nextPageToken")
        if token is None:
            break
    assert seen == search(listing, sort="StartDate")


@pytest.mark.parametrize("sort, says", [
    ("BriefTitle", "not a date or numeric field"), ("NoSuchField", "invalid field name: 'NoSuchField'"),
    ("StartDate,EnrollmentCount,@relevance", "at most 2"), ("StartDate:up", "asc or desc"),
])
def test_a_bad_sort_is_a_400_naming_it(listing, sort, says):
    text = refused(listing, sort=sort)
    assert "'sort'" in text and says in text


# ---------------------------------------------------------------- budget and errors
def test_an_unknown_parameter_is_refused_as_clinicaltrials_gov_words_it(listing):
    assert refused(listing, **{"filter.phase": "PHASE3"}) == "`filter.phase` is unknown parameter"


@pytest.mark.parametrize("query", ["(" * 500 + "a" + ")" * 500, "NOT " * 5000 + "a", "AREA[Phase]" * 100 + "x"])
def test_deep_nesting_is_a_400_naming_the_parameter_not_a_500(listing, query):
    """Issue 13: 500 nested parentheses gave a 500 (RecursionError in the parser)."""
    text = refused(listing, **{"query.cond": query})
    assert text.startswith("query.cond: ") and "nests deeper" in text


def test_thousands_of_terms_are_refused_before_searching(listing):
    """Issue 13: 3,000 OR-ed terms burned 51 s of CPU."""
    text = refused(listing, **{"query.cond": " OR ".join(f"term{i}" for i in range(3000))})
    assert text.startswith("query.cond: ") and "3000 terms" in text


def test_the_search_runs_in_the_query_pool_within_its_time_limit():
    """A search longer than the pool's time limit is stopped and answered 503, like any public query."""
    from fastapi.testclient import TestClient

    from acse_kg.api.app import create_app
    from acse_kg.api.settings import ServerSettings
    from acse_kg.ctgov.import_ import import_study
    from acse_kg.store import open_store

    st = open_store("memory")
    import_study(st, load_record(RECORDS[0]))
    with TestClient(create_app(st, ServerSettings(query_workers=1, query_timeout=0.05))) as c:
        r = c.get("/api/v2/studies", params={"query.term": " OR ".join(f"nothing{i}" for i in range(200))})
    assert r.status_code == 503 and r.headers["content-type"].startswith("text/plain") and "stopped" in r.text


_ESSIE_BITS = st.sampled_from(["AREA[Phase]", "AREA[StartDate]", "AREA[EnrollmentCount]", "AREA[MinimumAge]",
                               "AREA[LocationCity]", "RANGE[", "]", ",", "MIN", "MAX", "MISSING", "(", ")", "\"",
                               " AND ", " OR ", "NOT ", "2013-01", "16 years", "1e999", "nan", "x", "\\", "'",
                               "}", "#", " ", "9" * 40])


@given(advanced=st.lists(_ESSIE_BITS, max_size=12).map("".join),
       sort=st.sampled_from(["", "StartDate", "EnrollmentCount:desc", "@relevance:asc", "Phase", "x:y"]),
       agg=st.text(alphabet="phase:23 status,rec|not", max_size=12),
       geo=st.text(alphabet="distance(0123456789.,-kmi)", max_size=30))
@settings(max_examples=60, deadline=None)
def test_no_parameter_text_makes_the_search_fail_other_than_a_query_error(advanced, sort, agg, geo):
    """Whatever the text, the search either answers or refuses with a QueryError (a 400): never a broken query."""
    from acse_kg.ctgov.query import QueryError, matching_ncts, parse_params

    params = {k: v for k, v in {"filter.advanced": advanced, "sort": sort, "aggFilters": agg,
                                "filter.geo": geo}.items() if v}
    try:
        q = parse_params(params)
    except QueryError:
        return
    assert set(matching_ncts(_bundled_store(), q)) <= {"NCT02034981"}


def _bundled_store():
    from acse_kg.store import open_store

    global _BUNDLED
    if "_BUNDLED" not in globals():
        _BUNDLED = open_store("memory")
    return _BUNDLED


# ---------------------------------------------------------------- postFilter.*, query.patient, geoDecay
@pytest.mark.parametrize("params, expected", [
    ({"postFilter.overallStatus": "ACTIVE_NOT_RECRUITING|COMPLETED"}, ["NCT02034981", "NCT02513394"]),
    ({"filter.overallStatus": "ACTIVE_NOT_RECRUITING,NOT_YET_RECRUITING", "postFilter.overallStatus": "NOT_YET_RECRUITING"},
     ["NCT06171568"]),  # both apply
    ({"filter.ids": "NCT02034981,NCT02513394", "postFilter.ids": "NCT02513394"}, ["NCT02513394"]),
    ({"postFilter.advanced": "AREA[Phase]PHASE3"}, ["NCT02513394"]),
    ({"postFilter.geo": "distance(48.8566,2.3522,20km)"}, ["NCT06171568"]),
    ({"query.patient": "crizotinib"}, ["NCT02034981"]),
])
def test_post_filters_and_the_patient_search_filter_like_their_siblings(listing, params, expected):
    assert sorted(search(listing, **params)) == expected


def test_synonym_switches_are_refused_by_name(listing):
    assert refused(listing, **{"filter.synonyms": "ConditionSearch:1651367"}).startswith("filter.synonyms: ")


def test_with_a_geo_filter_relevance_puts_the_nearest_study_first(listing):
    """Around Paris both NCT06171568 (Paris) and NCT02513394 (sites across the US) are within 5000 mi;
    with no search terms relevance is the distance decay alone, so Paris comes first."""
    geo = {"filter.geo": "distance(48.8566,2.3522,5000mi)"}
    assert search(listing, **geo) == ["NCT06171568", "NCT02513394"]
    assert search(listing, sort="@relevance:asc", **geo) == ["NCT02513394", "NCT06171568"]
    # a linear decay over 10 km: the Paris study keeps almost all its weight, the US one none
    assert search(listing, geoDecay="func:linear,scale:10km,offset:0km,decay:0.5", **geo) == \
        ["NCT06171568", "NCT02513394"]


def test_the_decay_functions_reach_decay_at_offset_plus_scale():
    from acse_kg.ctgov.geo import parse_decay

    for func in ("exp", "gauss", "linear"):
        d = parse_decay(f"func:{func},scale:100km,offset:10km,decay:0.5")
        assert d.factor(5) == 1.0 and d.factor(110) == pytest.approx(0.5) and d.factor(60) > 0.5 > d.factor(150)


@pytest.mark.parametrize("value", ["func:cubic,scale:1mi,offset:0mi,decay:0.5", "func:exp,scale:0mi,offset:0mi,decay:0.5",
                                   "func:exp,scale:300mi,offset:0mi,decay:1", "exp"])
def test_a_bad_geo_decay_is_a_400_naming_it(listing, value):
    assert refused(listing, geoDecay=value).startswith("geoDecay: ")


def test_a_page_from_the_search_index_is_whole_however_little_time_is_left(monkeypatch):
    """The index holds each study's export: a page it answers costs no export, so it is never cut short."""
    from fastapi.testclient import TestClient

    import acse_kg.api.ctgov
    from acse_kg.api.app import create_app
    from acse_kg.api.settings import ServerSettings
    from acse_kg.ctgov.import_ import import_study
    from acse_kg.store import open_store

    st = open_store("memory")
    for name in RECORDS:
        import_study(st, load_record(name))
    monkeypatch.setattr(acse_kg.api.ctgov, "_budget", lambda request: 1e-9)
    with TestClient(create_app(st, ServerSettings(query_workers=1))) as c:
        r = c.get("/api/v2/studies", params={"pageSize": 100, "fields": "NCTId"})
        assert [s["protocolSection"]["identificationModule"]["nctId"] for s in r.json()["studies"]] == ALL
        assert "nextPageToken" not in r.json()


def test_a_page_stops_early_when_its_export_budget_is_spent_and_the_next_token_resumes_there(monkeypatch):
    """The spec: page size is a maximum, pages need not be equal. With no time to spare every page holds one
    study, and walking the tokens still meets every study once, in order (JSON and CSV alike). (The budget is
    the server's query time limit; here only the export's share is cut, so the search itself still runs.)
    The export is what a search answered from the graph does (a geo filter); the search index holds each
    study's export and sends it as it is, so the graph's path is the one taken here."""
    from fastapi.testclient import TestClient

    import acse_kg.api.ctgov
    from acse_kg.api.app import create_app
    from acse_kg.api.settings import ServerSettings
    from acse_kg.ctgov.import_ import import_study
    from acse_kg.store import open_store

    st = open_store("memory")
    for name in RECORDS:
        import_study(st, load_record(name))
    monkeypatch.setattr(acse_kg.api.ctgov, "_budget", lambda request: 1e-9)
    monkeypatch.setattr(acse_kg.api.ctgov, "can_answer", lambda q: False)  # the graph's path: pages exported
    with TestClient(create_app(st, ServerSettings(query_workers=1))) as c:
        seen, token, sizes = [], None, []
        while True:
            r = c.get("/api/v2/studies", params={"pageSize": 100, "fields": "NCTId", **({"pageToken": token} if token else {})})
            assert r.status_code == 200 and conforms(r, "/studies")
            page = [s["protocolSection"]["identificationModule"]["nctId"] for s in r.json()["studies"]]
            seen, sizes, token = [*seen, *page], [*sizes, len(page)], r.json().get("nextPageToken")
            if token is None:
                break
        assert seen == ALL and sizes == [1, 1, 1]
        csv_page = c.get("/api/v2/studies", params={"format": "csv", "fields": "NCT Number"})
        assert csv_page.text.splitlines() == ["NCT Number", "NCT02034981"] and "x-next-page-token" in csv_page.headers
