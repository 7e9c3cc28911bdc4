"""Benchmark: how long a study page and the static site take, against export_study in the same run.

    python -m bench pages        (ACSE_KG_BENCH_PAGES_RUNS=N to change the number of runs, default 30)

The baseline is :func:`acse_kg.ctgov.export.export_study` alone, the
ClinicalTrials.gov JSON every study page starts from; the ratios say what the
page adds (its own SPARQL for cohorts, criteria, dosing and curation, then
Jinja2). Also one cohort page, the page over HTTP through the app in process,
and ``write_site`` (study, 23 cohorts, index, stylesheet). Median and p95 of
wall-clock time, in-memory store, one core.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

NCT = "NCT02034981"


def _timed(fn: Callable[[], object], runs: int) -> tuple[float, float]:
    fn()  # warm-up: template compilation, caches
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.95))]


def main() -> None:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from acse_kg.api import pages
    from acse_kg.ctgov.export import export_study
    from acse_kg.pages import cohort_page, study_page, write_site
    from acse_kg.pages.graph import study_graph
    from acse_kg.store import open_store

    runs = int(os.environ.get("ACSE_KG_BENCH_PAGES_RUNS", "30"))
    store = open_store("memory")
    app = FastAPI()
    app.state.store = store
    app.include_router(pages.router)
    client = TestClient(app)
    out = Path(tempfile.mkdtemp(prefix="acse-kg-site-"))

    cases: list[tuple[str, Callable[[], object]]] = [
        ("export_study (baseline)", lambda: export_study(store, NCT)),
        ("registry SPARQL (study_graph)", lambda: study_graph(store, NCT)),
        ("study page (render)", lambda: study_page(store, NCT)),
        ("cohort page 5 (render)", lambda: cohort_page(store, NCT, 5)),
        ("GET /study/NCT02034981 (in-process app)", lambda: client.get(f"/study/{NCT}")),
        ("static site (26 files)", lambda: write_site(store, [NCT], out)),
    ]
    print(f"{runs} runs each, in-memory store ({len(store)} quads)")
    base = None
    for name, fn in cases:
        med, p95 = _timed(fn, runs)
        base = base or med
        print(f"{name:42s} median {med * 1000:8.1f} ms   p95 {p95 * 1000:8.1f} ms   x{med / base:5.1f} baseline")
    size = len(study_page(store, NCT).encode())
    print(f"study page size: {size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
