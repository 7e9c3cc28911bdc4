"""Export: the curated record as ClinicalTrials.gov API v2 JSON, derived from the graph."""

from __future__ import annotations

import pytest
from seed_record import norm, seed_record

from acse_kg.ctgov.export import StudyNotFound, export_study
from acse_kg.ctgov.schema import validate_study

NCT = "NCT02034981"
SEED = seed_record()


@pytest.fixture(scope="module")
def exported(store):
    """The record as the API and the CLI give it (full registered text)."""
    return export_study(store, NCT, full_text=True)


@pytest.fixture(scope="module")
def ps(exported):
    return exported["protocolSection"]


def test_export_validates_against_the_spec_study_schema(exported):
    assert validate_study(exported) == []


def test_sponsors_and_responsible_party(ps):
    m = ps["sponsorCollaboratorsModule"]
    assert m["leadSponsor"] == {"name": "UNICANCER", "class": "OTHER"}
    assert sorted(c["name"] for c in m["collaborators"]) == ["Fondation ARC", "National Cancer Institute, France"]
    assert m["responsibleParty"]["type"] == "SPONSOR"


def test_identifiers(ps):
    m = ps["identificationModule"]
    assert m["nctId"] == NCT
    assert m["orgStudyIdInfo"]["id"] == "UC-0105/1303"
    assert {"id": "2013-000885-13", "type": "EUDRACT_NUMBER"} in m["secondaryIdInfos"]


def test_dates_carry_their_types(ps):
    m = ps["statusModule"]
    assert m["overallStatus"] == "ACTIVE_NOT_RECRUITING"
    assert m["startDateStruct"] == {"date": "2013-08", "type": "ACTUAL"}
    assert m["completionDateStruct"]["type"] == "ESTIMATED"
    assert m["studyFirstPostDateStruct"] == {"date": "2014-01-14", "type": "ACTUAL"}


def test_design_phase_and_enrollment(ps):
    m = ps["designModule"]
    assert m["phases"] == ["PHASE2"]
    assert m["studyType"] == "INTERVENTIONAL"
    assert m["enrollmentInfo"] == {"count": 246, "type": "ACTUAL"}


def test_arm_and_intervention_names(ps):
    m = ps["armsInterventionsModule"]
    assert m["armGroups"][0]["label"] == "CRIZOTINIB" and m["armGroups"][0]["type"] == "EXPERIMENTAL"
    assert m["armGroups"][0]["interventionNames"] == ["Drug: Crizotinib"]
    iv = m["interventions"][0]
    assert (iv["type"], iv["name"], iv["otherNames"]) == ("DRUG", "Crizotinib", ["XALKORI"])


def test_outcomes_in_order(ps):
    m = ps["outcomesModule"]
    assert len(m["primaryOutcomes"]) == 1
    assert [o["measure"] for o in m["secondaryOutcomes"]][1:] == [
        "Disease control rate", "response duration", "Progression-free survival", "Overall survival"]


def test_eligibility_fields(ps):
    m = ps["eligibilityModule"]
    assert (m["minimumAge"], m["sex"], m["healthyVolunteers"]) == ("1 Year", "ALL", False)
    assert m["stdAges"] == ["CHILD", "ADULT", "OLDER_ADULT"]


def test_eligibility_text_is_rebuilt_from_criterion_individuals(store, ps):
    n = store.select(f"SELECT (COUNT(?c) AS ?n) WHERE {{ id:study\\/{NCT} acse:hasCriterion ?c }}").values("n")[0]
    if not n:
        pytest.skip("the record has no criterion individuals yet")
    text = ps["eligibilityModule"]["eligibilityCriteria"]
    assert text.startswith("Inclusion Criteria:") and "\nExclusion Criteria:\n" in text
    assert "* Patients with primary or secondary central nervous system disease" in text
    assert "\n  * " in text  # nested bullets


def test_location_official_keywords_conditions(ps):
    loc = ps["contactsLocationsModule"]["locations"][0]
    assert (loc["facility"], loc["city"], loc["country"]) == ("Gustave Roussy", "Villejuif", "France")
    off = ps["contactsLocationsModule"]["overallOfficials"][0]
    assert off["name"] == "Gilles VASSAL" and off["role"] == "PRINCIPAL_INVESTIGATOR"
    assert ps["conditionsModule"]["conditions"] == ["Hematologic Cancers", "Solid Tumors", "Metastatic Cancer"]
    assert "genomic alterations." in ps["conditionsModule"]["keywords"]


def test_mesh_terms_in_derived_section(exported):
    d = exported["derivedSection"]
    assert {"id": "D019337", "term": "Hematologic Neoplasms"} in d["conditionBrowseModule"]["meshes"]
    assert {"id": "D047428", "term": "Protein Kinase Inhibitors"} in d["interventionBrowseModule"]["meshes"]


def test_unknown_study_is_refused(store):
    with pytest.raises(StudyNotFound):
        export_study(store, "NCT00000000")


