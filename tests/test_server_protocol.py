"""The W3C SPARQL 1.1 Protocol test cases, run against a live server on loopback.

The cases are read from the W3C manifest (tests/data/w3c-protocol/manifest.ttl).
All 34 run, each request of a case in order: those that apply to a
read-only endpoint against the public server; the update cases (update_*)
against a fresh server with the admin token, each on its own copy of the data;
the update cases that need a refusal (bad_update_*) also against a server with
an admin token, where they must fail for their own reason.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
import rdflib
from rdflib.collection import Collection
from server_fixtures import ADMIN_TOKEN, W3C_DIR, LiveServer, start_server, w3c_store

from acse_kg.api.settings import ServerSettings

#: The live servers are session fixtures shared by all server test modules (one of each per run).
MF = "http://www.w3.org/2001/sw/DataAccess/tests/test-manifest#"
HT = "http://www.w3.org/2011/http#"
CNT = "http://www.w3.org/2011/content#"


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes | None
    statuses: set[int]  # expected status classes: 2, 3, 4
    fmt: str | None
    boolean: bool | None


@dataclass
class Case:
    name: str
    requests: list[Request]  # sent in order; each must get its expected answer


def _manifest_cases() -> list[Case]:
    """Every mf:ProtocolTest of the manifest with its requests in order (a list in the manifest)."""
    g = rdflib.Graph().parse(W3C_DIR / "manifest.ttl", format="turtle", publicID="http://example/")
    mf, ht, cnt = rdflib.Namespace(MF), rdflib.Namespace(HT), rdflib.Namespace(CNT)
    cases = []
    for test in sorted(g.subjects(rdflib.RDF.type, mf.ProtocolTest)):
        action = g.value(test, mf.action)
        requests = []
        for r in Collection(g, g.value(action, ht.requests)):
            headers = {}
            for h in Collection(g, g.value(r, ht.headers)) if g.value(r, ht.headers) is not None else []:
                headers[str(g.value(h, ht.fieldName))] = str(g.value(h, ht.fieldValue))
            body = None
            if (b := g.value(r, ht.body)) is not None:
                enc = g.value(b, cnt.characterEncoding)
                body = str(g.value(b, cnt.chars)).encode(str(enc) if enc is not None else "utf-8")
            resp = g.value(r, ht.resp)
            statuses = {int(str(s).rsplit("StatusCode", 1)[1][0]) for s in g.objects(resp, mf.expectedStatus)}
            boolean = g.value(resp, mf.expectedBoolean)
            fmt = g.value(resp, mf.expectedFormat)
            requests.append(Request(
                method=str(g.value(r, ht.methodName)),
                path=str(g.value(r, ht.absolutePath)).replace("/sparql/", "/sparql", 1),
                headers=headers, body=body, statuses=statuses,
                fmt=str(fmt) if fmt is not None else None,
                boolean=bool(boolean.toPython()) if boolean is not None else None,
            ))
        cases.append(Case(str(test).rsplit("#", 1)[1], requests))
    return cases


CASES = _manifest_cases()
READ_ONLY_CASES = [c for c in CASES if c.name.startswith(("query_", "bad_"))]
UPDATE_CASES = [c for c in CASES if c.name.startswith("update_")]
BAD_UPDATE_CASES = [c for c in CASES if c.name.startswith("bad_update") or c.name == "bad_multiple_updates"]


def test_the_manifest_was_read_in_full() -> None:
    assert len(CASES) == 34
    assert len(READ_ONLY_CASES) == 27  # all but the 7 update_* cases that need a writable endpoint
    assert len(UPDATE_CASES) == 7
    assert {c.name for c in READ_ONLY_CASES} | {c.name for c in UPDATE_CASES} == {c.name for c in CASES}
    assert sum(len(c.requests) for c in CASES) > len(CASES)  # the update cases check their effect with a query


def _send(server: LiveServer, case: Request, extra: dict[str, str] | None = None) -> httpx.Response:
    headers = dict(case.headers)
    if extra:
        headers.update(extra)
    if case.body is not None and not any(k.lower() == "content-type" for k in headers):
        headers["Content-Type"] = ""  # the case is about a missing content type: send none
    with httpx.Client(base_url=server.url, timeout=30) as client:
        req = client.build_request(case.method, case.path, headers=headers, content=case.body)
        if headers.get("Content-Type") == "":
            del req.headers["Content-Type"]
        return client.send(req)


def _check_format(case: Request, response: httpx.Response) -> None:
    if case.fmt is None:
        return
    ctype = response.headers["content-type"].split(";")[0]
    if case.fmt == "boolean":
        assert ctype == "application/sparql-results+json"
        answer = json.loads(response.content)["boolean"]
        assert answer is case.boolean if case.boolean is not None else isinstance(answer, bool)
    elif case.fmt == "tabular":
        assert ctype == "application/sparql-results+json"
        assert "bindings" in json.loads(response.content)["results"]
    elif case.fmt == "RDF":
        fmt = {"text/turtle": "turtle"}[ctype]
        rdflib.Graph().parse(data=response.content, format=fmt)


def _run(server: LiveServer, case: Case, extra: dict[str, str] | None = None) -> None:
    for n, request in enumerate(case.requests, 1):
        response = _send(server, request, extra)
        assert response.status_code // 100 in request.statuses, f"request {n}: {response.text}"
        if response.status_code // 100 == 2:
            _check_format(request, response)


@pytest.mark.parametrize("case", READ_ONLY_CASES, ids=lambda c: c.name)
def test_w3c_protocol_case_on_the_read_only_endpoint(w3c_server: LiveServer, case: Case) -> None:
    _run(w3c_server, case)


@pytest.fixture
def fresh_admin_server() -> Iterator[LiveServer]:
    """A writable server over its own copy of the data: the update cases CLEAR and DROP ALL."""
    live = start_server(w3c_store(), ServerSettings(admin_token=ADMIN_TOKEN, query_workers=1))
    yield live
    live.stop()


@pytest.mark.parametrize("case", UPDATE_CASES, ids=lambda c: c.name)
def test_w3c_update_case_with_the_admin_token(fresh_admin_server: LiveServer, case: Case) -> None:
    _run(fresh_admin_server, case, {"Authorization": f"Bearer {ADMIN_TOKEN}"})


@pytest.mark.parametrize("case", BAD_UPDATE_CASES, ids=lambda c: c.name)
def test_w3c_bad_update_case_fails_even_with_the_admin_token(admin_server: LiveServer, case: Case) -> None:
    for request in case.requests:
        response = _send(admin_server, request, {"Authorization": f"Bearer {ADMIN_TOKEN}"})
        assert response.status_code // 100 == 4, response.text
        assert response.status_code not in (401, 403), "refused for the token, not for the request's fault"
