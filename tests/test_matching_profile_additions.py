"""The contract's additions: variant-level alterations, prior therapies, tumour signatures."""

from __future__ import annotations

import jsonschema
import pytest
import rdflib
from hypothesis import given, settings
from hypothesis import strategies as st
from matching_fixtures import CRIT, DROP, profile

from acse_kg.matching import jsonld
from acse_kg.matching.hgvs import THREE_TO_ONE, normalise_protein_change, protein_change_matches
from acse_kg.matching.profile import ProfileError, json_schema, parse_profile
from acse_kg.matching.profile_schema import profile_schema

CRIZOTINIB = "https://w3id.org/acse-kg/id/drug/crizotinib"
_SCHEMA = jsonschema.Draft202012Validator(json_schema())


def error(**over) -> ProfileError:
    with pytest.raises(ProfileError) as info:
        parse_profile(profile(**over))
    return info.value


def alteration(**keys) -> dict:
    return profile(alterations=[{"gene": "BRAF", "type": "mutation", **keys}])


# ------------------------------------------------------------------ HGVS protein changes
@pytest.mark.parametrize(("given", "expected"), [
    ("p.V600E", "p.V600E"), ("p.Val600Glu", "p.V600E"), ("p.(Val600Glu)", "p.V600E"), ("p.(V600E)", "p.V600E"),
    ("p.R213*", "p.R213*"), ("p.Arg213Ter", "p.R213*"), ("p.V600=", "p.V600="),
    ("p.E746_A750del", "p.E746_A750del"), ("p.Glu746_Ala750del", "p.E746_A750del"),
    ("p.A767_V769dup", "p.A767_V769dup"), ("p.H773_V774insNPH", "p.H773_V774insNPH"),
    ("p.His773_Val774insAsnProHis", "p.H773_V774insNPH"), ("p.L747_P753delinsS", "p.L747_P753delinsS"),
    ("p.R97Pfs*23", "p.R97Pfs*23"), ("p.Arg97ProfsTer23", "p.R97Pfs*23"), ("p.R97fs", "p.R97fs"),
    ("p.*110Glnext*17", "p.*110Qext*17"), ("p.Met1ext-5", "p.M1ext-5"), ("p.X963_splice", "p.X963_splice"),
])
def test_an_hgvs_protein_change_is_kept_in_one_letter_form(given, expected) -> None:
    p = parse_profile(alteration(protein_change=given))
    assert p.alterations[0].protein_change == expected
    assert _SCHEMA.is_valid(alteration(protein_change=given))


@pytest.mark.parametrize("bad", ["V600E", "p.V600", "p.v600e", "p.V0E", "p.V600Zz", "c.1799T>A", "p.Vla600Glu",
                                 "p.E746_A750", "p.V600E ", "p.(V600E", "p.V600Eins"])
def test_a_protein_change_that_is_not_hgvs_is_an_error_naming_it(bad) -> None:
    e = error(alterations=[{"gene": "BRAF", "type": "mutation", "protein_change": bad}])
    assert e.field == "alterations.0.protein_change"
    assert not _SCHEMA.is_valid(alteration(protein_change=bad))  # the published pattern agrees


@settings(max_examples=200, deadline=None, derandomize=True)
@given(ref=st.sampled_from(sorted(THREE_TO_ONE)), alt=st.sampled_from(sorted(THREE_TO_ONE)),
       pos=st.integers(1, 5000))
def test_three_letter_and_one_letter_spellings_are_one_change(ref, alt, pos) -> None:
    one = f"p.{THREE_TO_ONE[ref]}{pos}{THREE_TO_ONE[alt]}"
    assert normalise_protein_change(f"p.{ref}{pos}{alt}") == normalise_protein_change(one) == one
    assert protein_change_matches(f"p.{ref}{pos}", one)  # a trial's wildcard at that position
    assert not protein_change_matches(f"p.{ref}{pos + 1}", one)


def test_a_wildcard_does_not_match_a_longer_position() -> None:
    assert protein_change_matches("p.V600", "p.V600E") and protein_change_matches("p.Val600", "p.V600K")
    assert not protein_change_matches("p.V60", "p.V600E")
    assert protein_change_matches("p.V600E", "p.V600E") and not protein_change_matches("p.V600E", "p.V600K")


