"""Shared by the ClinicalTrials.gov API tests: a registry of three studies, and the spec check of an answer."""

from __future__ import annotations

from typing import Any

import pytest
from ctgov_fixtures import RECORDS, load_record
from fastapi.testclient import TestClient

from acse_kg.ctgov.schema import validate_instance, validate_response


@pytest.fixture(scope="module")
def listing():
    """The curated record and both reference records (three studies), served with a query pool of one worker."""
    from acse_kg.api.app import create_app
    from acse_kg.api.settings import ServerSettings
    from acse_kg.ctgov.import_ import import_study
    from acse_kg.store import open_store

    st = open_store("memory")
    for name in RECORDS:
        import_study(st, load_record(name))
    with TestClient(create_app(st, ServerSettings(query_workers=1))) as c:
        yield c


def answer(r: Any) -> Any:
    """The body as the client reads it: JSON when the answer is JSON (application/json, application/fhir+json),
    else the text."""
    return r.json() if r.headers["content-type"].split(";")[0].endswith("json") else r.text


def conforms(r: Any, spec_path: str) -> bool:
    """Whether the answer is what the 2.0.5 spec says ``GET spec_path`` answers with that status and media type.

    The spec documents CSV (``StudiesCsv``) for one study only, though its ``format`` parameter offers csv
    for the list too: a CSV list is checked against that same schema.
    """
    media = r.headers["content-type"]
    if spec_path == "/studies" and media.startswith("text/csv"):
        problems = validate_instance(answer(r), "StudiesCsv")
    else:
        problems = validate_response(spec_path, r.status_code, media, answer(r))
    assert problems == [], problems
    return True


def ncts_of(r: Any) -> list[str]:
    return [s["protocolSection"]["identificationModule"]["nctId"] for s in r.json()["studies"]]


def search(client: TestClient, **params: Any) -> list[str]:
    """NCT numbers that /api/v2/studies answers, in its order, after checking the answer against the spec."""
    r = client.get("/api/v2/studies", params={"fields": "NCTId", "pageSize": 100, **params})
    assert r.status_code == 200, r.text
    assert conforms(r, "/studies")
    return ncts_of(r)
