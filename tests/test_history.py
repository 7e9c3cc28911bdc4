"""History: every import keeps the version before it; a diff names the changed fields."""

from __future__ import annotations

import copy

import pytest
from ctgov_fixtures import load_record

from acse_kg.ctgov.import_ import import_study
from acse_kg.history import HistoryError, diff_versions, list_versions, same_quads, stored_quads
from acse_kg.store import HISTORY_PREFIX

NCT = "NCT06171568"


@pytest.fixture()
def reimported(fresh_store):
    record = load_record("example_v2_NCT06171568_APHP_french.json")
    import_study(fresh_store, record, agent="alice")
    changed = copy.deepcopy(record)
    changed["protocolSection"]["statusModule"]["overallStatus"] = "COMPLETED"
    import_study(fresh_store, changed, agent="bob")
    return fresh_store


def test_reimport_gives_two_versions_with_who_and_when(reimported):
    versions = list_versions(reimported, NCT)
    assert [v.number for v in versions] == [1, 2]
    assert [v.agent for v in versions] == ["alice", "bob"]
    assert all(v.time for v in versions) and versions[-1].current


def test_diff_names_the_changed_field(reimported):
    assert diff_versions(reimported, NCT, 1, 2) == [
        {"field": "protocolSection.statusModule.overallStatus", "from": "NOT_YET_RECRUITING", "to": "COMPLETED"}
    ]


def test_old_versions_stay_out_of_the_default_graph(reimported):
    assert any(g.startswith(HISTORY_PREFIX) for g in reimported.named_graphs())
    statuses = reimported.select(f"SELECT ?c WHERE {{ id:study\\/{NCT} acse:overallStatus/acse:code ?c }}").values("c")
    assert statuses == ["COMPLETED"]


def test_bundled_record_is_version_zero(store):
    versions = list_versions(store, "NCT02034981")
    assert [(v.number, v.current) for v in versions] == [(0, True)]


def test_unknown_version_is_an_error(reimported):
    with pytest.raises(HistoryError):
        diff_versions(reimported, NCT, 1, 7)


def test_an_edit_of_the_bundled_record_keeps_version_zero(fresh_store):
    from acse_kg.history import edit_study
    from acse_kg.loader import study_graph_name

    g = fresh_store.graph(study_graph_name("NCT02034981"))
    from rdflib import Literal, URIRef

    study = URIRef("https://w3id.org/acse-kg/id/study/NCT02034981")
    acr = URIRef("https://w3id.org/acse-kg/ontology#acronym")
    g.set((study, acr, Literal("AcSe-crizotinib")))
    edit_study(fresh_store, "NCT02034981", g.serialize(format="nt"), "ntriples", agent="curator")
    assert [(v.number, v.agent) for v in list_versions(fresh_store, "NCT02034981")] == [(0, "bundle"), (1, "curator")]
    assert diff_versions(fresh_store, "NCT02034981", 0, 1) == [
        {"field": "protocolSection.identificationModule.acronym", "from": "AcSé", "to": "AcSe-crizotinib"}]


def test_a_broken_edit_changes_nothing(fresh_store):
    from acse_kg.history import edit_study
    from acse_kg.store import StoreError

    before = len(fresh_store)
    with pytest.raises(StoreError):
        edit_study(fresh_store, "NCT02034981", "<not turtle", agent="curator")
    assert len(fresh_store) == before


def test_a_curated_edit_the_json_cannot_show_is_named_by_its_graph_path(fresh_store):
    """Correcting the registered Hb threshold changes no API v2 field, yet the diff must name it."""
    from acse_kg.history import edit_study
    from acse_kg.loader import study_graph_name

    nt = fresh_store.graph(study_graph_name("NCT02034981")).serialize(format="nt")
    old = '<https://w3id.org/acse-kg/ontology#registeredThreshold> "8"'
    assert nt.count(old) == 1
    edit_study(fresh_store, "NCT02034981", nt.replace(old, old.replace('"8"', '"80"')), "ntriples", agent="curator")
    assert diff_versions(fresh_store, "NCT02034981", 0, 1) == [
        {"field": "criterion/inc-06-hemoglobin acse:requires/acse:registeredThreshold", "from": "8", "to": "80"}]


def test_identical_versions_have_an_empty_diff(fresh_store):
    from acse_kg.history import edit_study
    from acse_kg.loader import study_graph_name

    nt = fresh_store.graph(study_graph_name("NCT02034981")).serialize(format="nt")
    edit_study(fresh_store, "NCT02034981", nt, "ntriples", agent="curator")
    assert diff_versions(fresh_store, "NCT02034981", 0, 1) == []


