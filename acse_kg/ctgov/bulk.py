"""Bulk import of ClinicalTrials.gov API v2 records: ``acse-kg import --bulk DIR|FILE.jsonl|FILE.zip``.

Why not :func:`~acse_kg.ctgov.import_.import_study` in a loop: each call
reads the ontology's code table, asks the store several questions and makes
its own transaction, so importing one at a time grows with the store (the
issue measured 1,000 studies in 20 minutes). Here:

- **Workers map, the parent writes.** Records are parsed, validated against
  the spec and mapped to N-Quads in a pool of processes (the code table read
  once, handed to each); the parent only decides and writes.
- **Batches, one transaction each.** New studies go to the store in batches
  of N-Quads (their graphs and their log entries together), one transaction
  per batch through the store's bulk operation (:class:`~acse_kg.store.AddQuads`:
  Oxigraph's Rust parser on the embedded store, one INSERT DATA on a remote
  engine). A batch is whole or absent, so an import killed half-way leaves
  whole studies, each with its log entry, and nothing else.
- **Bounded memory.** Records are read one at a time and only a window of
  chunks is in flight; no list of the input is ever held.
- **Resumable, and a re-run writes nothing.** Each version the import makes
  logs the digest of the record it came from (``acse:recordDigest`` in the
  history log). The log is read once at the start; a record whose digest is
  the current version's is skipped before it is even mapped.
- **History kept.** A record for a study the registry holds already goes
  through :func:`acse_kg.versions.save_study` (the old version archived, the
  new one logged, under its claim): only new studies take the batch path.
- **Concurrent writers.** A new study's first version is written in a batch
  without the per-version claim :func:`save_study` takes (a claim guards one
  subject per write). On the embedded store that is safe: the importing
  process owns the store directory, so no one else writes it meanwhile. On a
  remote engine another client creating the same study at the same moment
  could interleave with the batch; run a bulk import of studies nobody else is
  importing at that time (changed studies are always claimed).
- **The search index in step.** A store with an index file (beside a store directory; for a remote
  engine, the endpoint's file in the registry's data directory, tied to the dataset's identity) has
  the rows of the studies each batch wrote put into its index after the batch
  (:meth:`~acse_kg.search_index.SearchIndex.put`), so the server's first
  search does not read every imported study on the request path. The rows are
  made by the mapping workers from the graph they have just mapped
  (:func:`~acse_kg.search_index.record_row`, the code that reads a stored
  study's row, with the registry's vocabulary read once and handed to each
  worker): reading each study back from the store in the parent cost about
  half the import's CPU and held the single writer. At the end the index is
  synced with the graph (:meth:`~acse_kg.search_index.SearchIndex.sync`: the
  bundle's studies, and a batch whose rows a killed run did not write; the
  index tells a study's version from the log's).
- **A bad record does not stop the rest.** It is reported with its file (and
  line, or archive member) and the JSON path of each problem; the import goes
  on and the command exits 1 at the end.
"""

from __future__ import annotations

import concurrent.futures as cf
import gc
import io
import json
import multiprocessing
import os
import sys
import time
import zipfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rdflib import Graph, Literal, URIRef

from ..loader import STUDY_GRAPH_PREFIX, study_graph_name
from ..model.reader import Vocabulary, read_vocabulary
from ..search_index import RowContext, StudyRow, record_row
from ..store import AddQuads, GraphStore, StoreError
from ..versions import LOG_GRAPH, current_versions, log_entry, save_study
from .import_ import record_digest

__all__ = ["BulkInputError", "BulkReport", "Item", "ProgressLine", "bulk_import", "count_items", "few_collections", "fewer_collections_while",
           "read_items", "record_digest"]

#: Studies per write transaction: big enough that the per-transaction cost vanishes, small enough
#: that a batch (about 10 MB of N-Quads a hundred studies) costs little memory or lost work. Each
#: batch's live part goes through Oxigraph's bulk loader, whose files RocksDB then compacts into what
#: is there (a new study's keys fall all over the indexes, so each compaction rewrites much of them):
#: at 100 studies a batch that compaction was more than half the importing process's CPU, at 400 a
#: quarter of it (2,000 studies: 13 s of RocksDB's threads against 3 to 5 s); at 10,000 studies the
#: importing process took 16.2 ms of CPU a study at 400, 13.3 at 1,000.
BATCH = 1000
#: Records per task sent to a worker (the cost of a task round trip spread over several records).
CHUNK = 20
#: Chunks in flight per worker: enough to keep the workers busy while the parent writes a batch (a
#: batch's write takes seconds: with 4 chunks of 20 the workers waited for most of it). Two workers'
#: window is about a batch of prepared records (~120 kB each).
WINDOW = 25


