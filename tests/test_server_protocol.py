"""The W3C SPARQL 1.1 Protocol test cases, run against a live server on loopback.

The cases are read from the W3C manifest (tests/data/w3c-protocol/manifest.ttl).
Those that apply to a read-only endpoint run against the public server; the
update cases that only need a refusal (bad_update_*) also run against a server
with an admin token, where they must fail for their own reason. The update
cases that expect a successful update with using-graph-uri do not apply: the
public endpoint is read-only by design.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import httpx
import pyoxigraph as ox
import pytest
import rdflib

from server_fixtures import ADMIN_TOKEN, W3C_DIR, LiveServer

#: The live servers are session fixtures shared by all server test modules (one of each per run).
pytest_plugins = ["server_fixtures"]

MF = "http://www.w3.org/2001/sw/DataAccess/tests/test-manifest#"


@dataclass
class Case:
    name: str
    method: str
    path: str
    headers: dict[str, str]
    body: bytes | None
    statuses: set[int]  # expected status classes: 2, 3, 4
    fmt: str | None
    boolean: bool | None


def _manifest_cases() -> list[Case]:
    store = ox.Store()
    store.load(path=str(W3C_DIR / "manifest.ttl"), format=ox.RdfFormat.TURTLE, base_iri="http://example/")
    q = f"""
    PREFIX mf: <{MF}>
    PREFIX ht: <http://www.w3.org/2011/http#>
    PREFIX cnt: <http://www.w3.org/2011/content#>
    PREFIX rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#>
    SELECT ?t ?m ?path ?chars ?enc ?fmt ?bool
           (GROUP_CONCAT(DISTINCT STR(?st)) AS ?sts)
           (GROUP_CONCAT(DISTINCT CONCAT(?hn, "\\u0000", ?hv); separator="\\n") AS ?hs)
    WHERE {{
      ?t a mf:ProtocolTest ; mf:action/ht:requests/rdf:first ?r .
      ?r ht:methodName ?m ; ht:absolutePath ?path ; ht:resp ?resp .
      ?resp mf:expectedStatus ?st .
      OPTIONAL {{ ?r ht:body/cnt:chars ?chars }}
      OPTIONAL {{ ?r ht:body/cnt:characterEncoding ?enc }}
      OPTIONAL {{ ?r ht:headers/rdf:rest*/rdf:first [ ht:fieldName ?hn ; ht:fieldValue ?hv ] }}
      OPTIONAL {{ ?resp mf:expectedFormat ?fmt }}
      OPTIONAL {{ ?resp mf:expectedBoolean ?bool }}
    }} GROUP BY ?t ?m ?path ?chars ?enc ?fmt ?bool ORDER BY ?t
    """
    cases = []
    for row in store.query(q):
        name = row["t"].value.rsplit("#", 1)[1]
        headers = {}
        if row["hs"] is not None and row["hs"].value:
            for line in row["hs"].value.split("\n"):
                k, _, v = line.partition("\u0000")
                headers[k] = v
        body = None
        if row["chars"] is not None:
            enc = row["enc"].value if row["enc"] is not None else "utf-8"
            body = row["chars"].value.encode(enc)
        statuses = {int(s.rsplit("StatusCode", 1)[1][0]) for s in row["sts"].value.split()}
        cases.append(
            Case(
                name=name,
                method=row["m"].value,
                path=row["path"].value.replace("/sparql/", "/sparql", 1),
                headers=headers,
                body=body,
                statuses=statuses,
                fmt=row["fmt"].value if row["fmt"] is not None else None,
                boolean=(row["bool"].value == "true") if row["bool"] is not None else None,
            )
        )
    return cases


CASES = _manifest_cases()
READ_ONLY_CASES = [c for c in CASES if c.name.startswith(("query_", "bad_"))]
BAD_UPDATE_CASES = [c for c in CASES if c.name.startswith("bad_update") or c.name == "bad_multiple_updates"]


def test_the_manifest_was_read_in_full() -> None:
    assert len(CASES) == 34
    assert len(READ_ONLY_CASES) == 27  # all but the 7 update_* cases that need a writable endpoint


def _send(server: LiveServer, case: Case, extra: dict[str, str] | None = None) -> httpx.Response:
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


def _check_format(case: Case, response: httpx.Response) -> None:
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


@pytest.mark.parametrize("case", READ_ONLY_CASES, ids=lambda c: c.name)
def test_w3c_protocol_case_on_the_read_only_endpoint(w3c_server: LiveServer, case: Case) -> None:
    response = _send(w3c_server, case)
    assert response.status_code // 100 in case.statuses, response.text
    if response.status_code // 100 == 2:
        _check_format(case, response)


@pytest.mark.parametrize("case", BAD_UPDATE_CASES, ids=lambda c: c.name)
def test_w3c_bad_update_case_fails_even_with_the_admin_token(admin_server: LiveServer, case: Case) -> None:
    response = _send(admin_server, case, {"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert response.status_code // 100 == 4, response.text
    assert response.status_code not in (401, 403), "refused for the token, not for the request's fault"
