"""Import: API v2 records map into the graph with the same ontology, all or nothing."""

from __future__ import annotations

import copy

import pytest
from ctgov_fixtures import RECORDS, field_differences, load_record, spec_protocol

from acse_kg.ctgov.export import export_study
from acse_kg.ctgov.import_ import ImportRefused, age_years, import_study
from acse_kg.ctgov.spec import all_generic_fields


@pytest.fixture(scope="module")
def imported_store():
    """One store with both reference records imported (module scope: the big one takes a moment)."""
    from acse_kg.store import open_store

    st = open_store("memory")
    results = {name: import_study(st, load_record(name), agent="test") for name in RECORDS}
    return st, results


@pytest.mark.parametrize("name", RECORDS)
def test_reference_record_round_trips_field_by_field(imported_store, name):
    st, results = imported_store
    record = load_record(name)
    exported = export_study(st, results[name].nct_id)
    assert field_differences(spec_protocol(record), exported["protocolSection"]) == []


@pytest.mark.parametrize("name", RECORDS)
def test_reference_record_round_trips_with_array_order_too(imported_store, name):
    """Collaborators and keywords keep the registered order (a ClinicalTrials.gov client shows them so)."""
    st, results = imported_store
    assert export_study(st, results[name].nct_id)["protocolSection"] == spec_protocol(load_record(name))


@pytest.mark.parametrize("name", RECORDS)
def test_mesh_terms_and_their_ancestors_round_trip(imported_store, name):
    st, results = imported_store
    derived = load_record(name)["derivedSection"]
    exported = export_study(st, results[name].nct_id)["derivedSection"]
    for module in ("conditionBrowseModule", "interventionBrowseModule"):
        for kind in ("meshes", "ancestors"):
            assert exported.get(module, {}).get(kind, []) == derived.get(module, {}).get(kind, []), (module, kind)


def test_field_outside_the_spec_is_reported_not_dropped_silently(imported_store):
    _, results = imported_store
    warnings = [w.path for w in results["example_v2_NCT02513394.json"].warnings if w.path.startswith("$.protocolSection")]
    assert warnings == ["$.protocolSection.contactsLocationsModule.locations_nested"]


def test_parts_the_registry_does_not_keep_are_each_reported(imported_store):
    """Results, documents and derived data other than MeSH terms are not stored, and the import says so."""
    _, results = imported_store
    paths = {w.path for w in results["example_v2_NCT02513394.json"].warnings}
    assert {"$.resultsSection", "$.documentSection", "$.hasResults", "$.derivedSection.miscInfoModule",
            "$.derivedSection.conditionBrowseModule.browseLeaves"} <= paths
    assert not any(p.endswith((".meshes", ".ancestors")) for p in paths)


def test_imported_record_uses_the_core_ontology(imported_store):
    st, _ = imported_store
    rows = st.select(
        "SELECT ?status ?sponsor WHERE { id:study\\/NCT06171568 acse:overallStatus/acse:code ?status ; "
        "acse:leadSponsor/rdfs:label ?sponsor ; acse:startDate/acse:dateType acse:Estimated }"
    )
    assert len(rows) == 1 and str(rows.rows[0]["sponsor"]) == "Assistance Publique - Hôpitaux de Paris"


def test_unstructured_eligibility_is_kept_as_text_and_says_so(imported_store):
    st, _ = imported_store
    assert st.ask(
        "ASK { id:study\\/NCT06171568 acse:eligibilityStructured false ; acse:eligibilityCriteriaText ?t }"
    )


def test_every_generic_field_has_a_declared_property(store):
    declared = set(store.select(
        "SELECT ?p WHERE { ?p a ?k FILTER(?k IN (owl:DatatypeProperty, owl:ObjectProperty)) "
        "?p skos:definition ?d ; rdfs:label ?l }").values("p"))
    missing = [f.prop for f in all_generic_fields() if f"https://w3id.org/acse-kg/ontology#{f.prop}" not in declared]
    assert missing == []


def test_broken_record_is_refused_with_paths_and_store_unchanged(fresh_store):
    record = load_record("example_v2_NCT06171568_APHP_french.json")
    import_study(fresh_store, record)
    before = len(fresh_store)
    bad = copy.deepcopy(record)
    bad["protocolSection"]["statusModule"]["overallStatus"] = "OPEN"
    bad["protocolSection"]["designModule"]["enrollmentInfo"]["count"] = "many"
    bad["protocolSection"]["descriptionModule"]["briefSummary"] = "changed"
    with pytest.raises(ImportRefused) as err:
        import_study(fresh_store, bad)
    assert [p.path for p in err.value.problems] == [
        "$.protocolSection.designModule.enrollmentInfo.count",
        "$.protocolSection.statusModule.overallStatus",
    ]
    assert len(fresh_store) == before


