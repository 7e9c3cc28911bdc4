"""The search index beside the graph (SQLite FTS5): what it finds, how it pages, that it follows every write,
and that a query past its deadline or abandoned by its client is stopped in the engine.

The registry is the bundled AcSé crizotinib study (cohorts of NSCLC and other OncoTree types) and the two
reference records (a breast cancer trial, a French observational study), as ClinicalTrials.gov imports them.
"""

from __future__ import annotations

import copy
import threading
import time
from pathlib import Path

import pytest
from ctgov_api_fixtures import search
from ctgov_fixtures import RECORDS, load_record
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from acse_kg.ctgov.import_ import import_study
from acse_kg.ctgov.query import parse_params
from acse_kg.loader import study_graph_name
from acse_kg.search_index import SearchCancelled, SearchIndex, fts_phrase, index_for
from acse_kg.store import open_store

CRIZOTINIB, PALLAS, FRENCH = "NCT02034981", "NCT02513394", "NCT06171568"
ALL = [CRIZOTINIB, PALLAS, FRENCH]


@pytest.fixture(scope="module")
def registry():
    store = open_store("memory")
    for name in RECORDS:
        import_study(store, load_record(name))
    return store


def found(registry, **params: str) -> list[str]:
    return index_for(registry).search(parse_params({"pageSize": "100", **params})).ncts


# ------------------------------------------------------------------ OncoTree in condition search
@pytest.mark.parametrize("cond", ["lung", "NSCLC", "LUAD", "non-small cell lung cancer", "Lung Adenocarcinoma",
                                  '"non-small cell lung cancer"'])
def test_a_cohort_of_nsclc_is_found_by_its_oncotree_class_its_tissue_its_subtypes_and_their_names(registry, cond):
    """The study's conditions do not say 'lung'; its NSCLC cohort does, through OncoTree."""
    assert found(registry, **{"query.cond": cond}) == [CRIZOTINIB]


def test_the_api_route_finds_the_lung_cohort_too(listing):
    assert search(listing, **{"query.cond": "lung"}) == [CRIZOTINIB]
    assert search(listing, **{"query.cond": "LUAD", "countTotal": "true"}) == [CRIZOTINIB]


def test_a_cohort_open_to_any_tumour_type_is_not_found_by_every_tumour_type(registry):
    """Mantle cell lymphoma: no cohort names it or a type above it (the OncoTree root does not count)."""
    assert found(registry, **{"query.cond": "MCL"}) == []


def test_the_oncotree_terms_are_searched_by_query_cond_only(registry):
    assert found(registry, **{"query.titles": "LUAD"}) == []


# ------------------------------------------------------------------ Essie
@pytest.mark.parametrize("query, expected", [
    ('"crizotinib metastatic"', []),  # a phrase is kept whole, in its order
    ("metastatic crizotinib", [CRIZOTINIB]),  # terms are ANDed anywhere in the area
    ("palbociclib OR xalkori", [PALLAS, CRIZOTINIB]),  # palbociclib is in PALLAS's title: ranked first
    ('(palbociclib OR xalkori) AND NOT "collaborative adjuvant"', [CRIZOTINIB]),
    ("cancer NOT breast NOT hematologic", []),
    ("NOT crizotinib", [PALLAS, FRENCH]),
])
def test_phrases_and_or_not_and_parentheses(registry, query, expected):
    assert found(registry, **{"query.term": query}) == expected


def test_words_are_stemmed_as_essie_stems_them(registry):
    assert found(registry, **{"query.term": "tumors"}) == found(registry, **{"query.term": "tumor"}) != []
    assert found(registry, **{"query.cond": "cancers"}) == found(registry, **{"query.cond": "cancer"}) != []


def test_area_operators_search_one_field(registry):
    assert found(registry, **{"filter.advanced": "AREA[Phase]PHASE3"}) == [PALLAS]
    assert found(registry, **{"filter.advanced": "AREA[StartDate]RANGE[2013-09, 2024-02-01]"}) == [PALLAS, FRENCH]
    assert found(registry, **{"filter.advanced": "AREA[LocationCity]MISSING"}) == []
    assert found(registry, **{"query.cond": "breast AND AREA[Phase]PHASE3"}) == [PALLAS]


