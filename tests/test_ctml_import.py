"""CTML import: a MatchMiner trial becomes a structured study whose cohorts carry the arms' match trees as rules."""

from __future__ import annotations

import pytest
from ctml_fixtures import CAPTUR, arm, captur, shape, v1_example
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rdflib import Literal, URIRef
from rdflib.namespace import PROV

from acse_kg.ctml.importer import CtmlRefused, NotCtml, check_document, import_ctml
from acse_kg.ctml.mapping import canonical_cnv_call
from acse_kg.ctml.vocabulary import CNV_CALLS
from acse_kg.history import list_versions
from acse_kg.model import read_study
from acse_kg.namespaces import ACSE
from acse_kg.store import open_store

CRIZOTINIB = "https://w3id.org/acse-kg/id/drug/crizotinib"
CNV_PATH = "$.treatment_list.step[0].arm[2].match[0].and[0].or[2].genomic.cnv_call"


@pytest.fixture(scope="module")
def imported():
    """A store holding CAPTUR as imported from its CTML, with the import's result."""
    s = open_store("memory")
    result = import_ctml(s, captur())
    return s, result


def test_captur_imports_one_cohort_per_arm(imported):
    s, result = imported
    study = read_study(s, CAPTUR)
    assert (result.cohorts, [c.number for c in study.cohorts]) == (13, list(range(1, 14)))
    assert study.source == "CTML" and study.structured


def test_captur_keeps_its_recruitment_and_every_arm_open(imported):
    study = read_study(imported[0], CAPTUR)
    assert study.status is not None and study.status.code == "RECRUITING"
    assert all(c.is_open for c in study.cohorts)


def test_crizotinib_arm_rule_is_the_match_tree(imported):
    c = read_study(imported[0], CAPTUR).cohort(3)
    assert c.label == "Group 3: Crizotinib"  # the description only repeats the code: the label names the drug
    assert c.registered_text in ("", "Experimental: Group 3")
    assert shape(c.rule) == ("and", frozenset({
        ("or", frozenset({"ALK Translocation", "ROS1 Mutation fn=activating",
                          "MET Amplification cnv=High level amplification", "MET Mutation fn=activating"})),
        ("and", frozenset({"age_years ge 18.0", "not NSCLC"})),
    }))


def test_crizotinib_arm_targets_the_genes_that_satisfy_it_and_shares_the_drug(imported):
    c = read_study(imported[0], CAPTUR).cohort(3)
    assert [g.code for g in c.genes] == ["ALK", "MET", "ROS1"]
    assert [d.iri for d in c.drugs] == [CRIZOTINIB]


def test_vemurafenib_cobimetinib_arm_takes_braf_v600e_but_not_melanoma_colorectal_thyroid(imported):
    c = read_study(imported[0], CAPTUR).cohort(12)
    genomic, clinical = sorted(c.rule.operands, key=lambda o: o.kind)[::-1]  # type: ignore[union-attr]
    assert "BRAF Mutation pc=p.V600E vc=Missense_Mutation" in shape(genomic)[1]
    assert shape(clinical) == ("and", frozenset({("and", frozenset({"age_years ge 18.0", f"not {code}"}))
                                                 for code in ("MEL", "COADREAD", "THYROID")}))
    assert sorted(d.name for d in c.drugs) == ["cobimetinib", "vemurafenib"]


def test_dose_levels_become_regimens_parsed_where_the_text_is_plain(imported):
    study = read_study(imported[0], CAPTUR)
    r = next(r for r in study.regimens if r.registered_text == "250mg orally twice daily")
    assert (r.dose, r.dose_unit, r.doses_per_day, r.route.iri if r.route else None) == \
        (250.0, "mg", 2, str(ACSE.Oral))
    odd = next(r for r in study.regimens if r.registered_text.startswith("3-weekly"))
    assert odd.dose is None and odd.frequency is None


def test_prior_treatment_requirements_are_inclusion_criteria_to_confirm(imported):
    study = read_study(imported[0], CAPTUR)
    texts = [c.text for c in study.criteria if c.id.startswith("ctml-prior-")]
    assert len(texts) == 8 and texts[1] == "ECOG performance status 0-2."
    assert all(c.kind == "inclusion" and c.computable is False for c in study.criteria)