# ------------------------------------------------------------------ other variant-level keys
def test_variant_level_keys_are_read() -> None:
    p = parse_profile(profile(alterations=[
        {"gene": "EGFR", "type": "mutation", "protein_change": "p.E746_A750del", "exon": 19,
         "variant_classification": "In_Frame_Del", "function": "activating", "method": "NGS"},
        {"gene": "CDKN2A", "type": "deletion", "cnv_call": "Homozygous deletion"},
        {"gene": "ALK", "type": "fusion", "partner": "EML4"},
    ]))
    egfr, cdkn2a, alk = p.alterations
    assert (egfr.exon, egfr.variant_classification, egfr.function) == (19, "In_Frame_Del", "activating")
    assert (cdkn2a.type, cdkn2a.cnv_call) == ("deletion", "Homozygous deletion")
    assert (alk.type, alk.partner) == ("translocation", "EML4")


def test_deletion_and_its_synonym_are_the_graphs_copy_number_loss(store) -> None:
    assert parse_profile(alteration(type="copy number loss")).alterations[0].type == "deletion"
    ctx = profile_schema(store).context()["@context"]["type"]["@context"]
    assert ctx["deletion"] == ctx["copy number loss"] == "acse:CopyNumberLoss"


@pytest.mark.parametrize(("keys", "field"), [
    ({"exon": 0}, "alterations.0.exon"), ({"exon": 2.5}, "alterations.0.exon"), ({"exon": "19"}, "alterations.0.exon"),
    ({"cnv_call": "High Amplication"}, "alterations.0.cnv_call"),
    ({"function": "Activating"}, "alterations.0.function"),
    ({"variant_classification": "missense mutation"}, "alterations.0.variant_classification"),
    ({"wildtype": "yes"}, "alterations.0.wildtype"),
])
def test_a_bad_variant_level_value_names_its_key(keys, field) -> None:
    assert error(alterations=[{"gene": "BRAF", "type": "mutation", **keys}]).field == field
    assert not _SCHEMA.is_valid(alteration(**keys))


def test_a_gene_reported_wild_type_needs_no_alteration_type() -> None:
    doc = profile(alterations=[{"gene": "kras", "wildtype": True, "method": "NGS"}])
    (kras,) = parse_profile(doc).alterations
    assert (kras.gene, kras.wildtype, kras.type) == ("KRAS", True, None)
    assert _SCHEMA.is_valid(doc)


@pytest.mark.parametrize(("keys", "field"), [
    ({"type": "mutation"}, "alterations.0.wildtype"),
    ({"protein_change": "p.G12C"}, "alterations.0.wildtype"),
    ({"type": None}, "alterations.0.wildtype"),
])
def test_a_gene_reported_wild_type_carries_no_alteration(keys, field) -> None:
    doc = profile(alterations=[{"gene": "KRAS", "wildtype": True, **keys}])
    e = error(alterations=doc["alterations"])
    assert e.field == field and "wild type" in e.message
    assert not _SCHEMA.is_valid(doc)


@pytest.mark.parametrize("wildtype", [False, DROP])
def test_an_alteration_that_is_not_wild_type_needs_its_type(wildtype) -> None:
    item = {k: v for k, v in {"gene": "KRAS", "wildtype": wildtype}.items() if v is not DROP}
    e = error(alterations=[item])
    assert e.field == "alterations.0.type" and "missing" in e.message
    assert not _SCHEMA.is_valid(profile(alterations=[item]))


# ------------------------------------------------------------------ tumour signatures
def test_tumour_signatures_are_read() -> None:
    p = parse_profile(profile(tmb=12.5, msi="MSI-H", mmr="dMMR"))
    assert (p.tmb, p.msi, p.mmr) == (12.5, "MSI-H", "dMMR")


@pytest.mark.parametrize(("over", "field"), [({"tmb": -1}, "tmb"), ({"tmb": "high"}, "tmb"), ({"msi": "high"}, "msi"),
                                             ({"mmr": "deficient"}, "mmr")])
def test_a_bad_tumour_signature_names_its_field(over, field) -> None:
    assert error(**over).field == field
    assert not _SCHEMA.is_valid(profile(**over))


def test_tmb_is_counted_in_mutations_per_megabase_and_nothing_converts_into_that_annotation() -> None:
    assert parse_profile(profile(tmb={"value": 7, "unit": "{mut/Mb}"})).tmb == 7
    e = error(tmb={"value": 3, "unit": "%"})
    assert e.field == "tmb" and "cannot be converted to '{mut/Mb}'" in e.message


# ------------------------------------------------------------------ prior therapies
@pytest.mark.parametrize("name", ["crizotinib", "Crizotinib", " CRIZOTINIB ", "NCIT:C74061", "ncit:c74061",
                                  "RxNorm:1148495", "CHEBI:64310"])
