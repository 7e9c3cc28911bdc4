"""Plain HTTP behaviour every route owes its clients: HEAD wherever GET is served, API docs without the internet."""

from __future__ import annotations

import subprocess
import urllib.parse

import html5lib
import httpx
import pytest
from server_fixtures import LiveServer

NCT = "NCT02034981"
GET_ROUTES = [
    "/",
    f"/study/{NCT}",
    f"/study/{NCT}/cohort/3",
    f"/id/study/{NCT}",
    "/ontology",
    "/ontology/ctgov",
    "/dumps/acse-kg.ttl.gz",
    "/.well-known/void",
    "/sparql",
    "/sparql?" + urllib.parse.urlencode({"query": "ASK { ?s ?p ?o }"}),
    "/sparql/examples",
    "/docs",
    "/openapi.json",
]


def _curl_head(url: str) -> tuple[int, dict[str, str], str]:
    """`curl -I`: status, headers (lower-case names) and whatever body came (there must be none)."""
    out = subprocess.run(["curl", "-sS", "-I", "--max-time", "60", url], capture_output=True, text=True, check=True)
    head, _, rest = out.stdout.replace("\r\n", "\n").partition("\n\n")
    status_line, *lines = head.splitlines()
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), headers, rest


@pytest.mark.parametrize("path", GET_ROUTES)
def test_head_is_answered_wherever_get_is_with_the_same_headers_and_no_body(bundle_server: LiveServer, path: str) -> None:
    status, headers, body = _curl_head(bundle_server.url + path)
    get = httpx.get(bundle_server.url + path, timeout=60)
    assert status == get.status_code == 200
    assert headers["content-type"] == get.headers["content-type"]
    assert int(headers["content-length"]) == len(get.content)
    assert body == ""


def test_head_on_an_unknown_iri_is_404_like_get(bundle_server: LiveServer) -> None:
    status, _, _ = _curl_head(bundle_server.url + "/id/study/NCT00000000")
    assert status == 404


def _local_refs(server: LiveServer, path: str) -> list[str]:
    r = httpx.get(server.url + path, timeout=30)
    assert r.status_code == 200
    doc = html5lib.parse(r.text, namespaceHTMLElements=False)
    refs = [e.get(attr) for e in doc.iter() for attr in ("src", "href") if e.get(attr)]
    assert refs
    return refs


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_the_api_docs_load_every_asset_from_this_server(bundle_server: LiveServer, path: str) -> None:
    refs = _local_refs(bundle_server, path)
    assert not [u for u in refs if urllib.parse.urlsplit(u).netloc or u.startswith("//")], refs
    for ref in refs:
        assert httpx.get(bundle_server.url + ref, timeout=30).status_code == 200, ref
    assert "cdn.jsdelivr.net" not in httpx.get(bundle_server.url + path, timeout=30).text