def test_the_misspelt_cnv_call_is_reported_with_its_path_and_corrected(imported):
    _, result = imported
    found = [f for f in result.findings if f.path == CNV_PATH]
    assert {(f.value, f.action) for f in found} == {("High Amplication", "schema"), ("High Amplication", "corrected")}
    assert "High level amplification" in next(f.message for f in found if f.action == "corrected")


def test_the_correction_is_recorded_in_the_graph(imported):
    s, _ = imported
    g = s.graph(f"https://w3id.org/acse-kg/id/graph/study/{CAPTUR}")
    cur = next(c for c in g.subjects(ACSE.registeredValue, Literal("High Amplication")))
    assert g.value(cur, ACSE.curatedValue) == Literal("High level amplification")
    node = g.value(cur, PROV.generated)
    assert g.value(node, ACSE.gene) == URIRef("https://w3id.org/acse-kg/id/gene/MET")


def test_every_other_malformed_value_is_reported(imported):
    corrected = {(f.path.rsplit(".", 1)[-1], str(f.value)) for f in imported[1].findings if f.action == "corrected"}
    assert {("cnv_call", "Heterozygous Deletion"), ("tmb", "10"), ("er_status", "true"),
            ("variant_classification", "Del_Ins"), ("wildcard_protein_change", "p.V600E")} <= corrected


def test_an_unknown_clinical_field_gets_a_variable_so_the_rule_stays_unknown_not_true(imported):
    c = read_study(imported[0], CAPTUR).cohort(8)
    assert "er_status eq Positive" in shape(c.rule.operands[0])[1]  # type: ignore[union-attr]


def test_v1_yaml_example_imports_under_the_nct_number_given():
    s = open_store("memory")
    with pytest.raises(CtmlRefused, match=r"\$\.nct_id"):
        import_ctml(s, v1_example())
    result = import_ctml(s, v1_example(), nct="NCT00000001")
    c = read_study(s, "NCT00000001").cohorts[0]
    genomic, clinical = c.rule.operands  # type: ignore[union-attr]
    assert shape(genomic) == "EGFR Mutation pc=p.L858R exon=19"
    solid = next(o for o in clinical.operands if o.kind == "Disjunction")  # type: ignore[union-attr]
    assert len(solid.operands) == 30 and {"LYMPH", "MYELOID"}.isdisjoint(shape(solid)[1])
    assert result.cohorts == 1 and read_study(s, "NCT00000001").regimens[0].doses_per_day == 2


def test_a_suspended_arm_is_a_closed_cohort():
    doc = captur()
    arm(doc, "Group 3")["arm_suspended"] = "Y"
    s = open_store("memory")
    import_ctml(s, doc)
    study = read_study(s, CAPTUR)
    assert [c.number for c in study.cohorts if not c.is_open] == [3]


def test_a_negated_gene_is_a_negation_and_not_a_target():
    doc = captur()
    arm(doc, "Group 5")["match"][0]["and"].append({"genomic": {"hugo_symbol": "!KRAS", "variant_category": "Mutation"}})
    s = open_store("memory")
    import_ctml(s, doc)
    c = read_study(s, CAPTUR).cohort(5)
    assert "not KRAS Mutation" in shape(c.rule)[1] and [g.code for g in c.genes] == ["EGFR"]


@pytest.mark.parametrize("change, path_end, message", [
    (("hugo_symbol", "NOTAGENE"), "genomic.hugo_symbol", "not an HGNC approved gene symbol"),
    (("variant_category", "Fusion"), "genomic.variant_category", "not a CTML variant category"),
    (("cnv_call", "Triple"), "genomic.cnv_call", "not a CTML CNV call"),
])
def test_bad_genomic_values_refuse_the_file_naming_the_path(change, path_end, message):
    doc = captur()
    arm(doc, "Group 3")["match"][0]["and"][0]["or"][0]["genomic"][change[0]] = change[1]
    s = open_store("memory")
    with pytest.raises(CtmlRefused) as err:
        import_ctml(s, doc)
    line = str(err.value)
    assert "\n" not in line and f"$.treatment_list.step[0].arm[2].match[0].and[0].or[0].{path_end}" in line
    assert message in line and len(s.graph(f"https://w3id.org/acse-kg/id/graph/study/{CAPTUR}")) == 0


