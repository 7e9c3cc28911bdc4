"""One error class, one handler, three shapes; settings in one object from flags, environment or a file."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import html5lib
import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from server_fixtures import ADMIN_TOKEN, free_port

from acse_kg.api.app import create_app
from acse_kg.api.errors import ApiError, BodyTooLarge, TooManyRequests
from acse_kg.api.settings import ServerSettings, SettingsError
from acse_kg.paths import ROOT

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
EVIL = "/id/gene/%3Cscript%3Ealert(1)%3C%2Fscript%3E"


@pytest.fixture(scope="module")
def client(store) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(create_app(store, ServerSettings(query_workers=1))) as c:
        yield c


# ---------------------------------------------------------------- errors
def test_every_error_class_of_the_server_derives_from_one_base() -> None:
    assert issubclass(BodyTooLarge, ApiError) and issubclass(TooManyRequests, ApiError)


def test_a_program_gets_problem_details(client: TestClient) -> None:
    r = client.get(EVIL, headers={"Accept": "application/json"})
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == 404 and body["title"] == "Not Found" and "not a registry IRI" in body["detail"]


def test_a_browser_gets_an_html_error_page_with_the_message_escaped(client: TestClient) -> None:
    r = client.get(EVIL, headers={"Accept": BROWSER})
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    doc = html5lib.parse(r.text, namespaceHTMLElements=False)
    assert doc.findall(".//script") == []
    assert "<script>alert(1)</script>" in "".join(doc.find(".//p").itertext())  # shown as text
    assert "content-security-policy" in r.headers


def test_a_sparql_client_gets_the_protocol_error_as_plain_text(client: TestClient) -> None:
    r = client.get("/sparql", params={"query": "SELEKT * {}"}, headers={"Accept": "application/sparql-results+json"})
    assert r.status_code == 400 and r.headers["content-type"].startswith("text/plain")
    assert r.text.startswith("malformed query")


def test_a_browser_sent_to_a_bad_sparql_link_gets_the_html_error_page(client: TestClient) -> None:
    r = client.get("/sparql", params={"query": "SELEKT * {}"}, headers={"Accept": BROWSER})
    assert r.status_code == 400 and r.headers["content-type"].startswith("text/html")
    assert "malformed query" in r.text


def test_a_linked_data_client_asking_only_for_rdf_gets_one_line_of_text(client: TestClient) -> None:
    r = client.get("/id/nope/x", headers={"Accept": "text/turtle"})
    assert r.status_code == 404 and r.text == "unknown IRI: https://w3id.org/acse-kg/id/nope/x\n"


# ---------------------------------------------------------------- settings
@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in list(os.environ):
        if name.startswith("ACSE_KG_") and name != "ACSE_KG_STORE":
            monkeypatch.delenv(name)
    return monkeypatch


def test_settings_come_from_flags_then_environment_then_file_then_defaults(clean_env: pytest.MonkeyPatch,
                                                                          tmp_path: Path) -> None:
    file = tmp_path / "server.toml"
    file.write_text("query_timeout = 3.0\nquery_workers = 4\nmax_sparql_body = 5000\n")
    clean_env.setenv("ACSE_KG_QUERY_WORKERS", "3")
    s = ServerSettings.load(file, query_timeout=7.0, max_result_bytes=None)
    assert (s.query_timeout, s.query_workers, s.max_sparql_body, s.max_result_bytes) == (7.0, 3, 5000, 50_000_000)
    assert s.body_limit("/sparql") == 5000


def test_the_admin_token_can_come_from_a_file_or_the_environment(clean_env: pytest.MonkeyPatch,
                                                                 tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("from-a-file\n")
    assert ServerSettings(admin_token_file=token).admin_token == "from-a-file"
    clean_env.setenv("ACSE_KG_ADMIN_TOKEN", "from-the-env")
    assert ServerSettings().admin_token == "from-the-env"


def test_an_empty_or_missing_token_file_is_an_error_naming_it(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("\n")
    for path in (empty, tmp_path / "missing"):
        with pytest.raises((ValidationError, SettingsError), match="admin_token_file"):
            ServerSettings(admin_token_file=path)


def test_a_setting_out_of_range_is_refused(clean_env: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError, match="query_workers"):
        ServerSettings(query_workers=0)


def test_the_per_client_limit_leaves_a_worker_for_others_by_default(clean_env: pytest.MonkeyPatch) -> None:
    assert ServerSettings(query_workers=2).per_client_limit == 1
    assert ServerSettings(query_workers=8).per_client_limit == 7
    assert ServerSettings(query_workers=2, queries_per_client=0).per_client_limit == 0


def _serve(*args: str, env_extra: dict[str, str] | None = None) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACSE_KG_")}
    env.update({"PYTHONPATH": str(ROOT), **(env_extra or {})})
    return subprocess.Popen([sys.executable, "-m", "acse_kg.cli", "serve", "--store", "memory", *args],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_serve_with_a_bad_settings_file_says_which_setting_in_one_line(tmp_path: Path) -> None:
    file = tmp_path / "server.toml"
    file.write_text("query_workers = 0\n")
    proc = _serve("--settings", str(file), "--port", str(free_port()))
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert err.strip().count("\n") == 0 and "query_workers" in err and "Traceback" not in err


def test_serve_takes_the_admin_token_from_a_file_not_the_command_line(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text(ADMIN_TOKEN + "\n")
    port = free_port()
    proc = _serve("--admin-token-file", str(token), "--port", str(port), "--access-log")
    url = f"http://127.0.0.1:{port}/sparql"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url, params={"query": "ASK {}"}, timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "acse-kg serve did not start"
            time.sleep(0.2)
        update = "INSERT DATA { GRAPH <http://example.org/t> { <http://example.org/s> <http://example.org/p> 1 } }"
        r = httpx.post(url, content=update, timeout=30, headers={
            "Content-Type": "application/sparql-update", "Authorization": f"Bearer {ADMIN_TOKEN}"})
        assert r.status_code == 204, r.text
        cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes()
        assert ADMIN_TOKEN.encode() not in cmdline
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert '"POST /sparql" 204' in err  # the access log
    assert ADMIN_TOKEN not in err


def test_the_access_log_has_one_line_per_request_without_secrets(store, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    app = create_app(store, ServerSettings(query_workers=1, admin_token=ADMIN_TOKEN))
    with TestClient(app) as c, caplog.at_level(logging.INFO, logger="acse_kg.access"):
        c.get("/ontology", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
        c.get("/no-such-page")
    lines = [r.getMessage() for r in caplog.records if r.name == "acse_kg.access"]
    assert len(lines) == 2
    assert '"GET /ontology" 200' in lines[0] and '"GET /no-such-page" 404' in lines[1]
    assert all(ADMIN_TOKEN not in line for line in lines)


def test_each_post_route_documents_its_body_limit(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    settings = ServerSettings(query_workers=1)
    posts = {path: ops["post"] for path, ops in spec["paths"].items() if "post" in ops}
    assert {"/sparql", "/match", "/match/batch", "/api/v2/studies"} <= set(posts)
    for path, op in posts.items():
        assert str(settings.body_limit(path)) in op["responses"]["413"]["description"], path
