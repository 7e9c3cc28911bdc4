"""The CTML schema: CTIMS's field definitions in CTML's layout; what it reports for the real CAPTUR file."""

from __future__ import annotations

import pytest
from ctml_fixtures import captur, v1_example

from acse_kg.ctml.schema import CTIMS_SCHEMA_FILE, ctims_schema, ctml_schema, validate_ctml
from acse_kg.paths import ROOT

WORKPLACE_SCHEMA = ROOT.parent / "shared" / "reference" / "matchminer" / "ctims_ctml_schema.json"


def test_the_shipped_ctims_schema_is_the_reference_file_when_present():
    if not WORKPLACE_SCHEMA.exists():
        pytest.skip(f"no {WORKPLACE_SCHEMA} beside this checkout")
    assert CTIMS_SCHEMA_FILE.read_bytes() == WORKPLACE_SCHEMA.read_bytes()


def test_ctims_field_definitions_are_kept_unchanged():
    ctims, ctml = ctims_schema()["properties"], ctml_schema()["properties"]
    assert ctml["phase"] == ctims["trialInformation"]["properties"]["phase"]
    assert ctml["age"] == ctims["age_group"]["properties"]["age"]
    assert ctml["site_list"] == ctims["site_list"]


def test_captur_fails_the_schema_exactly_where_its_values_are_malformed():
    by_kind: dict[str, set[str]] = {}
    for f in validate_ctml(captur()):
        by_kind.setdefault(f.path.rsplit(".", 1)[-1].split("[")[0], set()).add(str(f.value))
    assert set(by_kind) == {"arm_internal_id", "level_internal_id", "cnv_call", "clinical", "er_status",
                            "variant_classification", "wildcard_protein_change"}
    assert by_kind["cnv_call"] == {"High Amplication", "Heterozygous Deletion"}
    assert by_kind["variant_classification"] == {"Del_Ins"}


def test_findings_come_in_document_order():
    paths = [f.path for f in validate_ctml(captur())]
    assert paths.index("$.treatment_list.step[0].arm[2].arm_internal_id") < \
        paths.index("$.treatment_list.step[0].arm[10].arm_internal_id")


def test_the_v1_example_breaks_only_ctims_enums_and_id_types():
    assert {f.path for f in validate_ctml(v1_example())} == {
        "$.age", "$.management_group_list.management_group[0].management_group_name",
        "$.management_group_list.management_group[1].management_group_name",
        "$.treatment_list.step[0].arm[0].arm_internal_id",
        "$.treatment_list.step[0].arm[0].dose_level[0].level_internal_id"}
