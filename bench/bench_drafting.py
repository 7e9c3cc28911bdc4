"""Benchmark: drafting measured against our own curation, and its speed.

    python -m bench drafting                 (or: python bench/bench_drafting.py [--record FILE --nct NCT --store SPEC])

1. Quality: the ClinicalTrials.gov export of NCT02034981 (``acse-kg export
   NCT02034981 --format ctgov``: text only, as ClinicalTrials.gov has it) is
   drafted and compared, criterion by criterion (variable, comparator,
   threshold, unit, condition), with the hand-curated study read through the
   study model (acse_kg.drafting.compare). Precision is over the drafted items
   whose bullet the curator structured; recall over every atom of the curated
   computable rules. Any pair runs: ``--record`` an API v2 file, ``--nct`` the
   curated study in ``--store``. Targets: precision >= 95 %, recall >= 85 %.
2. Speed: the three reference records (the two API v2 examples and the
   NCT02034981 export) drafted again and again in one process; target
   >= 200 records/s on one core.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from acse_kg.ctgov.export import export_study
from acse_kg.drafting import draft
from acse_kg.drafting.compare import compare
from acse_kg.model import read_study
from acse_kg.paths import ROOT
from acse_kg.store import open_store

REF = ROOT / "tests" / "data" / "shared" / "reference" / "ctgov"  # the repository's copies (ORIGIN.md there)
PRECISION_TARGET, RECALL_TARGET, SPEED_TARGET = 0.95, 0.85, 200.0


def quality(record: dict, study_nct: str, store_spec: str) -> tuple[float, float]:
    st = open_store(store_spec)
    try:
        study = read_study(st, study_nct)
    finally:
        st.close()
    result = compare(draft(record), study)
    print(f"curated atoms: {len(result.atoms)}; drafted items judged: {len(result.judged)} "
          f"(unjudged, from bullets the curator left as text or from structured fields: {len(result.unjudged)})")
    print(f"precision {result.precision:.1%} ({len(result.matched_items)}/{len(result.judged)}), "
          f"recall {result.recall:.1%} ({len(result.atoms) - len(result.missed)}/{len(result.atoms)})")
    for a in result.missed:
        print(f"  missed: {a.describe()}")
    for i in result.wrong:
        print(f"  wrong:  [{i['kind'][:3]}] {i['variable']} {i['comparator']} {i['value']} {i['unit']} "
              f"cond={i['condition']!r} « {i['quote']} »")
    return result.precision, result.recall


def speed(records: list[dict], seconds: float = 5.0) -> float:
    """Records drafted per second of this process's CPU time (one core), and per second of wall time.

    The CPU rate is the one compared with the target: the machine is shared, and wall time counts
    the other jobs' turns on the cores too; both are printed, with the load average.
    """
    for r in records:  # warm: the lexicon's patterns are compiled once per process
        draft(r)
    n, start, cpu = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - start < seconds:
        for r in records:
            draft(r)
        n += len(records)
    wall_rate = n / (time.perf_counter() - start)
    rate = n / (time.process_time() - cpu)
    bullets = sum(len(draft(r).bullets) for r in records)
    print(f"speed: {rate:.0f} records/s of CPU time on one core, {wall_rate:.0f} records/s wall "
          f"({n} drafts of {len(records)} records, {bullets} bullets per round; target >= {SPEED_TARGET:.0f}; "
          f"load average now {os.getloadavg()[0]:.2f})")
    return rate


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--record", type=Path, help="an API v2 record to draft (default: the export of --nct from --store)")
    ap.add_argument("--nct", default="NCT02034981", help="the curated study to compare with")
    ap.add_argument("--store", default="memory", help="the store holding the curated study (default: the bundle in memory)")
    ap.add_argument("--seconds", type=float, default=5.0)
    args = ap.parse_args(argv if argv is not None else [])
    print(f"python {platform.python_version()}, pid {os.getpid()}, load average {os.getloadavg()[0]:.2f}")
    st = open_store(args.store)
    try:
        export = export_study(st, args.nct, full_text=True)
    finally:
        st.close()
    record = json.loads(args.record.read_text(encoding="utf-8")) if args.record else export
    p, r = quality(record, args.nct, args.store)
    refs = [json.loads(f.read_text(encoding="utf-8")) for f in sorted(REF.glob("*.json"))] + [export]
    rate = speed(refs, args.seconds)
    ok = p >= PRECISION_TARGET and r >= RECALL_TARGET and rate >= SPEED_TARGET
    print("targets met" if ok else "targets NOT met")


if __name__ == "__main__":
    main(sys.argv[1:])
