"""Benchmark: the record check (shapes/record_check.ttl) on Oxigraph against pySHACL, in one run.

    python -m bench ctgov            (or: python bench/bench_ctgov.py [--cap 60])

1. A flawed variant of the French reference record (enrolment ACTUAL while not
   yet recruiting, completion before primary completion): the check's shapes
   run by acse_kg.record_check (SHACL-SPARQL semantics executed by Oxigraph)
   and by pySHACL, the reference implementation; the findings of the two are
   compared (rule + focus node) and the median times and their ratio printed.
2. The curated record NCT02034981 (criteria with nested expressions, cohorts,
   the OncoTree walk): the same, with pySHACL given at most ``--cap`` seconds
   in a child process; when it does not finish the ratio is a lower bound.
3. Import and export of the 1.5 MB reference record NCT02513394 (absolute times).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from acse_kg.ctgov.export import export_study
from acse_kg.ctgov.import_ import import_study
from acse_kg.loader import study_graph_name
from acse_kg.paths import ROOT
from acse_kg.record_check import _background, _rule_of, _shapes, check_graph
from acse_kg.store import open_store

#: What the pySHACL child sends back: its seconds and its (rule, focus) findings.
Findings = tuple[float, list[tuple[str, str]]]

REF = ROOT / "tests" / "data" / "shared" / "reference" / "ctgov"  # the repository's copies (ORIGIN.md there)


def _median(fn, n: int = 5) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _pyshacl_findings(nt: bytes, out: mp.Queue[Findings]) -> None:
    import pyshacl
    import rdflib
    from rdflib import RDF
    from rdflib.namespace import SH

    shapes = _shapes()
    data = rdflib.Graph().parse(data=nt, format="nt")
    data += shapes
    t = time.perf_counter()
    _c, results, text = pyshacl.validate(data, shacl_graph=shapes, advanced=True, inference="none", allow_warnings=True)
    seconds = time.perf_counter() - t
    if not isinstance(results, rdflib.Graph):  # pySHACL refused the shapes themselves (e.g. SHACL-SPARQL rules broken)
        out.put((seconds, [("pySHACL refused the shapes", str(text).strip())]))
        return
    found = sorted({(_rule_of(shapes, shape), str(results.value(r, SH.focusNode)))
                    for r in results.subjects(RDF.type, SH.ValidationResult)
                    if (shape := results.value(r, SH.sourceShape)) is not None})  # every result names its shape
    out.put((seconds, found))


def _reference(study, background, cap: float) -> tuple[float | None, list[tuple[str, str]] | None]:
    import rdflib

    g = rdflib.Graph()
    g += background
    g += study
    q: mp.Queue[Findings] = mp.Queue()
    p = mp.Process(target=_pyshacl_findings, args=(g.serialize(format="nt", encoding="utf-8"), q))
    p.start()
    p.join(cap)
    if p.is_alive():
        p.terminate()
        p.join()
        return None, None
    seconds, found = q.get()
    return seconds, found


def _case(name: str, store, nct: str, cap: float) -> None:
    study = store.graph(study_graph_name(nct))
    background = _background(store, nct)
    ours = sorted({(f.rule, f.focus) for f in check_graph(study, background)})
    t_ours = _median(lambda: check_graph(study, background))
    t_ref, ref = _reference(study, background, cap)
    print(f"{name}: {len(study)} triples (+{len(background)} background); findings: {len(ours)}")
    print(f"  acse_kg.record_check (Oxigraph): median {t_ours * 1000:.1f} ms over 5 runs")
    if t_ref is None:
        print(f"  pySHACL: did not finish within {cap:.0f} s -> ratio > {cap / t_ours:.0f}x")
    else:
        print(f"  pySHACL: {t_ref * 1000:.1f} ms (one run) -> ratio {t_ref / t_ours:.1f}x; "
              f"same findings: {ref == ours}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cap", type=float, default=60.0, help="seconds pySHACL may take on the curated record")
    args = ap.parse_args(argv if argv is not None else [])
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    store = open_store("memory")
    flawed = json.loads((REF / "example_v2_NCT06171568_APHP_french.json").read_text(encoding="utf-8"))
    flawed["protocolSection"]["designModule"]["enrollmentInfo"]["type"] = "ACTUAL"
    flawed["protocolSection"]["statusModule"]["completionDateStruct"]["date"] = "2024-01-01"
    import_study(store, flawed)
    _case("flawed NCT06171568", store, "NCT06171568", args.cap)
    _case("curated NCT02034981", store, "NCT02034981", args.cap)
    big = json.loads((REF / "example_v2_NCT02513394.json").read_text(encoding="utf-8"))
    runs = iter(range(100))

    def new_version() -> None:  # each run a changed record, so each one stores a version (a same record is a no-op)
        big["protocolSection"]["identificationModule"]["acronym"] = f"run-{next(runs)}"
        assert not import_study(store, big).unchanged

    t_imp = _median(new_version, 3)
    t_same = _median(lambda: import_study(store, big), 3)
    t_exp = _median(lambda: export_study(store, "NCT02513394"), 3)
    print(f"NCT02513394 (1.5 MB JSON, 437 locations): import median {t_imp * 1000:.0f} ms (a new version each), "
          f"re-import of the same record {t_same * 1000:.0f} ms (no version), "
          f"export median {t_exp * 1000:.0f} ms (3 runs each)")


if __name__ == "__main__":
    main(sys.argv[1:])