def test_an_unknown_diagnosis_name_refuses_the_file_naming_the_path():
    doc = captur()
    arm(doc, "Group 3")["match"][0]["and"][1]["clinical"]["oncotree_primary_diagnosis"] = "!Lung Thing"
    with pytest.raises(CtmlRefused, match=r"arm\[2\]\.match\[0\]\.and\[1\]\.clinical\.oncotree_primary_diagnosis"
                                          r" = \"!Lung Thing\": not an OncoTree tumour type name"):
        import_ctml(open_store("memory"), doc)


@pytest.mark.parametrize("doc", [{"protocolSection": {}}, ["nct_id"], {"nct_id": "NCT03297606"}])
def test_what_is_not_ctml_is_refused_as_such(doc):
    with pytest.raises(NotCtml, match="not a CTML trial"):
        check_document(doc)


def test_importing_the_same_trial_again_makes_no_version_and_a_change_makes_one():
    s = open_store("memory")
    import_ctml(s, captur())
    assert import_ctml(s, captur()).unchanged
    doc = captur()
    arm(doc, "Group 13")["arm_suspended"] = "Y"
    result = import_ctml(s, doc)
    assert result.previous_version and [v.number for v in list_versions(s, CAPTUR)] == [1, 2]


@given(st.sampled_from(sorted(CNV_CALLS)), st.lists(st.booleans(), min_size=40, max_size=40))
def test_a_cnv_call_in_any_capitals_is_that_call(call, upper):
    spelt = "".join(ch.upper() if u else ch.lower() for ch, u in zip(call, upper, strict=False))
    assert canonical_cnv_call(spelt) == call


@settings(max_examples=60)
@given(st.text(alphabet="xyzqw ", min_size=1, max_size=12))
def test_a_value_far_from_every_cnv_call_is_not_guessed(text):
    assert canonical_cnv_call(text) is None


def test_a_study_held_from_another_source_is_not_replaced_unless_asked():
    s = open_store("memory")
    doc = captur()
    doc["nct_id"] = "NCT02034981"  # AcSé's curated record is in every store
    with pytest.raises(CtmlRefused, match=r"\$\.nct_id = \"NCT02034981\": NCT02034981 is in the registry from "
                                          r"another source"):
        import_ctml(s, doc)
    assert len(read_study(s, "NCT02034981").cohorts) == 23
    assert import_ctml(s, doc, replace_other_source=True).previous_version


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                           lambda sub: st.lists(sub, max_size=3) | st.dictionaries(st.text(max_size=5), sub, max_size=3),
                           max_leaves=6)
PLACES = [  # (path into CAPTUR, key) of values a curator types
    (("treatment_list", "step", 0, "arm", 2), "match"),
    (("treatment_list", "step", 0, "arm", 2), "dose_level"),
    (("treatment_list", "step", 0, "arm", 2, "match", 0, "and", 0, "or", 0, "genomic"), "hugo_symbol"),
    (("treatment_list", "step", 0, "arm", 2, "match", 0, "and", 0, "or", 2, "genomic"), "cnv_call"),
    (("treatment_list", "step", 0, "arm", 2, "match", 0, "and", 1, "clinical"), "age_numerical"),
    (("treatment_list", "step", 0, "arm", 2, "match", 0, "and", 1, "clinical"), "oncotree_primary_diagnosis"),
    (("treatment_list", "step", 0), "arm"),
    ((), "treatment_list"),
    ((), "prior_treatment_requirements"),
    ((), "site_list"),
]


@pytest.fixture(scope="module")
def fuzz_store():
    return open_store("memory")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(place=st.sampled_from(PLACES), value=json_values)
def test_any_value_anywhere_imports_or_is_refused_naming_a_path(fuzz_store, place, value):
    doc = captur()
    node = doc
    for step in place[0]:
        node = node[step]
    node[place[1]] = value
    try:
        import_ctml(fuzz_store, doc)
    except CtmlRefused as exc:
        assert str(exc).startswith("CTML refused, nothing was stored: $") and "\n" not in str(exc)
