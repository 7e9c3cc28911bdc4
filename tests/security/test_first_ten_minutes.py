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
from hypothesis import given, settings
from hypothesis import strategies as st
from server_fixtures import free_port
from typer.testing import CliRunner

from acse_kg import __version__
from acse_kg.cli import app
from acse_kg.namespaces import PREFIXES
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


#: What pip 26 writes during the first install (abridged from a real run; the setuptools warning
#: is what a new user used to see alone, for about 100 s).
PIP_TRANSCRIPT = """\
Obtaining file:///home/user/acse-kg
  Installing build dependencies: started
  Installing build dependencies: finished with status 'done'
  /tmp/pip-build-env-x/overlay/lib/python3.11/site-packages/setuptools/command/editable_wheel.py:354: \
BuildBackendWarning: Editable installation.
  !!
          Please be careful with folders in your working directory with the same
          name as your package as they may take precedence during imports.
  !!
Collecting rdflib>=7.1 (from acse-kg==0.1.0)
  Downloading rdflib-7.1.4-py3-none-any.whl.metadata (11 kB)
Processing /opt/pypi/files/six-1.17.0-py2.py3-none-any.whl (from rdflib>=7.1->acse-kg==0.1.0)
Collecting pyoxigraph>=0.5 (from acse-kg==0.1.0)
Building wheels for collected packages: acse-kg
Installing collected packages: six, rdflib, pyoxigraph, acse-kg
Successfully installed acse-kg-0.1.0 pyoxigraph-0.5.13 rdflib-7.1.4 six-1.17.0
"""


def _checkout_with_a_recorded_pip(tmp_path: Path, status: int) -> Path:
    """A checkout whose .venv python answers `-m pip install -e .` with the transcript and ``status``."""
    root = tmp_path / "checkout"
    (root / "scripts").mkdir(parents=True)
    shutil.copy(ROOT / "scripts" / "setup.sh", root / "scripts" / "setup.sh")
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    venv = root / ".venv" / "bin"
    venv.mkdir(parents=True)
    (root / "transcript.txt").write_text(PIP_TRANSCRIPT)
    (venv / "python").write_text(
        "#!/bin/sh\n"
        'case "$*" in *--upgrade\\ pip*) exit 0 ;; esac\n'
        f'cat "{root / "transcript.txt"}"\n'
        f"exit {status}\n"
    )
    (venv / "python").chmod(0o755)
    return root


def _ensure_venv(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", 'source scripts/setup.sh && ensure_venv ""'], cwd=root,
                          capture_output=True, text=True, timeout=60)


def test_the_first_install_shows_each_package_as_pip_takes_it_up(tmp_path: Path) -> None:
    root = _checkout_with_a_recorded_pip(tmp_path, status=0)
    done = _ensure_venv(root)
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert "acse-kg setup:   [1] rdflib>=7.1" in lines
    assert "acse-kg setup:   [2] six-1.17.0-py2.py3-none-any.whl" in lines
    assert "acse-kg setup:   [3] pyoxigraph>=0.5" in lines
    assert any(line.startswith("acse-kg setup: installing 3 packages") for line in lines)
    assert "BuildBackendWarning" not in done.stderr  # kept in the log, not shown
    assert "BuildBackendWarning" in (root / ".venv" / "pip-install.log").read_text()
    assert (root / ".venv" / ".acse-kg-installed").is_file()


def test_a_failed_install_shows_the_end_of_pips_output_and_where_the_rest_is(tmp_path: Path) -> None:
    root = _checkout_with_a_recorded_pip(tmp_path, status=1)
    done = _ensure_venv(root)
    assert done.returncode == 1
    assert "Successfully installed" in done.stderr  # the end of pip's own output
    assert done.stderr.rstrip().endswith(f"pip install -e '.' failed (the whole output: {root}/.venv/pip-install.log)")
    assert not (root / ".venv" / ".acse-kg-installed").exists()  # the next run tries again


def test_turtle_export_writes_a_plain_iri_where_a_local_name_would_need_escapes() -> None:
    r = runner.invoke(app, ["export", "--store", "memory", "--format", "turtle"])
    assert r.exit_code == 0, r.stderr
    assert "\\/" not in r.stdout  # not study:NCT02034981\/cohort\/5
    assert "<https://w3id.org/acse-kg/id/study/NCT02034981/cohort/5>" in r.stdout
    assert "study:NCT02034981 " in r.stdout and "acse:Cohort" in r.stdout  # prefixed names where they fit
    assert "@prefix study: <https://w3id.org/acse-kg/id/study/> ." in r.stdout


