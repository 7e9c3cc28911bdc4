"""Drafts on the study page (each rule under its bullet, linked to its source words) and through the API."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest
from fastapi.testclient import TestClient

from acse_kg.api.settings import ServerSettings
from acse_kg.ctgov.export import export_study
from acse_kg.ctgov.import_ import import_study
from acse_kg.drafting.review import stored_items
from acse_kg.history import list_versions
from acse_kg.pages.render import study_page
from acse_kg.store import GraphStore, open_store
from tests.conftest import NCT
from tests.ctgov_fixtures import load_record
from tests.pages_fixtures import classes, parse, text

TOKEN = "test-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
REF = "NCT02513394"


@pytest.fixture(scope="module")
def drafted() -> GraphStore:
    """The three reference records imported and drafted: the two API v2 examples, and the seed as
    ClinicalTrials.gov has it (its export, text only, imported in place of the curated graph)."""
    st = open_store("memory")
    seed = export_study(st, NCT, full_text=True)
    for record in (load_record("example_v2_NCT02513394.json"), load_record("example_v2_NCT06171568_APHP_french.json")):
        import_study(st, record, agent="test")
    import_study(st, seed, agent="test", replace_curated=True)
    return st


def _by_id(root: ET.Element) -> dict[str, ET.Element]:
    return {e.get("id"): e for e in root.iter() if e.get("id")}  # type: ignore[misc]


@pytest.mark.parametrize("nct", [REF, "NCT06171568", NCT])
def test_every_drafted_item_on_the_page_links_to_its_source_words(drafted: GraphStore, nct: str) -> None:
    items = stored_items(drafted, nct)
    assert items, f"{nct} drafted nothing"
    root = parse(study_page(drafted, nct))
    ids = _by_id(root)
    for item in items:
        shown = ids.get(f"draft-{item['id']}")
        assert shown is not None and "draft" in classes(shown), item
        link = next(a for a in shown.iter("a") if "draft-source-link" in classes(a))
        target = ids[link.get("href", "").lstrip("#")]
        if item.get("span"):  # the words in the bullet, marked, and the rule listed under that bullet
            words, quote = text(target), " ".join(item["quote"].split())
            assert target.tag == "mark" and (words in quote or quote in words), item  # words in a marked span link to it
            bullet = next(li for li in root.iter("li") if target in li.iter() and shown in li.iter()
                          and "draft" not in classes(li))
            assert "criterion" in classes(bullet)
        else:  # a structured field: the table's cell with the record's value
            assert target.tag == "td"


def test_a_curated_study_page_has_no_draft_marks(store: GraphStore) -> None:
    root = parse(study_page(store, NCT))
    assert not [e for e in root.iter() if classes(e) & {"draft", "draft-source"}]


# ------------------------------------------------------------------ the API
@pytest.fixture()
def client() -> Any:
    from acse_kg.api.app import create_app

    st = open_store("memory")
    import_study(st, load_record("example_v2_NCT02513394.json"), agent="test")
    with TestClient(create_app(st, ServerSettings(admin_token=TOKEN, query_workers=1))) as c:
        c.store = st  # type: ignore[attr-defined]
        yield c


def _anc(client: Any) -> dict[str, Any]:
    items = client.get(f"/study/{REF}/criteria.json").json()
    return next(i for i in items if i["rule"] == "threshold:anc")


def test_criteria_json_answers_the_stored_drafts(client: Any) -> None:
    got = client.get(f"/study/{REF}/criteria.json")
    assert got.status_code == 200 and got.headers["content-type"].startswith("application/json")
    assert {i["state"] for i in got.json()} == {"draft"} and _anc(client)["value"] == 1500


def test_criteria_json_of_a_curated_study_answers_its_curated_criteria(client: Any) -> None:
    items = client.get(f"/study/{NCT}/criteria.json").json()
    assert items and {i["state"] for i in items} == {"curated"}


@pytest.mark.parametrize(("path", "status"), [("/study/not-a-trial/criteria.json", 400), ("/study/NCT09999999/criteria.json", 404)])
def test_criteria_json_errors(client: Any, path: str, status: int) -> None:
    got = client.get(path)
    assert got.status_code == status and "error" in got.json()


def test_a_review_through_the_api_is_a_version_with_who(client: Any) -> None:
    anc = _anc(client)
    before = len(list_versions(client.store, REF))
    done = client.post(f"/study/{REF}/criteria/{anc['id']}/accept", headers=AUTH, json={"reviewer": "alice"})
    assert done.status_code == 200 and done.json()["state"] == "accepted"
    versions = list_versions(client.store, REF)
    assert len(versions) == before + 1 and "alice" in str(versions[-1])
    assert _anc(client)["state"] == "accepted"


def test_an_edit_through_the_api(client: Any) -> None:
    anc = _anc(client)
    done = client.post(f"/study/{REF}/criteria/{anc['id']}/edit", headers=AUTH, json={"expression": "anc >= 1.0 10*9/L"})
    assert done.status_code == 200 and (done.json()["value"], done.json()["unit"]) == (1.0, "10*9/L")
    bad = client.post(f"/study/{REF}/criteria/{anc['id']}/edit", headers=AUTH, json={"expression": "anc is high"})
    assert bad.status_code == 422 and "cannot read the edit" in bad.json()["error"]


def test_a_review_needs_the_admin_token(client: Any) -> None:
    anc = _anc(client)
    assert client.post(f"/study/{REF}/criteria/{anc['id']}/reject").status_code == 401
    assert client.post(f"/study/{REF}/criteria/{anc['id']}/reject",
                       headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert _anc(client)["state"] == "draft"


def test_reviewing_an_unknown_item_or_decision_is_404(client: Any) -> None:
    assert client.post(f"/study/{REF}/criteria/d-nope/accept", headers=AUTH).status_code == 404
    assert client.post(f"/study/{REF}/criteria/{_anc(client)['id']}/approve", headers=AUTH).status_code == 404


def test_the_import_api_can_skip_the_drafting(client: Any) -> None:
    record = load_record("example_v2_NCT06171568_APHP_french.json")
    assert client.post("/api/v2/studies?draft=false", headers=AUTH, json=record).status_code == 201
    assert stored_items(client.store, "NCT06171568") == []