def test_record_without_nct_id_is_refused(fresh_store):
    before = len(fresh_store)
    with pytest.raises(ImportRefused) as err:
        import_study(fresh_store, {"protocolSection": {"identificationModule": {"briefTitle": "x"}}})
    assert err.value.problems[0].path == "$.protocolSection.identificationModule.nctId"
    assert len(fresh_store) == before


@pytest.mark.parametrize("text,years", [("18 Years", 18.0), ("6 Months", 0.5), ("1 Year", 1.0), ("N/A", None)])
def test_age_text_to_years(text, years):
    assert age_years(text) == years


def test_ontology_extension_is_what_the_generator_writes():
    from acse_kg.ctgov.vocabulary import OUT, extension_turtle

    assert OUT.read_text(encoding="utf-8") == extension_turtle()


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from acse_kg.ctgov.spec import enum_values  # noqa: E402

_text = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40)


@settings(max_examples=20, deadline=None)
@given(title=_text, status=st.sampled_from(enum_values("Status")),
       phases=st.lists(st.sampled_from(enum_values("Phase")), unique=True, max_size=3),
       count=st.integers(0, 10**6), keywords=st.lists(_text, unique=True, max_size=3),
       date=st.sampled_from(["2020", "2020-05", "2020-05-17"]))
def test_generated_records_round_trip(store, title, status, phases, count, keywords, date):
    """Any values the spec allows in these fields come back as they went in (a graph built without storing)."""
    from acse_kg.ctgov.export import _codes, export_from_graph
    from acse_kg.ctgov.import_ import enum_index, study_to_graph

    ps = {
        "identificationModule": {"nctId": "NCT09999999", "briefTitle": title},
        "statusModule": {"overallStatus": status, "startDateStruct": {"date": date, "type": "ACTUAL"}},
        "conditionsModule": {"keywords": keywords},
        "designModule": {"phases": phases, "enrollmentInfo": {"count": count, "type": "ESTIMATED"}},
    }
    g, problems = study_to_graph({"protocolSection": ps}, enum_index(store))
    assert problems == []
    back = export_from_graph(g, _codes(store), "NCT09999999")["protocolSection"]
    assert field_differences({k: v for k, v in ps.items()},
                             {k: v for k, v in back.items() if k in ps}) == []


def test_curated_record_is_not_overwritten_by_its_own_export(fresh_store):
    """The curated cohorts and criteria cannot travel in API v2 JSON: re-importing the export must not drop them."""
    exported = export_study(fresh_store, "NCT02034981")
    before = len(fresh_store)
    with pytest.raises(ImportRefused) as err:
        import_study(fresh_store, exported)
    assert "curated" in err.value.problems[0].message and len(fresh_store) == before
    import_study(fresh_store, exported, replace_curated=True)
    assert field_differences(exported["protocolSection"], export_study(fresh_store, "NCT02034981")["protocolSection"]) == []
    assert not fresh_store.ask("ASK { id:study\\/NCT02034981 acse:hasCohort ?c }")
    from acse_kg.history import list_versions

    assert [v.number for v in list_versions(fresh_store, "NCT02034981")] == [0, 1]  # the curated one is kept


class _RefusingStore:
    """A store whose endpoint refuses any write to one study's live graph (e.g. a request too large)."""

    def __init__(self, inner, live_graph: str) -> None:
        self.inner, self.live = inner, live_graph

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def __len__(self) -> int:
        return len(self.inner)

    def write(self, ops, *, claim=None) -> None:
        from acse_kg.store import ReplaceGraph, StoreError

        if any(isinstance(op, ReplaceGraph) and op.graph == self.live for op in ops):
            raise StoreError("endpoint refused the update")
        self.inner.write(ops, claim=claim)

    def replace_graph(self, graph, data, rdf_format="turtle") -> None:
        from acse_kg.store import StoreError

        if graph == self.live:
            raise StoreError("endpoint refused the update")
        self.inner.replace_graph(graph, data, rdf_format)


def test_a_failed_write_leaves_neither_the_new_version_nor_a_history_entry(fresh_store):
    """All or nothing includes the history: archiving and replacing are one transaction."""
    from acse_kg.history import list_versions
    from acse_kg.loader import study_graph_name
    from acse_kg.store import StoreError

    record = load_record("example_v2_NCT06171568_APHP_french.json")
    import_study(fresh_store, record)
    before, versions = len(fresh_store), list_versions(fresh_store, "NCT06171568")
    changed = copy.deepcopy(record)
    changed["protocolSection"]["identificationModule"]["acronym"] = "X"
    refusing = _RefusingStore(fresh_store, study_graph_name("NCT06171568"))
    with pytest.raises(StoreError):
        import_study(refusing, changed)
    assert len(fresh_store) == before and list_versions(fresh_store, "NCT06171568") == versions