#: What an IRI's end may hold: the characters a Turtle local name must escape, often, and any other
#: character an IRI allows.
_LOCAL_CHARS = st.one_of(
    st.sampled_from([*"aZ09_-./:~()'!$&*+,;=@", "%2F"]),
    st.characters(min_codepoint=0xA0, max_codepoint=0xD7FF,  # RFC 3987's first range of ucschar
                  exclude_categories=("Cs", "Cc", "Cf", "Cn", "Co", "Zs", "Zl", "Zp")),
)


@settings(max_examples=300, deadline=None)
@given(
    namespace=st.sampled_from(sorted(PREFIXES.values())),
    local=st.lists(_LOCAL_CHARS, min_size=1, max_size=20).map("".join),
    text=st.text(max_size=40),
)
def test_readable_turtle_reads_back_as_the_same_triples(namespace: str, local: str, text: str) -> None:
    """Whatever the local name (slashes, dots, colons, non-ASCII) and the literal (quotes, backslashes,
    line breaks, text that looks like an IRI or a prefixed name), the Turtle means the same triples."""
    import pyoxigraph as ox

    from acse_kg.rdf_io import readable_turtle

    subject = ox.NamedNode(namespace + local)
    triples = [
        ox.Triple(subject, ox.NamedNode(PREFIXES["rdfs"] + "label"), ox.Literal(text)),
        ox.Triple(subject, ox.NamedNode(PREFIXES["rdfs"] + "seeAlso"), ox.NamedNode(f"{PREFIXES['study']}x/{local}")),
        ox.Triple(ox.NamedNode(PREFIXES["acse"] + "Cohort"), ox.NamedNode(PREFIXES["rdfs"] + "comment"),
                  ox.Literal(f'<{namespace}{local}> "{text}" study:a\\/b', language="en")),
    ]
    turtle = readable_turtle(triples)
    assert {q.triple for q in ox.parse(turtle, format=ox.RdfFormat.TURTLE)} == set(triples)
    assert b"\\/" not in turtle.replace(b"study:a\\\\/b", b"")  # no escaped slash outside that literal


def _tour_requests() -> list[tuple[str, list[str]]]:
    """The README quick tour's curl commands, each as (command line, its arguments after curl)."""
    import re
    import shlex

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    tour = readme.split("## A quick tour", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", tour, re.S)
    assert block is not None, "the quick tour has a sh block"
    lines = block.group(1).replace("\\\n", " ").splitlines()
    commands = [line.split("|")[0].strip() for line in lines if line.startswith("curl ")]
    return [(c, shlex.split(c)[1:]) for c in commands]


def _as_request(args: list[str], base: str) -> tuple[str, str, dict[str, str], dict[str, str] | None, bytes | None]:
    """curl's arguments (-s, -H, -d, --data-urlencode name@file) as method, URL, headers, form, body."""
    url, headers, form, body = "", {}, None, None
    it = iter(args)
    for arg in it:
        if arg == "-s":
            continue
        if arg == "-H":
            name, value = next(it).split(":", 1)
            headers[name.strip()] = value.strip()
        elif arg == "-d":
            body = next(it).encode()
        elif arg == "--data-urlencode":
            name, file = next(it).split("@", 1)
            form = {name: (ROOT / file).read_text(encoding="utf-8")}
        else:
            assert arg.startswith("http://127.0.0.1:8000/"), f"an argument the test does not know: {arg}"
            url = base + arg.removeprefix("http://127.0.0.1:8000")
    return ("POST" if body is not None or form else "GET"), url, headers, form, body


def test_the_readme_quick_tour_answers_as_it_says(bundle_server) -> None:  # type: ignore[no-untyped-def]
    tour = _tour_requests()
    assert any("/match" in c for c, _ in tour) and any("/sparql" in c for c, _ in tour)
    for command, args in tour:
        method, url, headers, form, body = _as_request(args, bundle_server.url)
        r = httpx.request(method, url, headers=headers, data=form, content=body, timeout=60)
        assert r.status_code == 200, (command, r.text[:300])
        if "Accept" in headers:  # the representation asked for
            assert r.headers["content-type"].startswith(headers["Accept"]), command
        if url.endswith("/match"):
            (cohort,) = r.json()["cohorts"]
            assert cohort["cohort"] == 5 and cohort["label"] == "NSCLC, adults, MET amplified"
            assert cohort["verdict"] == "unknown" and {"labs.anc", "performance.ecog"} <= set(cohort["missing"])
    assert (ROOT / "acse_kg" / "matching" / "contract" / "tumor-profile.md").is_file()  # where the tour says