class BulkInputError(StoreError):
    """The bulk input cannot be read at all (no such file, not a directory/JSONL/zip)."""


@dataclass(frozen=True)
class Item:
    """One record as read: where it is (file, line or member) and its bytes."""

    where: str
    text: bytes


@dataclass
class Prepared:
    """What a worker made of one record."""

    where: str
    nct: str | None = None
    digest: str | None = None
    nquads: bytes = b""
    problems: list[tuple[str, str]] = field(default_factory=list)
    skipped: bool = False  # the store's current version came from this very record
    row: StudyRow | None = None  # the study's search-index row, when the import keeps an index


@dataclass
class BulkReport:
    """What a bulk import did."""

    read: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    failed: list[tuple[str, str, str]] = field(default_factory=list)  # (where, JSON path, message)
    seconds: float = 0.0

    @property
    def written(self) -> int:
        return self.new + self.changed

    def rate(self) -> float:
        return self.read / self.seconds if self.seconds else 0.0


# -- reading the input, one record at a time ----------------------------------------------------
def _json_items(where: str, text: bytes) -> Iterator[Item]:
    """A .json file: one record, or an API v2 page (``{"studies": [...]}``) / a list of records."""
    stripped = text.lstrip()
    if stripped.startswith(b"["):
        try:
            records = json.loads(text)
        except ValueError:
            yield Item(where, text)
            return
        for i, r in enumerate(records):
            yield Item(f"{where} [{i}]", json.dumps(r).encode())
        return
    if b'"studies"' in text[:200]:
        try:
            page = json.loads(text)
        except ValueError:
            yield Item(where, text)
            return
        if isinstance(page, dict) and isinstance(page.get("studies"), list):
            for i, r in enumerate(page["studies"]):
                yield Item(f"{where} studies[{i}]", json.dumps(r).encode())
            return
    yield Item(where, text)


def _jsonl_items(where: str, lines: Iterable[bytes]) -> Iterator[Item]:
    for n, line in enumerate(lines, 1):
        if line.strip():
            yield Item(f"{where}:{n}", line)


def read_items(source: Path) -> Iterator[Item]:
    """The records of a directory (its ``*.json`` and ``*.jsonl`` files, sorted), a JSON Lines file,
    a ``.json`` file, or a zip of such files, each with where it came from."""
    if source.is_dir():
        for p in sorted(source.rglob("*")):
            if p.suffix.lower() in (".json", ".jsonl") and p.is_file():
                yield from read_items(p)
        return
    if not source.is_file():
        raise BulkInputError(f"no such file or directory: {source}")
    suffix = source.suffix.lower()
    if suffix == ".zip":
        try:
            with zipfile.ZipFile(source) as z:
                for name in sorted(z.namelist()):
                    where = f"{source}!{name}"
                    if name.lower().endswith(".jsonl"):
                        with z.open(name) as f:
                            yield from _jsonl_items(where, f)
                    elif name.lower().endswith(".json"):
                        yield from _json_items(where, z.read(name))
        except zipfile.BadZipFile as exc:
            raise BulkInputError(f"{source} is not a zip file: {exc}") from exc
    elif suffix in (".jsonl", ".ndjson"):
        with source.open("rb") as f:
            yield from _jsonl_items(str(source), f)
    elif suffix == ".json":
        yield from _json_items(str(source), source.read_bytes())
    else:
        raise BulkInputError(f"{source}: a bulk import reads a directory, a .jsonl, a .json or a .zip file")


def count_items(source: Path) -> int | None:
    """How many records the input holds, for the progress bar (a cheap pass: lines and names only)."""
    try:
        if source.is_dir():
            return sum(1 for p in source.rglob("*.json") if p.is_file()) or None
        if source.suffix.lower() in (".jsonl", ".ndjson"):
            with source.open("rb") as f:
                return sum(1 for line in f if line.strip())
    except OSError:
        return None
    return None


# -- the workers ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Registry:
    """What a worker needs from the registry, read once by the parent and handed to each worker: the
    enumerated individuals by code (the mapping), and for a store that keeps a search index the rows'
    context and the vocabulary (the rows)."""

    enums: dict[tuple[str, str], URIRef]
    rows: tuple[RowContext, Vocabulary] | None = None