@given(st.text(max_size=30))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_text_is_a_phrase_fts5_reads_without_error(registry, text):
    """Quotes, operators, control characters: a term is always one FTS5 string, never FTS5 syntax."""
    phrase = fts_phrase(text)
    if phrase is None:
        return
    index_for(registry).db.execute("SELECT rowid FROM text WHERE text MATCH ?", (phrase,)).fetchall()


# ------------------------------------------------------------------ count and pages
def test_count_total_is_every_match_and_comes_with_the_first_page_only(registry):
    ix = index_for(registry)
    first = ix.search(parse_params({"pageSize": "1", "countTotal": "true"}))
    assert first.total == 3 and len(first.ncts) == 1
    second = ix.search(parse_params({"pageSize": "1", "countTotal": "true", "pageToken": first.next_token}))
    assert second.total is None and second.ncts != first.ncts


@given(size=st.integers(1, 4), sort=st.sampled_from(["", "StartDate", "StartDate:asc", "EnrollmentCount:desc",
                                                       "ResultsFirstPostDate,StartDate:asc", "@relevance:asc"]),
       term=st.sampled_from(["", "cancer", "crizotinib OR palbociclib OR paris"]))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_walking_the_page_tokens_meets_every_match_once_in_the_order_of_one_page(registry, size, sort, term):
    base = {**({"sort": sort} if sort else {}), **({"query.term": term} if term else {})}
    whole = found(registry, **base)
    seen, token = [], None
    while True:
        page = index_for(registry).search(parse_params({**base, "pageSize": str(size),
                                                        **({"pageToken": token} if token else {})}))
        seen += page.ncts
        token = page.next_token
        if token is None:
            break
    assert seen == whole


def test_a_page_token_resumes_after_the_last_study_sent_even_when_studies_are_added_before_it():
    """An offset would send the last study of page 1 again once a study sorting before it is added."""
    store = open_store("memory")
    for name in RECORDS:
        import_study(store, load_record(name))
    ix = index_for(store)
    first = ix.search(parse_params({"pageSize": "2"}))
    assert first.ncts == [CRIZOTINIB, PALLAS]
    import_study(store, _variant("NCT00000102", ["Sarcoidosis"]))  # sorts first
    rest = ix.search(parse_params({"pageSize": "2", "pageToken": first.next_token}))
    assert rest.ncts == [FRENCH] and rest.next_token is None


def test_a_token_of_another_sort_is_refused_by_name(listing):
    first = listing.get("/api/v2/studies", params={"pageSize": 1, "sort": "StartDate,EnrollmentCount"}).json()
    r = listing.get("/api/v2/studies", params={"pageSize": 1, "pageToken": first["nextPageToken"]})
    assert r.status_code == 400 and "pageToken" in r.text


def test_the_index_sorts_as_the_graph_search_does(registry):
    from acse_kg.ctgov.query import matching_ncts

    for sort in ("StartDate", "EnrollmentCount", "ResultsFirstPostDate:asc", "@relevance"):
        q = parse_params({"sort": sort, "query.term": "cancer OR crizotinib"})
        assert found(registry, sort=sort, **{"query.term": "cancer OR crizotinib"}) == matching_ncts(registry, q)


# ------------------------------------------------------------------ in step with the graph
def _variant(nct: str, conditions: list[str]) -> dict:
    record = copy.deepcopy(load_record(RECORDS[1]))
    record["protocolSection"]["identificationModule"]["nctId"] = nct
    record["protocolSection"]["conditionsModule"]["conditions"] = conditions
    return record


def test_an_import_is_found_at_once_and_a_new_version_replaces_what_the_old_one_said():
    store = open_store("memory")
    ix = index_for(store)
    assert ix.count() == 1
    import_study(store, _variant("NCT09990001", ["Sarcoidosis"]))
    assert found(store, **{"query.cond": "sarcoidosis"}) == ["NCT09990001"]
    import_study(store, _variant("NCT09990001", ["Amyloidosis"]))
    assert found(store, **{"query.cond": "sarcoidosis"}) == []
    assert found(store, **{"query.cond": "amyloidosis"}) == ["NCT09990001"]
    assert ix.count() == 2
    store.drop_graph(study_graph_name("NCT09990001"))  # a study gone from the live graphs is gone from the index
    assert found(store, **{"query.cond": "amyloidosis"}) == [] and ix.count() == 1