def test_a_prior_therapy_by_name_or_code_is_the_graphs_drug(store, name) -> None:
    schema = profile_schema(store)
    p = schema.parse(profile(history={"prior_crizotinib": DROP}, prior_therapies=[{"drug": name, "line": 1}]))
    assert schema.prior_drugs(p) == {CRIZOTINIB}


def test_a_drug_the_registry_does_not_know_is_kept_and_names_no_drug(store) -> None:
    schema = profile_schema(store)
    p = schema.parse(profile(prior_therapies=[{"drug": "carboplatin", "line": 1}, {"drug": "NCIT:C1234"}]))
    assert [t.drug for t in p.prior_therapies] == ["carboplatin", "NCIT:C1234"]
    assert schema.prior_drugs(p) == set()


@pytest.mark.parametrize(("therapies", "field"), [
    ([{"drug": "FOO:123"}], "prior_therapies.0.drug"), ([{"drug": "NCIT:74061"}], "prior_therapies.0.drug"),
    ([{"drug": ""}], "prior_therapies.0.drug"), ([{"drug": "crizotinib", "line": 0}], "prior_therapies.0.line"),
    ([{"drug": "crizotinib", "dose": 250}], "prior_therapies.0.dose"), ([{"line": 1}], "prior_therapies.0.drug"),
    ("crizotinib", "prior_therapies"),
])
def test_a_bad_prior_therapy_names_its_key(therapies, field) -> None:
    assert error(prior_therapies=therapies).field == field


@pytest.mark.parametrize(("flag", "therapies", "expected"), [
    (DROP, [{"drug": "crizotinib"}], True),  # the list says it
    (DROP, [{"drug": "carboplatin"}], False),  # the list is the history, and it is not there
    (DROP, [], False),
    (DROP, DROP, None),  # nobody says
    (True, [{"drug": "carboplatin"}], True),  # the flag says it: the list is not all there is
    (True, DROP, True),
    (False, [{"drug": "carboplatin"}], False),
])
def test_prior_crizotinib_and_crizotinib_in_prior_therapies_are_one_fact(store, flag, therapies, expected) -> None:
    schema = profile_schema(store)
    over = {"history": {"prior_crizotinib": flag}}
    if therapies is not DROP:
        over["prior_therapies"] = therapies
    p = schema.parse(profile(**over))
    assert p.history.prior_crizotinib is expected
    assert schema.prior_therapy(p, CRIZOTINIB) is expected
    assert (CRIZOTINIB in schema.prior_drugs(p)) is (expected is True)


def test_a_false_flag_with_its_drug_listed_is_a_contradiction_naming_the_flag() -> None:
    e = error(history={"prior_crizotinib": False}, prior_therapies=[{"drug": "Crizotinib"}])
    assert e.field == "history.prior_crizotinib" and "'Crizotinib'" in e.message


def test_the_trial_reads_crizotinib_in_prior_therapies_as_prior_crizotinib(matcher) -> None:
    by_list = parse_profile(profile(history={"prior_crizotinib": DROP}, prior_therapies=[{"drug": "NCIT:C74061"}]))
    by_flag = parse_profile(profile(history={"prior_crizotinib": True}))
    assert matcher.statuses(by_list)[CRIT + "exc-05"] == matcher.statuses(by_flag)[CRIT + "exc-05"] == "not_met"
    never = parse_profile(profile(history={"prior_crizotinib": DROP}, prior_therapies=[{"drug": "erlotinib"}]))
    assert matcher.statuses(never)[CRIT + "exc-05"] == "met"


# ------------------------------------------------------------------ the additions as RDF
def test_a_profile_with_the_additions_is_rdf_through_the_context(matcher) -> None:
    p = parse_profile(profile(tmb=10, msi="MSS", prior_therapies=[{"drug": "crizotinib", "line": 2}],
                              history={"prior_crizotinib": DROP},
                              alterations=[{"gene": "BRAF", "type": "mutation", "protein_change": "p.Val600Glu"}]))
    g = jsonld.to_graph([matcher.document(p)])
    prof = jsonld.PROF
    node = g.value(predicate=prof.profileId, object=rdflib.Literal("P-test"))
    therapy = g.value(node, prof.priorTherapy)
    assert str(g.value(therapy, prof.drug)) == "crizotinib" and g.value(therapy, prof.line).toPython() == 2
    assert str(g.value(g.value(node, prof.alteration), prof.protein_change)) == "p.V600E"
    assert g.value(node, prof.msi).toPython() == "MSS" and g.value(node, prof.tmb).toPython() == 10