_REGISTRY = Registry({})


@dataclass(frozen=True)
class Parsed:
    """A record read by the parent: JSON parsed and digested, so that one already imported unchanged
    is skipped there, without starting a worker for it (a re-run maps nothing)."""

    where: str
    record: Any = None
    digest: str | None = None
    nct: str | None = None
    problem: tuple[str, str] | None = None


def parse_item(item: Item) -> Parsed:
    try:
        record = json.loads(item.text)
    except (ValueError, UnicodeDecodeError) as exc:
        return Parsed(item.where, problem=("$", f"not JSON: {exc}"))
    except RecursionError:
        return Parsed(item.where, problem=("$", "JSON nested too deeply"))
    ident = record.get("protocolSection", {}).get("identificationModule", {}) if isinstance(record, dict) else {}
    nct = ident.get("nctId") if isinstance(ident, dict) else None
    return Parsed(item.where, record, record_digest(record), nct if isinstance(nct, str) else None)


def prepare(parsed: Parsed, registry: Registry) -> Prepared:
    """Validate and map one record to its graph's N-Quads and, when the registry keeps a search index,
    its index row (or say why it cannot be imported)."""
    from .import_ import check_record, study_to_graph

    out = Prepared(parsed.where, digest=parsed.digest)
    if parsed.problem is not None:
        out.problems.append(parsed.problem)
        return out
    problems = check_record(parsed.record)
    if problems:
        out.problems = [(p.path, p.message) for p in problems]
        return out
    out.nct = parsed.record["protocolSection"]["identificationModule"]["nctId"]
    g, problems = study_to_graph(parsed.record, registry.enums)
    if problems:
        out.problems = [(p.path, p.message) for p in problems]
        return out
    out.nquads = graph_nquads(g, study_graph_name(out.nct))
    if registry.rows is not None:
        out.row = record_row(g, out.nct, *registry.rows).serialized()
    return out


def few_collections() -> None:
    """Make the cyclic garbage collector of a process that does nothing but a bulk import (a mapping
    worker, the ``import --bulk`` command) rarely run, and never over what the process holds for good.

    Why: mapping a record allocates tens of thousands of objects (an rdflib graph, its terms, the
    row), and the parent a hundred thousand quads a batch; at Python's default thresholds the
    collector ran every 700 allocations and its full passes walked the registry, the modules and the
    spec each time: 1.6 of a worker's 12.4 ms a record, 0.35 ms a study in the parent. What is
    already there is frozen (never collected, so never walked), and a collection waits for 50,000
    new objects: garbage with cycles (an rdflib graph's) is still collected, a little later.
    Not for a library caller: the thresholds are the process's (a server's threads share them);
    a command run in a process that goes on afterwards uses :func:`fewer_collections_while`."""
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)


@contextmanager
def fewer_collections_while() -> Iterator[None]:
    """:func:`few_collections` for the ``with`` block, then the collector as it was (objects unfrozen,
    thresholds back): the ``import --bulk`` command may run inside a longer process (a test's runner)."""
    thresholds = gc.get_threshold()
    few_collections()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


def _init_worker(registry: Registry) -> None:
    global _REGISTRY
    _REGISTRY = registry
    few_collections()


def _prepare_chunk(chunk: list[Parsed]) -> list[Prepared]:
    return [prepare(p, _REGISTRY) for p in chunk]