def test_after_a_write_only_the_studies_it_wrote_are_asked_about(monkeypatch):
    """The embedded store names the graphs written since the last sync: the log is not read for every
    study on the first search after each write (17 s at 100,000 studies)."""
    from acse_kg import search_index

    store = open_store("memory")
    ix = index_for(store)
    asked: list[object] = []
    real = search_index.fingerprints
    monkeypatch.setattr(search_index, "fingerprints", lambda st, among=None: asked.append(among) or real(st, among))
    import_study(store, _variant("NCT09990004", ["Sarcoidosis"]))
    assert ix.sync() == ["NCT09990004"] and asked == [["NCT09990004"]]
    store.drop_graph(study_graph_name("NCT09990004"))
    assert ix.sync() == ["NCT09990004"] and ix.count() == 1  # gone from the index with its graph
    store.update("INSERT DATA { GRAPH <urn:x:elsewhere> { <urn:x:a> <urn:x:b> <urn:x:c> } }")  # any graph
    assert ix.sync() == [] and asked[-1] is None  # a write the store cannot place: every study is asked about


def test_an_unchanged_store_is_not_read_again(registry):
    ix = index_for(registry)
    assert ix.sync() == []


def test_an_index_file_beside_the_store_directory_follows_writes_made_while_it_was_closed(tmp_path):
    path = tmp_path / "store"
    store = open_store(str(path))
    index_for(store).sync()
    store.close()
    store = open_store(str(path))
    import_study(store, _variant("NCT09990002", ["Kawasaki Disease"]))  # written before any index is opened
    opened = SearchIndex(store, path.with_name("store.search.sqlite"))
    assert opened.sync() == ["NCT09990002"]  # only the new study is read
    assert opened.matching(parse_params({"query.cond": "kawasaki"})) == {"NCT09990002"}
    opened.close()
    store.close()


def test_a_page_carries_each_study_as_the_api_exports_it_so_a_list_exports_nothing(registry, monkeypatch):
    from acse_kg.ctgov import query
    from acse_kg.ctgov.export import export_study

    page = index_for(registry).search(parse_params({"pageSize": "100"}))
    assert page.records == [export_study(registry, n, full_text=True) for n in page.ncts]
    monkeypatch.setattr(query, "export_study", lambda *a, **k: pytest.fail("a page of the index was exported again"))
    assert query.list_studies(registry, {"pageSize": "100"}, find=index_for(registry).search)["studies"] == page.records


def test_a_stored_record_follows_a_new_version_of_its_study():
    store = open_store("memory")
    import_study(store, _variant("NCT09990003", ["Sarcoidosis"]))
    import_study(store, _variant("NCT09990003", ["Amyloidosis"]))
    (record,) = index_for(store).search(parse_params({"filter.ids": "NCT09990003"})).records or []
    assert record["protocolSection"]["conditionsModule"]["conditions"] == ["Amyloidosis"]


def test_an_index_file_of_an_earlier_layout_is_made_again_with_this_layout(tmp_path):
    import sqlite3

    path = tmp_path / "store"
    store = open_store(str(path))
    old = sqlite3.connect(tmp_path / "store.search.sqlite")
    old.executescript("CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT); INSERT INTO meta VALUES ('layout', '3');"
                      "CREATE TABLE study(doc INTEGER PRIMARY KEY, nct TEXT UNIQUE NOT NULL, fingerprint TEXT NOT NULL,"
                      " card TEXT NOT NULL); INSERT INTO study VALUES (1, 'NCT02034981', '0', '{}');")
    old.commit()
    old.close()
    ix = SearchIndex(store, tmp_path / "store.search.sqlite")
    assert ix.sync() == [CRIZOTINIB]  # the old rows went with the old tables: the study is read again
    assert ix.records([CRIZOTINIB]) is not None
    ix.close()
    store.close()


_STATUS_QUERY = {"filter.overallStatus": "RECRUITING,ACTIVE_NOT_RECRUITING,NOT_YET_RECRUITING", "countTotal": "true"}


