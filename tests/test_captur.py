"""CAPTUR (NCT03297606), the second real trial, end to end through the server: imported from its CTML,
rendered (study page, a page per arm), exported as CTML, and matched through POST /match/trials."""

from __future__ import annotations

import orjson
import pytest
from ctml_fixtures import CAPTUR, captur
from fastapi.testclient import TestClient

from acse_kg.ctml.importer import import_ctml
from acse_kg.model import read_study
from acse_kg.store import GraphStore, open_store


@pytest.fixture(scope="module")
def registry() -> GraphStore:
    store = open_store("memory")
    import_ctml(store, captur())
    return store


@pytest.fixture(scope="module")
def client(registry: GraphStore) -> TestClient:
    from acse_kg.api.app import create_app

    return TestClient(create_app(registry))


def test_captur_has_a_page_and_a_page_per_arm(registry: GraphStore, client: TestClient) -> None:
    study = read_study(registry, CAPTUR)
    page = client.get(f"/study/{CAPTUR}", headers={"accept": "text/html"})
    assert page.status_code == 200 and "CAPTUR" in page.text
    for cohort in study.cohorts:
        arm = client.get(f"/study/{CAPTUR}/cohort/{cohort.number}", headers={"accept": "text/html"})
        assert arm.status_code == 200, cohort.label
        assert cohort.label.split(":")[0] in arm.text


def braf_v600e(diagnosis: str) -> bytes:
    return orjson.dumps({"id": "P", "age_years": 60, "diagnosis": diagnosis,
                         "alterations": [{"gene": "BRAF", "type": "mutation", "protein_change": "p.V600E",
                                          "variant_classification": "Missense_Mutation"}]})


def test_a_braf_v600e_cholangiocarcinoma_is_matched_to_the_vemurafenib_cobimetinib_arm_and_nothing_in_acse(
        registry: GraphStore, client: TestClient) -> None:
    result = client.post("/match/trials", content=braf_v600e("CHOL")).json()
    assert [r["trial"] for r in result["results"]] == [CAPTUR]
    (arm,) = result["results"][0]["cohorts"]
    assert arm["label"] == "Group 12: Vemurafenib / Cobimetinib"
    assert arm["verdict"] in ("eligible", "unknown")


def test_a_braf_v600e_melanoma_is_not_matched_to_that_arm(client: TestClient) -> None:
    result = client.post("/match/trials", content=braf_v600e("SKCM")).json()
    assert result["results"] == []


def test_captur_exports_as_ctml(client: TestClient, registry: GraphStore) -> None:
    from acse_kg.commands.ctgov_cmds import export_ctml

    body = export_ctml(registry, CAPTUR, yaml_out=False)
    doc = orjson.loads(body)
    assert doc["nct_id"] == CAPTUR and len(doc["treatment_list"]["step"][0]["arm"]) >= 12
