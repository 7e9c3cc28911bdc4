"""The search page's facet bitsets count and page as reading every card would, and stay in step with the index."""

from __future__ import annotations

import sqlite3

from ctgov_fixtures import RECORDS, load_record
from hypothesis import given, settings
from hypothesis import strategies as st

from acse_kg.ctgov.import_ import import_study
from acse_kg.facet_bits import COHORTS, PATHOLOGY, FacetBits
from acse_kg.pages.search import Search, search
from acse_kg.search_index import SearchIndex, index_for
from acse_kg.store import open_store

FACET_VALUES = {"gene": ["MET", "ALK", "ROS1"], "status": ["RECRUITING", "COMPLETED"], "country": ["France", "Spain", "Japan"]}

cards = st.dictionaries(
    st.from_regex(r"NCT0[0-9]{3}", fullmatch=True),
    st.fixed_dictionaries({f: st.lists(st.sampled_from(vs), unique=True, max_size=2) for f, vs in FACET_VALUES.items()}),
    max_size=40)


def naive_counts(table: dict[str, dict[str, list[str]]], found: set[str], chosen: dict[str, list[str]],
                 facet: str) -> dict[str, int]:
    """What the search page counted before the bitsets: every card read, the other facets' filters applied."""
    counts: dict[str, int] = {}
    for nct, facets in table.items():
        if nct in found and all(not vs or set(vs) & set(facets[f]) for f, vs in chosen.items() if f != facet):
            for v in facets[facet]:
                counts[v] = counts.get(v, 0) + 1
    return counts


def build(table: dict[str, dict[str, list[str]]]) -> FacetBits:
    return FacetBits.build(list(table),
                           [(n, f, v, v.lower()) for n, facets in table.items() for f, vs in facets.items() for v in vs])


@settings(max_examples=150, deadline=None)
@given(table=cards, data=st.data())
def test_a_facets_counts_are_those_of_the_cards_the_other_filters_keep(table, data):
    bits = build(table)
    found = data.draw(st.sets(st.sampled_from(sorted(table)))) if table else set()
    chosen = {f: data.draw(st.lists(st.sampled_from(vs), unique=True, max_size=2)) for f, vs in FACET_VALUES.items()}
    having = {f: bits.having(f, vs) for f, vs in chosen.items() if vs}
    for facet in FACET_VALUES:
        within = bits.of(found)
        for f, b in having.items():
            if f != facet:
                within &= b
        assert {v: n for v, (_, n) in bits.counts(facet, within).items()} == naive_counts(table, found, chosen, facet)


@settings(max_examples=150, deadline=None)
@given(table=cards, data=st.data())
def test_pages_walk_the_studies_found_in_nct_order_each_once(table, data):
    bits = build(table)
    found = sorted(data.draw(st.sets(st.sampled_from(sorted(table))))) if table else []
    size = data.draw(st.integers(1, 7))
    pages = [bits.page(bits.of(found), start, size) for start in range(0, len(found) + size, size)]
    assert [n for p in pages for n in p] == found and all(len(p) <= size for p in pages)


def test_the_summary_counts_studies_cohorts_genes_tumour_types_and_matchable_studies():
    bits = FacetBits.build(["NCT1", "NCT2", "NCT3"],
                           [("NCT1", COHORTS, "23", ""), ("NCT3", COHORTS, "4", ""),
                            ("NCT1", "gene", "MET", "MET"), ("NCT3", "gene", "MET", "MET"), ("NCT3", "gene", "BRAF", "BRAF"),
                            ("NCT1", PATHOLOGY, "urn:luad", ""), ("NCT3", PATHOLOGY, "urn:luad", "")])
    assert dict(bits.summary()) == {"studies": 3, "cohorts": 27, "genes": 2, "tumour_types": 1, "matchable": 2}


def test_an_import_is_counted_by_the_next_search():
    store = open_store("memory")
    before = search(store, Search.from_params([]))
    import_study(store, load_record(RECORDS[0]), draft=False)
    after = search(store, Search.from_params([]))
    assert after.total == before.total + 1
    status = {v: n for v, _, n, _ in next(f for f in after.facets if f.name == "status").values}
    assert sum(status.values()) == after.total


def test_an_index_file_made_before_the_facet_table_gets_it_from_its_cards_without_reading_a_study(tmp_path):
    path = tmp_path / "store"
    store = open_store(str(path))
    import_study(store, load_record(RECORDS[0]), draft=False)
    ix = index_for(store)
    expected = ix.facet_bits()
    ix.close()
    old = sqlite3.connect(tmp_path / "store.search.sqlite")
    old.executescript("DROP TABLE card_facet; DELETE FROM meta WHERE key = 'card-facets';")
    old.commit()
    old.close()
    reopened = SearchIndex(store, tmp_path / "store.search.sqlite")
    assert reopened.sync() == []  # nothing read again: the facets came from the cards it holds
    assert reopened.facet_bits() == expected and expected.values["gene"]
    reopened.close()
    store.close()


def test_rows_another_process_commits_to_the_index_file_are_counted_by_the_next_search(tmp_path):
    """A server and a bulk import (or ``acse-kg index``) share the index file: the server's facet
    table follows the other's commits, though its own store did not change."""
    from dataclasses import replace

    from acse_kg.search_index import RowContext, fingerprints, read_row

    store = open_store(str(tmp_path / "store"))
    server = SearchIndex(store, tmp_path / "store.search.sqlite")
    server.sync()
    before = server.facet_bits()
    importer = SearchIndex(store, tmp_path / "store.search.sqlite")
    row = read_row(store, "NCT02034981", RowContext.load(store))
    card = {**row.card, "facets": {**row.card["facets"], "status": {"WITHDRAWN": "Withdrawn"}}}
    importer.put([(replace(row, card=card), fingerprints(store)["NCT02034981"])])
    after = server.facet_bits()
    assert "WITHDRAWN" not in before.values["status"] and "WITHDRAWN" in after.values["status"]
    importer.close()
    server.close()
    store.close()


def test_a_rebuild_empties_and_refills_the_index_in_one_transaction(tmp_path):
    """Another connection never sees the index empty while a rebuild reads the graph again."""
    store = open_store(str(tmp_path / "store"))
    server = SearchIndex(store, tmp_path / "store.search.sqlite")
    server.sync()
    rebuilding = SearchIndex(store, tmp_path / "store.search.sqlite")
    seen: list[int] = []
    real = rebuilding._replace

    def replace_and_look(*args, **kwargs):  # the rows are read from the graph here, before the commit
        seen.append(server.count())
        return real(*args, **kwargs)

    rebuilding._replace = replace_and_look  # type: ignore[method-assign]
    assert rebuilding.rebuild() == 1 and seen == [1] and server.count() == 1
    rebuilding.close()
    server.close()
    store.close()
