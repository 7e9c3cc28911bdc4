"""A built wheel serves the registry with no checkout around it (issue 13, "A wheel that works").

The wheel is built from a copy of the source tree (so the checkout gets no
``build/`` or ``*.egg-info``), installed with ``--no-deps`` into a fresh virtual
environment under ``tmp_path``, and run from a directory outside the checkout.
Installing every dependency from PyPI would take minutes, so the new environment
sees the test environment's packages through a ``.pth`` line naming its
site-packages: a ``.pth`` file inside a folder added that way is not processed,
so the test environment's editable ``acse_kg`` finder stays inactive, and the
first test proves the package comes from the wheel.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from conftest import NCT, SHARED
from server_fixtures import free_port

from acse_kg.paths import PACKAGE_DIR, ROOT

#: The bundle's folders in the repository (setup.py copies them into the wheel as acse_kg/bundle/).
BUNDLE = ("ontology", "shapes", "data", "vocab", "queries")

#: Top-level folders of the checkout that the build does not need (and local state it must not see).
NOT_BUILT = {".git", ".venv", "var", "tests", "bench", "build", "dist", "site", ".ruff_cache", ".pytest_cache",
             ".hypothesis", ".ci"}


@dataclass
class Installed:
    """A fresh virtual environment holding the built wheel."""

    wheel: Path
    venv: Path
    outside: Path  # a working directory outside the checkout
    env: dict[str, str]

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(self.venv / "bin" / "acse-kg"), *args], cwd=self.outside, env=self.env,
                              capture_output=True, text=True, timeout=timeout)

    def python(self, code: str) -> str:
        out = subprocess.run([str(self.venv / "bin" / "python"), "-c", code], cwd=self.outside, env=self.env,
                             capture_output=True, text=True, timeout=60, check=True)
        return out.stdout.strip()


def _ignore_local_state(folder: str, names: list[str]) -> set[str]:
    top = Path(folder).resolve() == ROOT.resolve()
    return {n for n in names if (top and n in NOT_BUILT) or n == "__pycache__" or n.endswith(".egg-info")}


def _build_wheel(out: Path, scratch: Path) -> Path:
    import setuptools

    if int(setuptools.__version__.split(".")[0]) < 77:
        pytest.fail(f"building the wheel needs setuptools>=77 (the test extra), found {setuptools.__version__}")
    source = scratch / "source"
    shutil.copytree(ROOT, source, ignore=_ignore_local_state)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-cache-dir",
                    "-q", "-w", str(out), str(source)], check=True, capture_output=True, text=True, timeout=120)
    (wheel,) = out.glob("acse_kg-*.whl")
    return wheel


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    tmp = tmp_path_factory.mktemp("wheel")
    wheel = _build_wheel(tmp / "dist", tmp)
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q",
                    "--no-deps", "--no-index", str(wheel)], check=True, capture_output=True, text=True, timeout=120)
    purelib = subprocess.run([str(venv / "bin" / "python"), "-c",
                              "import sysconfig; print(sysconfig.get_path('purelib'))"],
                             check=True, capture_output=True, text=True).stdout.strip()
    (Path(purelib) / "acse_kg_test_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    outside = tmp / "elsewhere"
    (outside / "home").mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("ACSE_KG_")}
    env.update(HOME=str(outside / "home"), XDG_DATA_HOME=str(outside / "data"))
    return Installed(wheel, venv, outside, env)


def test_the_installed_package_and_its_bundle_come_from_the_new_environment(installed: Installed) -> None:
    where = json.loads(installed.python(
        "import json, acse_kg, acse_kg.paths as p; "
        "print(json.dumps([acse_kg.__file__, str(p.ONTOLOGY_DIR), str(p.DEFAULT_STORE)]))"))
    package, ontology, store = (Path(p) for p in where)
    assert package.is_relative_to(installed.venv) and ontology.is_relative_to(installed.venv)
    assert (ontology / "acse.ttl").is_file()
    # Installed, the default store is in the user's data folder, not inside site-packages.
    assert store == installed.outside / "data" / "acse-kg" / "store"


def test_the_wheel_holds_the_whole_bundle_and_every_file_the_package_reads(installed: Installed) -> None:
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    bundle = {f"acse_kg/bundle/{p.relative_to(ROOT).as_posix()}"
              for folder in BUNDLE for p in (ROOT / folder).rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    package_files = {f"acse_kg/{p.relative_to(PACKAGE_DIR).as_posix()}" for p in PACKAGE_DIR.rglob("*")
                     if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
                     and "bundle" not in p.relative_to(PACKAGE_DIR).parts[:1]}
    assert bundle - names == set()
    assert package_files - names == set()  # templates, static assets, schemas, the Java helper, every module


def test_acse_kg_sparql_answers_over_the_installed_bundle(installed: Installed) -> None:
    query = (f"SELECT ?label WHERE {{ study:{NCT} acse:hasCohort ?c . ?c acse:cohortNumber 5 ; rdfs:label ?label }}")
    done = installed.run("sparql", query, "--format", "json")
    assert done.returncode == 0, done.stderr
    (row,) = json.loads(done.stdout)["results"]["bindings"]
    assert row["label"]["value"] == "NSCLC, adults, MET amplified"
    # The default store was made in the user's data folder and holds the bundle from now on.
    assert (installed.outside / "data" / "acse-kg" / "store").is_dir()


@pytest.fixture(scope="module")
def served(installed: Installed) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [str(installed.venv / "bin" / "acse-kg"), "serve", "--port", str(port), "--query-workers", "1"],
        cwd=installed.outside, env=installed.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                if httpx.get(url + "/sparql", params={"query": "ASK {}"}, timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                _, err = proc.communicate(timeout=15)
                pytest.fail(f"acse-kg serve from the wheel did not start: {err}")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(15)


def test_acse_kg_serve_from_the_wheel_renders_a_study_page_with_its_assets(served: str) -> None:
    page = httpx.get(f"{served}/study/{NCT}", headers={"Accept": "text/html"}, timeout=30)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert NCT in page.text and "MET amplified" in page.text
    css = re.search(r'href="([^"]*style\.css)"', page.text)
    assert css is not None
    assert httpx.get(page.url.join(css.group(1)), timeout=30).status_code == 200


def test_acse_kg_serve_from_the_wheel_matches_the_contract_example(served: str) -> None:
    text = (SHARED / "contracts" / "tumor-profile.md").read_text(encoding="utf-8")
    example = re.search(r"```json\n(.*?)```", text, re.S)
    assert example is not None
    r = httpx.post(served + "/match", content=example.group(1).encode(), timeout=60,
                   headers={"Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    result = r.json()
    assert result["profile_id"] == "P-0001" and result["trial"] == NCT
    (c5,) = result["cohorts"]
    assert c5["label"] == "NSCLC, adults, MET amplified"
    assert c5["verdict"] == "ineligible"  # the example's ALK translocation is an exclusion in NSCLC


def test_acse_kg_serve_from_the_wheel_serves_the_workbench_ontology_and_examples(served: str) -> None:
    """The files read per request (the workbench page and its vendored assets, the ontology, the
    example queries) come from the installed package too."""
    page = httpx.get(served + "/sparql", headers={"Accept": "text/html"}, timeout=30)
    assert page.status_code == 200 and "yasgui.min.js" in page.text
    assert httpx.get(served + "/sparql/yasgui/yasgui.min.js", timeout=30).status_code == 200
    ontology = httpx.get(served + "/ontology", headers={"Accept": "text/turtle"}, timeout=30)
    assert ontology.status_code == 200 and "acse:Cohort" in ontology.text
    examples = httpx.get(served + "/sparql/examples", timeout=30).json()
    assert sorted(e["name"] for e in examples) == sorted(p.stem for p in (ROOT / "queries").glob("*.rq"))
