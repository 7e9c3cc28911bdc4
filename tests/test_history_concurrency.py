"""Two writers of the same study never lose a version (the history race of the hardening issue).

Each writer reads the study's current version N, then writes N+1 with the
version before archived. Before writes carried a precondition, two writers
that both read N both wrote N+1, and one archived version was lost. Here the
writers are real: threads on the embedded store, and processes writing
through a real ``oxigraph serve`` (the README's set-up of the CLI beside a
server). A barrier makes every writer read the same state before any writes,
so the race is run every time, not left to timing.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from oxigraph_server_fixtures import OxigraphServer
from rdflib import URIRef

from acse_kg.history import edit_study, list_versions, version_graph
from acse_kg.loader import study_graph_name
from acse_kg.namespaces import study_iri
from acse_kg.paths import ROOT
from acse_kg.store import GraphStore, WriteConflict, open_store
from acse_kg.versions import save_study

NCT = "NCT02034981"
EDIT = URIRef("urn:x:edit")


def edited(base: str, mark: str) -> str:
    """The study as N-Triples with one triple naming the edit, so every version can be told apart."""
    return base + f'<{study_iri(NCT)}> <{EDIT}> "{mark}" .\n'


def marks_by_version(store: GraphStore) -> dict[int, str | None]:
    """Each version's edit mark (None for the bundle's version 0), read from its archive or live graph."""
    versions = list_versions(store, NCT)
    return {v.number: next((str(o) for o in version_graph(store, NCT, v.number, versions).objects(None, EDIT)), None)
            for v in versions}


class _RacingStore:
    """A store whose first write in each thread waits until every writer has read the state."""

    def __init__(self, inner: GraphStore, barrier: threading.Barrier) -> None:
        self.inner, self.barrier, self.conflicts = inner, barrier, 0
        self._waited = threading.local()
        self._lock = threading.Lock()

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self.inner, name)

    def write(self, ops, *, claim=None) -> None:  # type: ignore[no-untyped-def]
        if not getattr(self._waited, "done", False):
            self._waited.done = True
            self.barrier.wait(timeout=30)
        try:
            self.inner.write(ops, claim=claim)
        except WriteConflict:
            with self._lock:
                self.conflicts += 1
            raise


def race_versions(store: GraphStore, writers: int, edits: int) -> _RacingStore:
    """``writers`` threads that all read version 0, then each save ``edits`` versions of their own;
    asserts that every edit became exactly one version (none lost, none twice), and returns the racing
    store (its count of conflicts)."""
    base = store.graph(study_graph_name(NCT)).serialize(format="nt")
    racing = _RacingStore(store, threading.Barrier(writers))
    errors: list[BaseException] = []

    def write(i: int) -> None:
        try:
            for j in range(edits):
                save_study(racing, NCT, edited(base, f"w{i}-{j}"), "ntriples", agent=f"writer {i}")  # type: ignore[arg-type]
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    marks = marks_by_version(store)
    assert sorted(marks) == list(range(writers * edits + 1))  # versions 0..n, none missing, none twice
    assert sorted(m for m in marks.values() if m) == sorted(f"w{i}-{j}" for i in range(writers) for j in range(edits))
    assert marks[0] is None
    return racing


def test_writers_that_read_the_same_version_both_keep_theirs_one_as_the_next_version(fresh_store: GraphStore) -> None:
    racing = race_versions(fresh_store, writers=4, edits=3)
    assert racing.conflicts >= 4 - 1  # the race was run: all but one lost the first round


def test_each_writer_s_versions_keep_their_order(fresh_store: GraphStore) -> None:
    base = fresh_store.graph(study_graph_name(NCT)).serialize(format="nt")
    for j in range(3):
        edit_study(fresh_store, NCT, edited(base, f"w-{j}"), "ntriples", agent="w")
    assert marks_by_version(fresh_store) == {0: None, 1: "w-0", 2: "w-1", 3: "w-2"}


WRITER = textwrap.dedent('''
    import sys, time
    from pathlib import Path
    from acse_kg.history import edit_study
    from acse_kg.store import open_store

    url, me, other, edits, base = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), Path(sys.argv[5])
    store = open_store(url, bootstrap=False)
    write = store.write

    def first_write(ops, *, claim=None):
        """Wait, once, until the other process has read the state too: both then write the same version."""
        store.write = write
        Path(base.parent / me).touch()
        deadline = time.monotonic() + 60
        while not (base.parent / other).exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        write(ops, claim=claim)

    store.write = first_write
    text = base.read_text()
    for j in range(edits):
        edit_study(store, "NCT02034981", text + f'<https://w3id.org/acse-kg/id/study/NCT02034981> <urn:x:edit> "{me}-{j}" .\\n',
                   "ntriples", agent=me)
    print("done", flush=True)
''')


def test_two_processes_writing_through_an_oxigraph_server_lose_no_version(
    empty_oxigraph: OxigraphServer, tmp_path: Path
) -> None:
    store = empty_oxigraph.open()  # bootstraps the server with the bundle: version 0
    base = tmp_path / "base.nt"
    base.write_text(store.graph(study_graph_name(NCT)).serialize(format="nt"), encoding="utf-8")
    edits = 4
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, empty_oxigraph.query, me, other, str(edits), str(base)],
                         cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for me, other in (("a", "b"), ("b", "a"))
    ]
    started = time.monotonic()
    outcomes = [p.communicate(timeout=180) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err[-2000:] for _, err in outcomes]
    assert time.monotonic() - started < 180
    # Read through a new client: this one's list of the engine's graphs is trusted for GRAPH_LIST_TTL
    # seconds (documented in acse_kg.remote), and on a quiet machine the writers finish within it.
    marks = marks_by_version(open_store(empty_oxigraph.query, bootstrap=False))
    assert sorted(marks) == list(range(2 * edits + 1))
    assert sorted(m for m in marks.values() if m) == sorted(f"{w}-{j}" for w in "ab" for j in range(edits))


@pytest.mark.parametrize("agent", ["a", "b"])
def test_a_lost_race_is_logged_under_its_own_writer(fresh_store: GraphStore, agent: str) -> None:
    """The retry writes the loser's own agent and note into the log, not the winner's."""
    base = fresh_store.graph(study_graph_name(NCT)).serialize(format="nt")
    other = "b" if agent == "a" else "a"
    racing = _RacingStore(fresh_store, threading.Barrier(1))
    original = racing.write

    def write_after_the_other(ops, *, claim=None):  # type: ignore[no-untyped-def]
        racing.write = original  # type: ignore[method-assign]
        save_study(fresh_store, NCT, edited(base, other), "ntriples", agent=other)  # the other writer wins version 1
        original(ops, claim=claim)

    racing.write = write_after_the_other  # type: ignore[method-assign]
    save_study(racing, NCT, edited(base, agent), "ntriples", agent=agent)  # type: ignore[arg-type]
    assert [(v.number, v.agent) for v in list_versions(fresh_store, NCT)] == [(0, "bundle"), (1, other), (2, agent)]
    assert racing.conflicts == 1
