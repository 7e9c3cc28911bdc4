"""Benchmark: ``query.cond=lung`` (with ``countTotal``) through the search index (SQLite FTS5) against the
SPARQL path, at 1,000 and 10,000 studies.

    python -m bench search [--studies 1000,10000] [--runs 50] [--sparql-runs 3] [--sparql-cap 60]

The studies are made from the French reference record (``tests/data/shared/reference/ctgov``, a small
real API v2 record) imported under :data:`TEMPLATES` new NCT numbers, each with one condition of
:data:`CONDITIONS` (a fifth of them lung conditions), then copied under fresh NCT numbers up to N (the
graphs written with their NCT numbers renamed, in batches of one transaction each). The index rows
of the templates are read the ordinary way (:func:`acse_kg.search_index.read_row`, from the export and
the model) and cloned likewise, since reading 10,000 studies through the export would take the
benchmark's whole budget; the time per study of the ordinary read is printed beside.

The SPARQL path is :func:`acse_kg.ctgov.query.matching_ncts` on the embedded store (what the server
runs in its query pool, without the pool's process hop); at most ``--sparql-runs`` runs, and none after
one that took longer than ``--sparql-cap`` seconds (each run in a forked child, stopped at the cap).
"""

from __future__ import annotations

import argparse
import copy
import json
import multiprocessing as mp
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from acse_kg.ctgov.import_ import import_study
from acse_kg.ctgov.query import matching_ncts, parse_params
from acse_kg.loader import study_graph_name
from acse_kg.paths import ROOT
from acse_kg.search_index import RowContext, SearchIndex, StudyRow, read_row
from acse_kg.store import GraphStore, ReplaceGraph, open_store

RECORD = ROOT / "tests" / "data" / "shared" / "reference" / "ctgov" / "example_v2_NCT06171568_APHP_french.json"
CONDITIONS = ["Lung Cancer", "Breast Cancer", "Colorectal Cancer", "Melanoma", "Prostate Cancer",
              "Non-small Cell Lung Cancer", "Glioblastoma", "Pancreatic Cancer", "Ovarian Cancer", "Sarcoma"]
TEMPLATES = 20
QUERY = {"query.cond": "lung", "countTotal": "true"}


def _nct(i: int) -> str:
    return f"NCT9{i:07d}"


def _percentiles(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def _clone(row: StudyRow, old: str, new: str) -> StudyRow:
    card = copy.deepcopy(row.card)
    card["nct"] = new
    record = json.loads(json.dumps(row.record).replace(old, new))
    return StudyRow(new, {k: v.replace(old, new) for k, v in row.texts.items()},
                    [(p, v.replace(old, new), d, n) for p, v, d, n in row.pieces], row.oncotree, card, record)


def _sparql_child(store: GraphStore, out: mp.Queue[tuple[float, int]]) -> None:
    t0 = time.perf_counter()
    found = matching_ncts(store, parse_params(QUERY))
    out.put((time.perf_counter() - t0, len(found)))


def _sparql_run(store: GraphStore, cap: float) -> tuple[float | None, int | None]:
    """One SPARQL search in a forked child (it shares the memory store), stopped after ``cap`` seconds."""
    ctx = mp.get_context("fork")
    out: mp.Queue[tuple[float, int]] = ctx.Queue()
    child = ctx.Process(target=_sparql_child, args=(store, out))
    child.start()
    child.join(cap)
    if child.is_alive():
        child.terminate()
        child.join()
        return None, None
    seconds, found = out.get()
    return seconds, found


def run(n: int, runs: int, sparql_runs: int, cap: float) -> None:
    store = open_store("memory")
    base = json.loads(RECORD.read_text(encoding="utf-8"))
    old = base["protocolSection"]["identificationModule"]["nctId"]
    templates = []
    for j in range(TEMPLATES):
        record = copy.deepcopy(base)
        record["protocolSection"]["identificationModule"]["nctId"] = _nct(j)
        record["protocolSection"]["conditionsModule"]["conditions"] = [CONDITIONS[j % len(CONDITIONS)]]
        import_study(store, record)
        templates.append(_nct(j))
    del old
    nts = {t: store.graph(study_graph_name(t)).serialize(format="nt", encoding="utf-8").decode() for t in templates}
    started = time.perf_counter()
    batch = []
    for i in range(TEMPLATES, n):
        t = templates[i % TEMPLATES]
        batch.append(ReplaceGraph(study_graph_name(_nct(i)), nts[t].replace(t, _nct(i)), "ntriples"))
        if len(batch) == 500:
            store.write(batch)
            batch = []
    if batch:
        store.write(batch)
    load_s = time.perf_counter() - started

    context = RowContext.load(store)
    started = time.perf_counter()
    rows = {t: read_row(store, t, context) for t in templates}
    read_each = (time.perf_counter() - started) / len(templates)
    index = SearchIndex(store, None)
    started = time.perf_counter()
    index.db.execute("BEGIN")
    for i in range(n):
        t = templates[i % TEMPLATES]
        index._write(rows[t] if i < TEMPLATES else _clone(rows[t], t, _nct(i)), "0")
    index.db.execute("COMMIT")
    write_s = time.perf_counter() - started
    index.sync()  # the fingerprints agree: nothing is read again
    studies = index.count()  # the bundled study too, which the sync above added

    q = parse_params(QUERY)
    times, page = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        page = index.search(q)
        times.append(time.perf_counter() - t0)
    p50, p95 = _percentiles(times)
    assert page is not None
    print(f"{n:>6} generated studies ({studies} indexed with the bundled one): load {load_s:.1f} s; index rows written "
          f"{n / write_s:.0f}/s (ordinary read of one study {read_each * 1000:.0f} ms)")
    print(f"{'':>6} index  query.cond=lung countTotal: p50 {p50 * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms "
          f"({runs} runs), totalCount {page.total}")

    sparql_times: list[float] = []
    found: int | None = None
    for _ in range(sparql_runs):
        seconds, found = _sparql_run(store, cap)
        if seconds is None:
            print(f"{'':>6} SPARQL query.cond=lung: stopped after {cap:.0f} s without an answer")
            break
        sparql_times.append(seconds)
        if seconds > cap:
            break
    if sparql_times:
        sp50, sp95 = _percentiles(sparql_times)
        print(f"{'':>6} SPARQL query.cond=lung: p50 {sp50 * 1000:.0f} ms, p95 {sp95 * 1000:.0f} ms "
              f"({len(sparql_times)} runs), {found} found (substring of conditions: no OncoTree)")
    index.close()
    store.close()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--studies", default="1000,10000")
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--sparql-runs", type=int, default=3)
    ap.add_argument("--sparql-cap", type=float, default=60.0)
    args = ap.parse_args(argv if argv is not None else sys.argv[1:])
    print(f"uptime: {os.popen('uptime').read().strip()}")
    for n in (int(x) for x in args.studies.split(",")):
        run(n, args.runs, args.sparql_runs, args.sparql_cap)


if __name__ == "__main__":
    main()