def _prepared_in_order(items: Iterator[Item], jobs: int, registry: Registry | Callable[[], Registry],
                       known: dict[str, str | None]) -> Iterator[Prepared]:
    """Each record prepared, in input order, by ``jobs`` worker processes (this one when 0); records
    whose digest ``known`` holds for their study are passed on as skipped without being mapped.
    ``registry`` may be a function that reads it: called once, when the first record is to be mapped
    (a re-run of the same input reads nothing of the registry: on a remote engine that is most of
    its time)."""
    read = registry if callable(registry) else (lambda: registry)
    held: list[Registry] = []

    def the_registry() -> Registry:
        if not held:
            held.append(read())
        return held[0]

    pool: cf.ProcessPoolExecutor | None = None
    pending: deque[tuple[list[Prepared], cf.Future[list[Prepared]] | None]] = deque()
    chunk: list[Parsed] = []

    def send() -> None:
        nonlocal pool, chunk
        if jobs <= 0:
            pending.append(([prepare(p, the_registry()) for p in chunk], None))
        else:
            if pool is None:  # started on the first record to map: a re-run of the same input starts none
                # spawn, not fork: the parent holds the open store (RocksDB threads) a forked child must not inherit
                pool = cf.ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"),
                                              initializer=_init_worker, initargs=(the_registry(),))
            pending.append(([], pool.submit(_prepare_chunk, chunk)))
        chunk = []

    def drain(bound: int) -> Iterator[Prepared]:
        while len(pending) > bound:
            done, future = pending.popleft()
            yield from done if future is None else future.result()

    try:
        for item in items:
            parsed = parse_item(item)
            if parsed.nct is not None and known.get(parsed.nct) == parsed.digest:
                entry = Prepared(parsed.where, parsed.nct, parsed.digest, skipped=True)
                if chunk or pending:
                    if chunk:
                        send()
                    pending.append(([entry], None))
                else:
                    yield entry
            else:
                chunk.append(parsed)
                if len(chunk) >= CHUNK:
                    send()
            yield from drain(max(jobs, 1) * WINDOW)  # a bounded window in flight: memory does not grow with the input
        if chunk:
            send()
        yield from drain(0)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def graph_nquads(g: Graph, graph: str) -> bytes:
    """The triples of ``g`` as N-Quads of ``graph``, written here rather than by rdflib's N-Triples
    serializer then tagged line by line: that one checked and wrote each IRI again at each of its
    uses (a study's few hundred IRIs, ~1,300 uses) and made each line twice (1.45 ms of a worker's
    11 ms a record; this: ~0.5). Literals are escaped as N-Triples says (ECHAR: backslash, quote,
    line feed, carriage return), as rdflib does; an IRI is checked by rdflib (``n3``) once."""
    tag = f" <{graph}> .\n"
    iris: dict[Any, str] = {}

    def term(t: Any) -> str:
        known = iris.get(t)
        if known is not None:
            return known
        if isinstance(t, Literal):
            text = '"' + t.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"').replace("\r", "\\r") + '"'
            if t.language:
                return f"{text}@{t.language}"
            return f"{text}^^<{t.datatype}>" if t.datatype else text
        known = iris[t] = t.n3()
        return known

    return "".join([f"{term(s)} {term(p)} {term(o)}{tag}" for s, p, o in g]).encode("utf-8")


def _nquads(graph: str, ntriples: bytes) -> bytes:
    """N-Triples as N-Quads of ``graph`` (N-Triples is line based: each line ends with " .")."""
    tag = f"<{graph}> .\n".encode()
    return b"".join(line[:-2] + tag for line in ntriples.splitlines(keepends=True) if line.strip())


# -- the parent: decide and write -----------------------------------------------------------------
Progress = Callable[[BulkReport], None]


def bulk_import(store: GraphStore, sources: list[Path], *, jobs: int | None = None, batch: int = BATCH,
                agent: str = "acse-kg import --bulk", replace_curated: bool = False,
                on_failure: Callable[[str, str, str], None] | None = None,
                progress: Progress | None = None) -> BulkReport:
    """Import every record of ``sources``; see the module docstring for what is guaranteed."""
    from .import_ import enum_index

    report = BulkReport()
    started = time.monotonic()
    search = _search_index(store)

    def registry() -> Registry:
        return Registry(enum_index(store),
                        (RowContext.load(store), read_vocabulary(store)) if search is not None else None)

    versions = current_versions(store)
    live = {g[len(STUDY_GRAPH_PREFIX):] for g in store.live_graphs() if g.startswith(STUDY_GRAPH_PREFIX)}
    known: dict[str, str | None] = {nct: d for nct, (_, d) in versions.items() if d and nct in live}
    jobs = max(1, (os.cpu_count() or 1)) if jobs is None else jobs
    now = datetime.now(UTC)
    note = "bulk import"
    pending: list[bytes] = []  # the batch's study graphs and their log entries (N-Quads)
    pending_ncts: dict[str, StudyRow | None] = {}  # the batch's studies -> their index rows
    to_index: dict[str, tuple[StudyRow, str]] = {}  # written, not yet in the index -> (row, logged version)

    def index_written(last: bool = False) -> None:
        if search is not None and to_index:
            search.put(list(to_index.values()))
        to_index.clear()
        if search is not None and last:  # what no batch wrote: the bundle's studies, a killed run's last batch
            search.sync()

    def fail(where: str, path: str, message: str) -> None:
        report.failed.append((where, path, message))
        if on_failure is not None:
            on_failure(where, path, message)

    def flush() -> None:
        if pending:
            store.write([AddQuads(b"".join(pending))])
            live.update(pending_ncts)
            report.new += len(pending_ncts)  # counted once written: what a progress line says is in the store
            to_index.update((n, (row, str(versions[n][0]))) for n, row in pending_ncts.items() if row is not None)
            pending.clear()
            pending_ncts.clear()
        if len(to_index) >= batch:
            index_written()

    def tick() -> None:
        report.seconds = time.monotonic() - started
        if progress is not None:
            progress(report)

    def items() -> Iterator[Item]:
        for s in sources:
            yield from read_items(s)

    for p in _prepared_in_order(items(), jobs, registry, known):
        if report.read and report.read % batch == 0:
            tick()
        report.read += 1
        if p.problems:
            for path, message in p.problems:
                fail(p.where, path, message)
            continue
        assert p.nct is not None
        if p.skipped or known.get(p.nct) == p.digest:
            report.unchanged += 1
            continue
        if p.nct in pending_ncts:  # the same study twice in the input: the later record is a new version
            flush()
        if p.nct not in live and p.nct not in versions:
            pending.append(p.nquads)
            pending.append(_nquads(LOG_GRAPH, log_entry(p.nct, 1, None, agent, note, now, p.digest)))
            pending_ncts[p.nct] = p.row
            versions[p.nct] = (1, p.digest)
            known[p.nct] = p.digest
            if len(pending_ncts) >= batch:
                flush()
            continue
        if not _write_version(store, p, replace_curated, agent, note, fail):
            continue
        versions[p.nct] = (versions.get(p.nct, (0, None))[0] + 1, p.digest)
        known[p.nct] = p.digest
        live.add(p.nct)
        report.changed += 1
        if p.row is not None:
            to_index[p.nct] = (p.row, str(versions[p.nct][0]))
    flush()
    index_written(last=True)
    tick()
    return report


