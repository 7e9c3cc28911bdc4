"""The first ten minutes of a new user: --version, clear one-line errors, a query is not a path, serve without Java."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
from server_fixtures import free_port
from typer.testing import CliRunner

from acse_kg import __version__
from acse_kg.cli import app
from acse_kg.paths import ROOT

runner = CliRunner()


def _sparql(*args: str) -> tuple[int, str, str]:
    r = runner.invoke(app, ["sparql", "--store", "memory", *args])
    return r.exit_code, r.stdout, r.stderr


def test_version_prints_the_package_version() -> None:
    r = runner.invoke(app, ["--version"])
    assert r.exit_code == 0 and r.stdout.strip() == f"acse-kg {__version__}"


def test_an_unknown_prefix_is_one_line_naming_it() -> None:
    code, _, err = _sparql('SELECT * WHERE { ?s foo:bar ?o ; rdfs:label "not:a prefix" }')
    assert code == 2
    assert err.count("\n") == 1
    assert "unknown prefix foo:" in err and "PREFIX foo:" in err
    assert "\\u{" not in err  # not the grammar's Unicode ranges


def test_a_declared_prefix_and_the_registry_prefixes_are_not_unknown() -> None:
    code, out, err = _sparql("PREFIX foo: <http://example.org/> SELECT * WHERE { ?s foo:bar ?o ; a acse:Cohort }")
    assert code == 0, err
    assert "(0 rows)" in out


def test_the_endpoint_names_the_unknown_prefix_too(bundle_server) -> None:  # type: ignore[no-untyped-def]
    r = httpx.get(bundle_server.sparql, params={"query": "SELECT * WHERE { ?s foo:bar ?o }"}, timeout=30)
    assert r.status_code == 400 and r.text.startswith("malformed query: unknown prefix foo:")


def test_a_query_longer_than_a_file_name_is_run_as_a_query() -> None:
    query = "SELECT ?c WHERE { ?c a acse:Cohort }" + " " * 300 + "ORDER BY ?c LIMIT 2"
    code, out, err = _sparql(query)
    assert code == 0, err
    assert "(2 rows)" in out


def test_a_missing_query_file_is_still_named() -> None:
    code, _, err = _sparql("queries/no_such_query.rq")
    assert code == 2 and "no such query file: queries/no_such_query.rq" in err


def test_a_deeply_nested_query_is_one_line_not_a_crash() -> None:
    proc = subprocess.run([sys.executable, "-m", "acse_kg.cli", "sparql", "--store", "memory", "ASK " + "{" * 5000],
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2  # not -11 (a segfault in the engine's parser)
    assert proc.stderr.count("\n") == 1 and "levels deep" in proc.stderr


def test_tables_show_prefixed_names_where_they_fit() -> None:
    code, out, err = _sparql("SELECT ?c ?t WHERE { ?c a ?t ; acse:cohortNumber 5 }")
    assert code == 0, err
    assert "study:NCT02034981/cohort/5" in out and "acse:Cohort" in out
    assert "https://w3id.org/acse-kg/" not in out


def test_scripts_serve_starts_without_java(tmp_path: Path) -> None:
    """scripts/serve on a machine with no Java (and no root): it serves; only the reasoner would need it."""
    root = tmp_path / "checkout"
    (root / "scripts").mkdir(parents=True)
    for name in ("serve", "setup.sh"):
        shutil.copy(ROOT / "scripts" / name, root / "scripts" / name)
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    venv = root / ".venv" / "bin"
    venv.mkdir(parents=True)
    (venv / "python").symlink_to(sys.executable)
    (venv / "acse-kg").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m acse_kg.cli "$@"\n')
    (venv / "acse-kg").chmod(0o755)
    digest = hashlib.sha256((root / "pyproject.toml").read_bytes()).hexdigest()
    (root / ".venv" / ".acse-kg-installed").write_text(f"{digest} .\n")  # installed: no pip run
    tools = tmp_path / "bin"  # a PATH with the shell tools and no java, apt-get or sudo
    tools.mkdir()
    for tool in ("bash", "sh", "sha256sum", "cut", "grep", "id", "dirname", "env"):
        found = shutil.which(tool)
        assert found, tool
        (tools / tool).symlink_to(found)
    port = free_port()
    env = {"PATH": str(tools), "PYTHONPATH": str(ROOT), "HOME": str(tmp_path)}
    proc = subprocess.Popen(["bash", str(root / "scripts" / "serve"), "--port", str(port), "--store", "memory",
                             "--no-access-log"], cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/sparql", params={"query": "ASK {}"}, timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("scripts/serve did not serve: " + (proc.stderr.read() if proc.stderr else ""))
            time.sleep(0.3)
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert "no Java found" in err


def test_scripts_test_still_installs_java() -> None:
    assert "ensure_java" in (ROOT / "scripts" / "test").read_text()