def _bullets(text: str) -> list[tuple[int, str]]:
    """(nesting depth, text) of each '* ' bullet of a markdown text."""
    out = []
    for line in text.splitlines():
        stripped = line.lstrip(" ")
        if stripped.startswith("* "):
            out.append(((len(line) - len(stripped)) // 2, norm(stripped[2:])))
    return out


def _numbered(text: str) -> dict[int, str]:
    out = {}
    for line in text.splitlines():
        head, _, rest = line.strip().partition(". ")
        if head.isdigit():
            out[int(head)] = norm(rest)
    return out


def test_detailed_description_lists_every_registered_cohort_in_order(ps):
    text = ps["descriptionModule"]["detailedDescription"]
    assert _numbered(text) == SEED.cohorts
    assert all(norm(p) in norm(text) for p in SEED.detailed_description)


def test_intervention_description_carries_the_registered_dosing_lines(ps):
    iv = ps["armsInterventionsModule"]["interventions"][0]
    assert norm(SEED.intervention_description) in norm(iv["description"])
    assert [t for _, t in _bullets(iv["description"])] == SEED.dosing


def test_eligibility_bullets_and_nested_bullets_match_the_seed(ps):
    text = ps["eligibilityModule"]["eligibilityCriteria"]
    inclusion, _, exclusion = text.partition("Exclusion Criteria:")
    expected = lambda bullets: [(d, t) for b in bullets for d, t in [(0, b.text)] + [(1, c) for c in b.children]]  # noqa: E731
    assert _bullets(inclusion) == expected(SEED.inclusion)
    assert _bullets(exclusion) == expected(SEED.exclusion)


def test_keywords_and_mesh_terms_are_the_registered_ones(exported, ps):
    assert sorted(ps["conditionsModule"]["keywords"]) == sorted(SEED.keywords)
    meshes = [m["term"] for mod in exported["derivedSection"].values() for m in mod["meshes"]]
    assert sorted(meshes) == sorted(SEED.mesh_terms)


def test_pages_variant_leaves_cohorts_and_dosing_to_the_graph(store, ps):
    """Without full_text the structured parts are not repeated in the text (the pages list them with links)."""
    plain = export_study(store, NCT)["protocolSection"]
    assert _numbered(plain["descriptionModule"]["detailedDescription"]) == {}
    assert _bullets(plain["armsInterventionsModule"]["interventions"][0]["description"]) == []
    assert plain["eligibilityModule"] == ps["eligibilityModule"]


def test_every_registered_date_with_its_type(ps):
    m = ps["statusModule"]
    keys = {"First Posted": "studyFirstPostDateStruct", "Last Update Posted": "lastUpdatePostDateStruct",
            "Study Start Date": "startDateStruct", "Primary Completion Date": "primaryCompletionDateStruct",
            "Study Completion Date": "completionDateStruct"}
    assert {label: (m[key]["type"], m[key]["date"]) for label, key in keys.items()} == SEED.dates
    assert m["statusVerifiedDate"] == SEED.last_verified


def test_a_record_that_keeps_its_order_exports_collaborators_and_keywords_so(fresh_store):
    """With acse:collaboratorSequence / acse:keywordSequence (RDF lists) the export follows the registered order."""
    keywords = " ".join(f'"{k}"@en' for k in SEED.keywords)
    fresh_store.update(
        f"INSERT DATA {{ GRAPH <https://w3id.org/acse-kg/id/graph/study/{NCT}> {{ study:{NCT} "
        f"acse:collaboratorSequence ( id:org\\/nci-france id:org\\/fondation-arc ) ; acse:keywordSequence ( {keywords} ) }} }}")
    m = export_study(fresh_store, NCT)["protocolSection"]
    assert [c["name"] for c in m["sponsorCollaboratorsModule"]["collaborators"]] == SEED.collaborators
    assert m["conditionsModule"]["keywords"] == SEED.keywords


def test_collaborators_keywords_and_mesh_terms_in_registered_order(exported, ps):
    assert [c["name"] for c in ps["sponsorCollaboratorsModule"]["collaborators"]] == SEED.collaborators
    assert ps["conditionsModule"]["keywords"] == SEED.keywords
    meshes = [m["term"] for mod in ("conditionBrowseModule", "interventionBrowseModule")
              for m in exported["derivedSection"][mod]["meshes"]]
    assert meshes == SEED.mesh_terms


def test_a_page_of_the_list_reads_the_api_code_table_once(fresh_store):
    """Every study on a page shares one reading of the enumerations' API codes, however many studies it holds."""
    from ctgov_fixtures import RECORDS, load_record

    from acse_kg.ctgov.import_ import import_study
    from acse_kg.ctgov.query import list_studies, matching_ncts, parse_params

    store = fresh_store
    for name in RECORDS:
        import_study(store, load_record(name))

    class Counting:
        def __init__(self, inner):
            self.inner, self.code_reads = inner, 0

        def select(self, q, *a, **k):
            self.code_reads += "?i acse:code ?code" in q
            return self.inner.select(q, *a, **k)

        def __getattr__(self, name):
            return getattr(self.inner, name)

    counting = Counting(store)
    ncts = matching_ncts(store, parse_params({}))
    body = list_studies(counting, {"pageSize": str(len(ncts))})
    assert len(body["studies"]) == len(ncts) >= 3 and counting.code_reads == 1


def test_the_cohort_list_and_the_dosing_lines_are_the_study_models(store, ps):
    """The text the curated record structures (cohorts, dosing regimens) is written back from the study model."""
    from acse_kg.model import read_study

    study = read_study(store, NCT)
    listed = "\n".join(f"{c.number}. {c.registered_text}" for c in study.cohorts)
    assert ps["descriptionModule"]["detailedDescription"].endswith("\n\n" + listed)
    (iv,) = [i for i in study.interventions if i.regimens]
    (described,) = [i["description"] for i in ps["armsInterventionsModule"]["interventions"] if i["name"] == iv.label]
    assert described.endswith("\n\n" + "\n".join(f"* {r.registered_text}" for r in iv.regimens))


def test_a_record_exported_from_its_triples_alone_reads_as_the_stored_one(store, exported):
    """A past version is exported from its triples (study_from_graph, no store): the same JSON as the live record."""
    from acse_kg.ctgov.export import _codes, export_from_graph
    from acse_kg.loader import study_graph_name

    assert export_from_graph(store.graph(study_graph_name(NCT)), _codes(store), NCT) == exported
