"""`acse-kg serve` starts the whole registry on the embedded store; failures are one line, no traceback."""

from __future__ import annotations

import copy
import io
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest
from server_fixtures import free_port

from acse_kg.namespaces import study_iri
from acse_kg.paths import ROOT

NCT = "NCT02034981"


def _serve(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "acse_kg.cli", "serve", *args],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


@pytest.fixture(scope="module")
def served() -> Iterator[str]:
    port = free_port()
    proc = _serve("--store", "memory", "--port", str(port), "--query-timeout", "5")
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(url + "/sparql", params={"query": "ASK {}"}, timeout=5).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("acse-kg serve did not start: " + (proc.stderr.read() if proc.stderr else ""))
        time.sleep(0.2)
    yield url
    proc.terminate()
    proc.wait(15)


def test_serve_answers_sparql_over_the_bundled_record(served: str) -> None:
    r = httpx.get(served + "/sparql", params={"query": f"ASK {{ <{study_iri(NCT)}> a acse:BasketTrial }}"})
    assert r.json()["boolean"] is True


def test_serve_dereferences_the_study_iri(served: str) -> None:
    r = httpx.get(served + f"/id/study/{NCT}", headers={"Accept": "text/turtle"})
    assert r.status_code == 200 and study_iri(NCT) in r.text


def test_serve_is_read_only_without_an_admin_token(served: str) -> None:
    r = httpx.post(served + "/sparql", content="CLEAR ALL", headers={"Content-Type": "application/sparql-update"})
    assert r.status_code == 403


def test_serve_on_a_port_in_use_is_one_error_line_naming_the_address_and_exit_2() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = _serve("--store", "memory", "--port", str(port))
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert err.splitlines() == [err.strip()]  # one line: no "serving on" before it, no uvicorn log, no traceback
    assert f"127.0.0.1:{port}" in err and "address already in use" in err.lower()
    assert "serving on" not in err


def test_ctrl_c_stops_the_server_and_its_query_workers_without_a_traceback() -> None:
    import signal

    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "acse_kg.cli", "serve", "--store", "memory", "--port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while True:  # wait until a query has been answered: the query workers are running
        try:
            if httpx.get(f"http://127.0.0.1:{port}/sparql", params={"query": "ASK {}"}, timeout=5).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert proc.poll() is None and time.monotonic() < deadline, "acse-kg serve did not start"
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal does: the whole process group
    _, err = proc.communicate(timeout=30)
    assert "Traceback" not in err and "KeyboardInterrupt" not in err


def test_serve_takes_its_limits_from_the_environment_as_the_app_does(monkeypatch) -> None:
    """ACSE_KG_QUERY_TIMEOUT and friends reach `acse-kg serve` (its options read the same variables)."""
    from typer.testing import CliRunner

    from acse_kg.cli import app

    seen = {}

    def fake_create_app(store, settings):
        seen["settings"] = settings
        raise RuntimeError("stop here")  # the settings are what this test is about, not serving

    monkeypatch.setattr("acse_kg.api.app.create_app", fake_create_app)
    _keep_the_access_logger(monkeypatch)  # serve sets it up in this process: put back afterwards
    monkeypatch.setenv("ACSE_KG_QUERY_TIMEOUT", "2.5")
    monkeypatch.setenv("ACSE_KG_QUERY_WORKERS", "3")
    result = CliRunner().invoke(app, ["serve", "--store", "memory", "--port", "0"])  # any free port
    assert "cannot start the server: stop here" in result.stderr
    s = seen["settings"]
    assert (s.query_timeout, s.query_workers, s.max_result_bytes) == (2.5, 3, 50_000_000)


def _settings_of_serve(monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[object, str]:
    """The settings `acse-kg serve ARGS` would build its app with (or None), and its stderr."""
    from typer.testing import CliRunner

    from acse_kg.cli import app

    seen: dict[str, object] = {}

    def fake_create_app(store, settings):
        seen["settings"] = settings
        raise RuntimeError("stop here")

    monkeypatch.setattr("acse_kg.api.app.create_app", fake_create_app)
    _keep_the_access_logger(monkeypatch)
    result = CliRunner().invoke(app, ["serve", "--store", "memory", "--port", "0", *args])
    return seen.get("settings"), result.stderr


def test_no_warm_up_on_the_command_line_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACSE_KG_WARM_UP", "true")
    settings, _ = _settings_of_serve(monkeypatch, "--no-warm-up")
    assert settings is not None and settings.warm_up is False  # type: ignore[attr-defined]
    settings, _ = _settings_of_serve(monkeypatch)
    assert settings is not None and settings.warm_up is True  # type: ignore[attr-defined]


def test_a_warm_up_setting_that_is_not_a_yes_or_no_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACSE_KG_WARM_UP", "perhaps")
    settings, err = _settings_of_serve(monkeypatch)
    assert settings is None and "invalid setting warm_up" in err


def _keep_the_access_logger(monkeypatch: pytest.MonkeyPatch) -> logging.Logger:
    """The access logger as it is, put back when the test ends (serve, run in-process, configures it)."""
    access = logging.getLogger("acse_kg.access")
    for name in ("handlers", "propagate", "level"):
        monkeypatch.setattr(access, name, copy.copy(getattr(access, name)))
    return access


def test_the_access_log_of_serve_run_in_process_writes_to_stderr_as_it_is_when_a_line_is_logged(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A command run in-process (a test's CliRunner) swaps stderr for a buffer it then closes: a later
    request logged in the same process goes to the stderr of that moment, not to the closed buffer."""
    from acse_kg.commands.serve_cmds import _log_access_to_stderr

    access = _keep_the_access_logger(monkeypatch)
    captured, buffer = sys.stderr, io.StringIO()
    sys.stderr = buffer
    try:
        _log_access_to_stderr()
        _log_access_to_stderr()  # a second serve in the same process adds no second handler
        access.info("while serving")
    finally:
        sys.stderr = captured
    buffer.close()
    access.info("after the command")  # to a closed buffer this would print a logging error instead
    assert "after the command" in capsys.readouterr().err
    assert len(access.handlers) == 1
