"""Fixtures shared by every test module: the real bundle in one in-memory store."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from acse_kg.store import GraphStore, open_store

#: The record as registered, the matching contract and reference records: copies of the workplace's
#: shared material kept in the repository (tests/data/shared/ORIGIN.md), so a fresh clone tests itself.
SHARED = Path(__file__).resolve().parent / "data" / "shared"
SEED = SHARED / "seeds" / "NCT02034981.txt"
NCT = "NCT02034981"

#: The servers of the tests do not warm their matcher up at start-up (a thread compiling studies beside
#: every test's requests, and reading stores the tests close): tests/test_server_warm_up.py turns it on
#: where it is the subject. Set before any ServerSettings is read (subprocess servers inherit it).
os.environ.setdefault("ACSE_KG_WARM_UP", "false")

#: CI sets CI=true: there a missing tool is a failure, never a silent skip.
CI = os.environ.get("CI", "").lower() == "true"

#: The fixture modules, registered once for every test module. A test asks for their fixtures by
#: parameter name only; importing a fixture function into a test module would shadow it and read as a
#: redefinition to linters. Their fixture names are distinct across modules (a test module may still
#: override one locally, as pytest allows). server_fixtures comes first: oxigraph_server_fixtures imports it.
pytest_plugins = ["server_fixtures", "oxigraph_server_fixtures", "matching_fixtures", "ctgov_api_fixtures"]


def require(available: bool, what: str) -> None:
    """Go on when a tool the test drives is installed; otherwise fail in CI and skip elsewhere."""
    if available:
        return
    if CI:
        pytest.fail(f"{what} is required in CI (scripts/test installs it)")
    pytest.skip(f"{what} is not installed (scripts/test installs it)")


def tool(name: str) -> str | None:
    """A command beside the interpreter running the tests (the venv need not be on PATH), else on PATH."""
    return shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)


@pytest.fixture(scope="session")
def store() -> GraphStore:
    """The bundled registry (ontology, vocabularies, record), loaded once per test session.

    Read-only by convention: a test that writes must open its own store.
    """
    return open_store("memory")


@pytest.fixture(scope="session")
def seed_text() -> str:
    return SEED.read_text(encoding="utf-8")


@pytest.fixture()
def fresh_store() -> GraphStore:
    """A store of its own, for a test that writes."""
    return open_store("memory")


def shared_path(*parts: str) -> Path:
    return SHARED.joinpath(*parts)