def _search_index(store: GraphStore) -> Any:
    """The store's search index when it has a file that outlives this process (the server reads it):
    beside a store directory, or, for a remote engine, the endpoint's file in the registry's data
    directory, tied to the dataset's identity (:func:`~acse_kg.search_index.index_path`). None for a
    memory store, or a remote one without an identity, whose index lives in the process that searches
    and reads what it lacks on its first search."""
    from ..search_index import index_for

    index = index_for(store, sync=False)
    return index if index.path is not None else None


def _write_version(store: GraphStore, p: Prepared, replace_curated: bool, agent: str, note: str,
                   fail: Callable[[str, str, str], None]) -> bool:
    """A record of a study the store holds: a new version through :func:`save_study` (history kept).
    False when nothing was written (curated and not to be replaced, or the same content)."""
    assert p.nct is not None
    graph = study_graph_name(p.nct)
    if not replace_curated and store.ask(
        "ASK { GRAPH ?g { ?s acse:hasCohort|acse:hasCriterion ?x } }", {"g": URIRef(graph)}
    ):
        fail(p.where, "$.protocolSection.identificationModule.nctId",
             f"{p.nct} is curated in this registry (cohorts / structured criteria) that API v2 JSON cannot "
             "carry; importing would replace them (use --replace-curated to do so anyway)")
        return False
    ntriples = b"".join(line.rsplit(b" <", 1)[0] + b" .\n" for line in p.nquads.splitlines())
    saved = save_study(store, p.nct, ntriples, "ntriples", agent=agent, note=note, digest=p.digest)
    return not saved.unchanged


# -- progress on the terminal ---------------------------------------------------------------------
class ProgressLine:
    """A tqdm bar on stderr when it is a terminal; otherwise one line per written batch (logs, tests)."""

    def __init__(self, total: int | None, stream: io.TextIOBase | Any = None) -> None:
        self.stream = stream or sys.stderr
        self.bar: Any = None
        self.done = 0
        if getattr(self.stream, "isatty", lambda: False)():
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit=" studies", file=self.stream, dynamic_ncols=True, smoothing=0.1)

    def __call__(self, report: BulkReport) -> None:
        if self.bar is not None:
            self.bar.update(report.read - self.done)
            self.bar.set_postfix(new=report.new, changed=report.changed, unchanged=report.unchanged,
                                 failed=len({w for w, _, _ in report.failed}), refresh=False)
        else:
            print(f"acse-kg: bulk: {report.read} records read, {report.written} written, {report.unchanged} "
                  f"unchanged, {len({w for w, _, _ in report.failed})} refused ({report.rate():.1f} studies/s)",
                  file=self.stream, flush=True)
        self.done = report.read

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