def test_reordered_keywords_are_one_json_field_each_not_graph_noise(fresh_store):
    record = load_record("example_v2_NCT06171568_APHP_french.json")
    import_study(fresh_store, record)
    changed = copy.deepcopy(record)
    kw = changed["protocolSection"]["conditionsModule"]["keywords"]
    kw[0], kw[1] = kw[1], kw[0]
    import_study(fresh_store, changed)
    assert [c["field"] for c in diff_versions(fresh_store, NCT, 1, 2)] == [
        "protocolSection.conditionsModule.keywords[0]", "protocolSection.conditionsModule.keywords[1]"]


def test_a_changed_cohort_pathology_is_named_and_display_noise_is_not(fresh_store):
    from acse_kg.history import edit_study
    from acse_kg.loader import study_graph_name

    nt = fresh_store.graph(study_graph_name("NCT02034981")).serialize(format="nt")
    onco = "https://w3id.org/acse-kg/id/oncotree/2025_10_03/"
    old = f"<https://w3id.org/acse-kg/id/study/NCT02034981/cohort/18> <https://w3id.org/acse-kg/ontology#pathology> <{onco}GB>"
    assert nt.count(old) == 1
    edit_study(fresh_store, "NCT02034981", nt.replace(old, old.replace("/GB>", "/ASTR>")), "ntriples", agent="curator")
    assert diff_versions(fresh_store, "NCT02034981", 0, 1) == [
        {"field": "cohort/18 acse:pathology", "from": "onco:GB", "to": "onco:ASTR"}]


def test_a_new_title_is_one_field_not_also_the_derived_label(fresh_store):
    record = load_record("example_v2_NCT06171568_APHP_french.json")
    import_study(fresh_store, record)
    changed = copy.deepcopy(record)
    changed["protocolSection"]["identificationModule"]["briefTitle"] = "New title"
    changed["protocolSection"]["contactsLocationsModule"]["locations"][0]["facility"] = "Other hospital"
    import_study(fresh_store, changed)
    assert [c["field"] for c in diff_versions(fresh_store, NCT, 1, 2)] == [
        "protocolSection.contactsLocationsModule.locations[0].facility",
        "protocolSection.identificationModule.briefTitle"]


def test_reimporting_the_same_record_makes_no_new_version(fresh_store):
    record = load_record("example_v2_NCT06171568_APHP_french.json")
    import_study(fresh_store, record)
    before = len(fresh_store)
    again = import_study(fresh_store, copy.deepcopy(record))
    assert again.unchanged and again.previous_version is None
    assert [v.number for v in list_versions(fresh_store, NCT)] == [1] and len(fresh_store) == before


#: One content written three ways: another lexical form of a number, other blank-node names, nested or not.
SAME = ['<urn:x:a> <urn:x:p> "01"^^<http://www.w3.org/2001/XMLSchema#integer> ; <urn:x:q> [ <urn:x:r> [ <urn:x:s> 1 ] ; <urn:x:t> 2 ] .',
        "<urn:x:a> <urn:x:p> 1 ; <urn:x:q> _:b1 . _:b1 <urn:x:t> 2 ; <urn:x:r> _:b2 . _:b2 <urn:x:s> 1 .",
        "_:z <urn:x:s> 1 . _:y <urn:x:r> _:z ; <urn:x:t> 2 . <urn:x:a> <urn:x:q> _:y ; <urn:x:p> 1 ."]


@pytest.mark.parametrize("text", SAME[1:])
def test_contents_equal_up_to_blank_node_names_and_lexical_forms_are_the_same(text):
    assert same_quads(stored_quads(SAME[0], "turtle", "urn:x:g"), stored_quads(text, "turtle", "urn:x:g"))


def test_values_moved_between_blank_nodes_are_another_content():
    # The same triples but for which blank node holds 1 and which 2: ground parts alone would not tell.
    moved = "<urn:x:a> <urn:x:p> 1 ; <urn:x:q> _:b1 . _:b1 <urn:x:t> 1 ; <urn:x:r> _:b2 . _:b2 <urn:x:s> 2 ."
    assert not same_quads(stored_quads(SAME[1], "turtle", "urn:x:g"), stored_quads(moved, "turtle", "urn:x:g"))


def test_a_note_with_line_breaks_and_quotes_round_trips(fresh_store):
    """Whatever a curator types as the note (CR, LF, quotes, backslashes) is stored and read back as typed."""
    from acse_kg.history import edit_study
    from acse_kg.loader import study_graph_name

    note = 'line1\rline2\nsaid "no" \\ done'
    nt = fresh_store.graph(study_graph_name("NCT02034981")).serialize(format="nt")
    edit_study(fresh_store, "NCT02034981", nt, "ntriples", agent='cu"rator\r\n', note=note)
    latest = list_versions(fresh_store, "NCT02034981")[-1]
    assert (latest.note, latest.agent) == (note, 'cu"rator\r\n')