def _layout_4_index(tmp_path):
    """A store of the three records and its index file turned back into layout 4 (each card and record
    in the ``study`` row), with what the index answered before: the status query, the cards, the records."""
    import sqlite3

    store = open_store(str(tmp_path / "store"))
    for name in RECORDS:
        import_study(store, load_record(name))
    ix = index_for(store)
    expected = (ix.search(parse_params(_STATUS_QUERY)), ix.cards(ALL), ix.records(ALL))
    ix.close()
    old = sqlite3.connect(tmp_path / "store.search.sqlite")
    old.executescript(
        "BEGIN; CREATE TABLE wide(doc INTEGER PRIMARY KEY, nct TEXT UNIQUE NOT NULL, fingerprint TEXT NOT NULL,"
        " card TEXT NOT NULL, record TEXT NOT NULL);"
        "INSERT INTO wide SELECT s.doc, s.nct, s.fingerprint, j.card, j.record FROM study s JOIN study_json j"
        " ON j.doc = s.doc; DROP TABLE study; DROP TABLE study_json; ALTER TABLE wide RENAME TO study;"
        "UPDATE meta SET value = '4' WHERE key = 'layout'; COMMIT;")
    old.close()
    return store, expected


def test_an_index_file_of_layout_4_gets_the_narrow_study_table_without_reading_a_study(tmp_path):
    """Layout 4 held each card and record in the ``study`` row: its rows are moved in SQL, and the
    studies' status comes from their pieces, so the next sync reads nothing and every search answers
    as it did."""
    store, expected = _layout_4_index(tmp_path)
    reopened = SearchIndex(store, tmp_path / "store.search.sqlite")
    assert reopened.sync() == []
    assert (reopened.search(parse_params(_STATUS_QUERY)), reopened.cards(ALL), reopened.records(ALL)) == expected
    assert expected[0].total == 3
    assert [c[1] for c in reopened.db.execute("PRAGMA table_info(study)")] == ["doc", "nct", "fingerprint", "status"]
    reopened.close()
    store.close()


def _open_index_at_once(path: str, barrier, opened, delay: float) -> None:
    """A process of its own opening the index file at ``path`` ``delay`` seconds after every other
    one is ready (its store is one of its own: opening the file reads no study)."""
    from acse_kg.store import OxigraphStore

    store = OxigraphStore(None)
    barrier.wait()
    time.sleep(delay)
    try:
        SearchIndex(store, Path(path)).close()
        opened.put("opened")
    except Exception as exc:  # noqa: BLE001 - the test reports what the open raised
        opened.put(f"{type(exc).__name__}: {exc}")


def test_processes_opening_a_layout_4_index_file_at_the_same_moment_all_open_it_and_it_is_moved_once(tmp_path):
    """The first to open a file of layout 4 moves its rows; the others wait for it, then find the file
    of this layout and change nothing (before, one could test the layout while the first was moving
    the rows, and fail to move them again). Padding rows of studies the graph does not hold make the
    move last long enough (about 0.2 s) for the processes let go 0.1 s apart to come while it goes on:
    the race was lost every time before. The next sync removes the padding."""
    import multiprocessing
    import shutil
    import sqlite3

    store, expected = _layout_4_index(tmp_path)
    original = tmp_path / "store.search.sqlite"
    padding = [f"NCT9{i:07d}" for i in range(300)]
    old = sqlite3.connect(original)
    old.executemany("INSERT INTO study(nct, fingerprint, card, record) VALUES (?, '0', '{}', ?)",
                    [(n, "x" * 65536) for n in padding])
    old.commit()
    old.close()  # the last connection: the file is whole, without a write-ahead log to copy
    spawn = multiprocessing.get_context("spawn")
    for round_ in range(2):
        path = tmp_path / f"round{round_}.sqlite"
        shutil.copyfile(original, path)
        barrier, opened = spawn.Barrier(3), spawn.Queue()
        processes = [spawn.Process(target=_open_index_at_once, args=(str(path), barrier, opened, i * 0.1))
                     for i in range(3)]
        for p in processes:
            p.start()
        outcomes = sorted(opened.get(timeout=120) for _ in processes)
        for p in processes:
            p.join(timeout=60)
        assert outcomes == ["opened"] * 3, f"round {round_}: {outcomes}"
        index = SearchIndex(store, path)
        assert index.sync() == padding  # every row was moved (none emptied), the padding is gone
        assert (index.search(parse_params(_STATUS_QUERY)), index.cards(ALL), index.records(ALL)) == expected
        index.close()
    store.close()


def test_the_cli_rebuilds_the_index_from_the_graph(tmp_path):
    from acse_kg.cli import app

    result = CliRunner().invoke(app, ["index", "--rebuild", "--store", str(tmp_path / "store")])
    assert result.exit_code == 0, result.output
    assert "rebuilt: 1 studies" in result.output and (tmp_path / "store.search.sqlite").is_file()


# ------------------------------------------------------------------ stopped in the engine
_ENDLESS = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT COUNT(*) FROM c"


def test_a_query_past_its_deadline_is_stopped_in_the_engine(registry):
    started = time.monotonic()
    with pytest.raises(SearchCancelled, match="time limit"):
        index_for(registry)._run(_ENDLESS, [], time.monotonic() + 0.2, None)
    assert time.monotonic() - started < 2.0


def test_a_query_abandoned_by_its_client_is_stopped_in_the_engine(registry):
    cancel = threading.Event()
    threading.Timer(0.2, cancel.set).start()
    started = time.monotonic()
    with pytest.raises(SearchCancelled, match="abandoned"):
        index_for(registry)._run(_ENDLESS, [], None, cancel)
    assert time.monotonic() - started < 2.0


def test_a_search_past_its_deadline_is_refused_and_the_index_still_answers(registry):
    with pytest.raises(SearchCancelled):
        index_for(registry).search(parse_params({"query.cond": "lung"}), deadline=time.monotonic() - 1)
    assert found(registry, **{"query.cond": "lung"}) == [CRIZOTINIB]


def test_the_api_answers_503_when_the_search_runs_past_the_time_limit(listing, monkeypatch):
    import acse_kg.api.ctgov

    monkeypatch.setattr(acse_kg.api.ctgov, "_search_timeout", lambda request: -1.0)
    r = listing.get("/api/v2/studies", params={"query.cond": "lung"})
    assert r.status_code == 503 and "stopped" in r.text


def test_the_search_page_search_is_stopped_past_its_deadline(registry):
    from acse_kg.pages.search import Search
    from acse_kg.pages.search import search as page_search

    with pytest.raises(SearchCancelled):
        page_search(registry, Search.from_params([("q", "crizotinib")]), deadline=time.monotonic() - 1)
    assert [c.nct for c in page_search(registry, Search.from_params([("q", "crizotinib")])).cards] == [CRIZOTINIB]


def test_the_route_stops_the_engine_when_its_client_goes_away(registry):
    """/api/v2/studies runs its search with an event that a watcher sets once the client disconnects."""
    import asyncio

    import acse_kg.api.ctgov

    class GoneClient:
        async def is_disconnected(self) -> bool:
            return True

    started = time.monotonic()
    with pytest.raises(SearchCancelled, match="abandoned"):
        asyncio.run(acse_kg.api.ctgov._watching(  # a 5 s limit, so that a watcher that never fires fails, not hangs
            GoneClient(), lambda cancel: index_for(registry)._run(_ENDLESS, [], time.monotonic() + 5, cancel)))
    assert time.monotonic() - started < 2.0


def test_an_index_copied_for_another_dataset_is_kept_and_one_of_another_layout_is_refused(tmp_path):
    """A dataset copied byte for byte elsewhere takes its index with it: tied to the new dataset's
    identity, the copy opens without reading a study again. A file of an older layout is refused,
    naming it, and nothing is written where the copy would go."""
    import sqlite3

    from acse_kg.search_index import SearchIndexError, copy_index

    store, expected = _layout_4_index(tmp_path)
    with pytest.raises(SearchIndexError, match="layout 4, not"):
        copy_index(tmp_path / "store.search.sqlite", tmp_path / "copy" / "remote.sqlite", "dataset-2")
    assert not (tmp_path / "copy" / "remote.sqlite").exists()
    SearchIndex(store, tmp_path / "store.search.sqlite").close()  # moved to this layout
    copy_index(tmp_path / "store.search.sqlite", tmp_path / "copy" / "remote.sqlite", "dataset-2")
    copied = SearchIndex(store, tmp_path / "copy" / "remote.sqlite", identity="dataset-2")
    assert copied.sync() == []
    assert (copied.search(parse_params(_STATUS_QUERY)), copied.cards(ALL), copied.records(ALL)) == expected
    copied.close()
    with sqlite3.connect(tmp_path / "store.search.sqlite") as source:  # the source is left as it was
        assert source.execute("SELECT value FROM meta WHERE key = 'dataset'").fetchone() != ("dataset-2",)
    store.close()
