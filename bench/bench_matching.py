"""Benchmark: batch matching and POST /match against pyshacl, the reference semantics, in one run.

    python bench/bench_matching.py [--profiles 10000] [--shacl 300] [--requests 1000]
    python -m bench matching     # options from BENCH_MATCHING_PROFILES, _SHACL, _REQUESTS
    python -m bench matching --trials 1,100,1000 [--profiles 10000]   # matching across a registry
    python -m bench matching --trials 1,1000 --acse-only   # AcSé's copies alone (earlier figures)

With ``--trials``: at 1, the bundled AcSé alone (the single-trial rate); above 1,
the two real structured trials, AcSé and CAPTUR (imported from its CTML, as
``acse-kg import`` does), plus varied copies of both in turn (acse_kg.synthetic:
new NCT numbers, cohorts' pathologies and genes drawn from OncoTree and a pool
of 50 cancer genes, statuses varied) up to N studies; the same profiles go
through ``acse-kg match --all-trials --batch``'s code path on one core, and the
rate at each N is printed with its ratio to the rate at the first N, measured
in the same run (target: at 1,000 trials at least half the single-trial rate),
and with the CPU time of a profile over its trial results: with CAPTUR copied,
a profile enters about a hundred trials at 1,000 (a copy of CAPTUR names ~31 of
the pool's 50 genes across its 13 arms), against fewer than one at 1.
The registry's build time is printed apart.

The batch measures (in process, and the command) and pyshacl run pinned to one
CPU core (sched_setaffinity), so "one core" in the target is what is measured;
the HTTP server and its client are not pinned.

1. Generates a reproducible set of tumor profiles (seeded; the value pools sit
   on and around every threshold, a third of the data missing at random, the
   diagnoses and alterations spread over every cohort) as JSON lines.
2. Batch, end to end on one core: read the JSON lines, validate, decide every
   criterion of every candidate cohort, write one result line each — the code
   path of ``acse-kg match --batch`` (the matcher is built once beforehand; its
   build time is printed apart). Also the whole command ``acse-kg match --batch
   FILE --out FILE --store memory`` as a subprocess on one core, start-up,
   bundle load and UCUM registry included (twice: the first run may fill the
   UCUM definition cache).
3. The reference: the same profiles through pyshacl with shapes/eligibility.ttl
   (a sample, since it is slow), many profiles per data graph; the statuses of
   the two paths are compared criterion by criterion, and the ratio printed.
   Then the first 2 000 profiles through pyshacl one criterion at a time, on
   the distinct combinations of the fields its shapes read, for equivalence
   at scale (not a speed baseline).
4. POST /match over loopback: ``acse-kg serve`` in its own process, one
   keep-alive client, median and p95 latency.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_scale import CAPTUR, STRUCTURED_SOURCES  # noqa: E402  (the two real structured trials)

DIAGNOSES = ["LUAD", "NSCLC", "ALCL", "GB", "COAD", "NBL", "STAD", "BLCA", "NCIT:C2926", "PRCC", "CCRCC",
             "IMT", "ERMS", "HCC", "BRCA", "CHOL", "THAP", "THPA", "HGSOC", "PAAD"]
ALTERATIONS = [("ALK", "translocation"), ("ALK", "fusion"), ("ALK", "overexpression"), ("ALK", "amplification"),
               ("ALK", "mutation"), ("MET", "amplification"), ("MET", "mutation"), ("MET", "overexpression"),
               ("RON", "mutation"), ("ROS1", "rearrangement"), ("AXL", "amplification"), ("EGFR", "mutation")]
NUMERIC: dict[str, list[Any]] = {
    "labs.anc": [0.5, 0.99, 1.0, 1.8, 4.0], "labs.platelets": [40, 49, 50, 74, 75, 99, 100, 210],
    "labs.hemoglobin": [7.9, 8.0, 11.2, 14.0], "labs.creatinine_clearance": [49.9, 50, 85],
    "labs.bilirubin_uln": [0.8, 1.5, 1.51, 3.0], "labs.ast_uln": [1.1, 3.0, 3.01, 5.0, 5.01],
    "labs.alt_uln": [0.9, 3.0, 3.01, 5.0, 5.01], "performance.ecog": [0, 1, 2, 3],
    "performance.karnofsky": [40, 60, 90], "performance.lansky": [40, 60],
    "qtcf_ms": [420, 470, 471], "heart_rate_bpm": [45, 46, 72], "life_expectancy_months": [2, 3, 6, 12],
    "labs.calcium": ["normal", "abnormal"], "labs.magnesium": ["normal", "abnormal"],
    "labs.potassium": ["normal", "abnormal"], "measurable_disease": [True, False],
}
FLAGS = ["prior_crizotinib", "cns_disease", "liver_metastasis", "advanced_fibrosis", "gilbert_syndrome",
         "bone_marrow_involvement", "congenital_long_qt", "congestive_heart_failure",
         "recent_cardiovascular_event", "hiv_or_hepatitis"]


def make_profiles(n: int, seed: int = 20261124) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        p: dict[str, Any] = {
            "id": f"P-{i:06d}",
            "age_years": rng.choice([0.5, 3, 8, 11, 15, 17.5, 18, 25, 40, 54, 67, 80]),
            "sex": rng.choice(["female", "male"]),
            "height_cm": rng.choice([110, 140, 165, 180]), "weight_kg": rng.choice([20, 35, 60, 85]),
            "diagnosis": rng.choice(DIAGNOSES),
            "alterations": [{"gene": g, "type": t} for g, t in rng.sample(ALTERATIONS, rng.randint(1, 3))],
        }
        for path, pool in NUMERIC.items():
            if rng.random() < 0.67:
                head, _, tail = path.partition(".")
                if tail:
                    p.setdefault(head, {})[tail] = rng.choice(pool)
                else:
                    p[head] = rng.choice(pool)
        hist = {f: rng.random() < 0.1 for f in FLAGS if rng.random() < 0.67}
        if hist:
            p["history"] = hist
        if rng.random() < 0.05:
            p["labs"] = {**p.get("labs", {}), "hemoglobin": {"value": rng.choice([75, 112]), "unit": "g/L"}}
        out.append(p)
    return out


def bench_batch(matcher: Any, src: Path, dst: Path) -> float:
    from acse_kg.commands.match_cmds import run_batch

    # The previous run's output is removed before the clock starts: truncating it when opening is the
    # file system freeing its pages (0.17 s for the 473 MB of 10,000 profiles at 1,000 trials), not matching.
    dst.unlink(missing_ok=True)
    t = time.perf_counter()
    with src.open("rb") as fin, dst.open("wb") as fout:
        done, failed = run_batch(matcher, fin, fout, progress=False)
    dt = time.perf_counter() - t
    assert failed == 0, f"{failed} profiles failed validation"
    return done / dt


def one_core() -> set[int] | None:
    """The first CPU this process may run on, as an affinity set (None where affinity is not supported)."""
    if not hasattr(os, "sched_getaffinity"):
        return None
    return {min(os.sched_getaffinity(0))}


def bench_cli(src: Path, dst: Path, n: int, core: set[int] | None) -> float:
    def pin() -> None:
        if core is not None:
            os.sched_setaffinity(0, core)

    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "acse_kg.cli", "match", "--batch", str(src), "--out", str(dst),
                    "--store", "memory"], check=True, cwd=ROOT, preexec_fn=pin)
    return n / (time.perf_counter() - t)


def bench_shacl(matcher: Any, profiles: list[Any], per_call: int = 100) -> tuple[float, int, int]:
    from acse_kg.matching import shacl

    shapes = shacl.load_shapes()
    mismatches = compared = 0
    t = time.perf_counter()
    ref: dict[str, dict[str, str]] = {}
    for i in range(0, len(profiles), per_call):
        ref.update(shacl.reference_statuses(shacl.data_graph(matcher, profiles[i:i + per_call]), shapes))
    rate = len(profiles) / (time.perf_counter() - t)
    for p in profiles:
        fast = matcher.statuses(p)
        compared += len(fast)
        mismatches += sum(fast[k] != ref[p.id][k] for k in fast)
    return rate, compared, mismatches


def bench_projected(matcher: Any, profiles: list[Any]) -> tuple[float, int, int]:
    """pyshacl per criterion on distinct projections: equivalence on many more profiles in the same run."""
    from acse_kg.matching import shacl

    shapes = shacl.load_shapes()
    t = time.perf_counter()
    ref = shacl.projected_reference_statuses(matcher, profiles, shapes)
    dt = time.perf_counter() - t
    compared = mismatches = 0
    for p in profiles:
        fast = matcher.statuses(p)
        compared += len(fast)
        mismatches += sum(fast[k] != ref[p.id][k] for k in fast)
    return dt, compared, mismatches


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bench_http(bodies: list[bytes], requests: int) -> tuple[float, float]:
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    server = subprocess.Popen(
        [sys.executable, "-m", "acse_kg.cli", "serve", "--host", "127.0.0.1", "--port", str(port), "--store", "memory"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 60
        while True:
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                c.request("POST", "/match", body=bodies[0], headers={"content-type": "application/json"})
                r = c.getresponse()
                r.read()
                if r.status == 200:
                    break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.2)
        lat = []
        for i in range(requests + 50):
            t = time.perf_counter()
            c.request("POST", "/match", body=bodies[i % len(bodies)], headers={"content-type": "application/json"})
            r = c.getresponse()
            r.read()
            if i >= 50:  # warm-up excluded
                lat.append(time.perf_counter() - t)
            assert r.status == 200, r.status
        lat.sort()
        return statistics.median(lat) * 1000, lat[int(len(lat) * 0.95)] * 1000
    finally:
        server.terminate()
        server.wait(10)


def real_trials(store: Any, n: int, acse_only: bool = False) -> list[str]:
    """The real structured trials a registry of ``n`` is made from: the bundled AcSé, and above one trial
    CAPTUR too, imported from its CTML into ``store`` when it is not there (its copies carry CTML's rule
    cohorts, reached by a gene alone, which AcSé's copies do not). ``acse_only``: AcSé's copies alone,
    the registry of the figures before CAPTUR was copied too (kept to compare code versions with them)."""
    from acse_kg.ctml.importer import import_ctml, read_document
    from acse_kg.model import structured_studies

    acse, captur = STRUCTURED_SOURCES
    if n == 1 or acse_only:
        return [acse]
    if captur not in structured_studies(store):
        import_ctml(store, read_document(CAPTUR))
    return [acse, captur]


def registry_kind(store: Any, n: int) -> str:
    """What a registry of ``n`` trials is made of, read from the store: a kept registry is reused as it
    is, so a run checks that it is the kind it asks for (one written by another kind of run, or before
    CAPTUR was copied too, would be measured silently as the wrong registry)."""
    from acse_kg.model import structured_studies

    if n == 1:
        return "AcSé"
    return "AcSé and CAPTUR" if STRUCTURED_SOURCES[1] in structured_studies(store) else "AcSé alone"


def bench_trials(counts: list[int], profiles: list[dict[str, Any]], keep: Path | None = None,
                 acse_only: bool = False) -> None:
    """Profiles/s of cross-trial matching as the registry grows (see the module docstring).

    ``keep``: a directory where each registry is written once as an on-disk store (``keep/N``) and
    reopened by later runs, so that code versions are compared on the same registry (the copies
    take minutes to write at 1,000 trials, and two builds differ where rdflib's order does). A kept
    registry of another kind than asked (``acse_only`` or not) is refused, not measured.
    ``acse_only``: the registries are copies of AcSé alone (see :func:`real_trials`).
    """
    from acse_kg.matching.engine import RegistryMatcher
    from acse_kg.model import structured_studies
    from acse_kg.store import open_store
    from acse_kg.synthetic import add_copies

    core = one_core()
    if core is not None:
        os.sched_setaffinity(0, core)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "profiles.jsonl", Path(tmp) / "results.jsonl"
        src.write_bytes(b"\n".join(orjson.dumps(p) for p in profiles) + b"\n")
        for n in counts:
            store = open_store("memory" if keep is None else str(keep / str(n)))
            t = time.perf_counter()
            held = structured_studies(store)
            wanted = "AcSé" if n == 1 else "AcSé alone" if acse_only else "AcSé and CAPTUR"
            if len(held) > 1 and registry_kind(store, n) != wanted:  # (the bundle holds AcSé alone)
                raise SystemExit(f"{keep / str(n) if keep else 'the registry'} holds copies of "
                                 f"{registry_kind(store, n)}, not of {wanted}: use another --keep-registries "
                                 f"directory{'' if acse_only else ', or --acse-only'}")
            if len(held) < n:
                real = real_trials(store, n, acse_only)
                add_copies(store, n - len(structured_studies(store)), real)
            copied = time.perf_counter() - t
            t = time.perf_counter()
            registry = RegistryMatcher(store)
            build = time.perf_counter() - t
            bench_batch(registry, src, dst)  # warm-up
            rates, cpu = [], []
            for _ in range(3):
                # CPU time too: on a shared machine the wall-clock rate follows the other processes' load,
                # the CPU-time rate (this process's own seconds) much less.
                dst.unlink(missing_ok=True)  # (see bench_batch)
                c = time.process_time()
                rates.append(bench_batch(registry, src, dst))
                cpu.append(len(profiles) / (time.process_time() - c))
            results = [orjson.loads(x) for x in dst.read_bytes().splitlines()]
            hits = sum(len(r["results"]) for r in results)
            # The studies in the index (not registry.studies, which would read and compile every one of them
            # only to count them: minutes at 1,000 trials, outside what is measured).
            rows.append((len(registry.ncts), statistics.median(rates), rates, build, copied, hits,
                         statistics.median(cpu), registry_kind(store, n)))
    base, base_cpu = rows[0][1], rows[0][6]
    print(f"profiles: {len(profiles)}; timed parts pinned to CPU {sorted(core) if core else 'any'}; "
          f"load average {os.getloadavg()[0]:.1f}")
    for n, rate, rates, build, copied, hits, cpu_rate, kind in rows:
        # The CPU time of a profile over its trial results: with CAPTUR copied, most of a profile's results
        # at 1,000 trials are CAPTUR's copies (a copy names ~31 of the pool's 50 genes), which the ratio
        # alone does not show.
        per_result = f"{1e6 / cpu_rate / (hits / len(profiles)):,.0f}" if hits else "n/a"
        print(f"{n:>5} trials ({kind}): {rate:,.0f} profiles/s (runs {', '.join(f'{r:,.0f}' for r in rates)}), "
              f"ratio to {rows[0][0]} trial(s) {rate / base:.2f}; {cpu_rate:,.0f} profiles per CPU second, "
              f"ratio {cpu_rate / base_cpu:.2f}; {hits / len(profiles):.2f} trial results "
              f"a profile, {per_result} CPU µs a trial result; registry build {build:.1f} s "
              f"(CAPTUR and the copies written in {copied:.1f} s)")
    print("target: at 1,000 trials at least 0.50 of the single-trial rate")


def main(argv: list[str] | None = None) -> None:
    env = os.environ.get
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profiles", type=int, default=int(env("BENCH_MATCHING_PROFILES", 10_000)))
    ap.add_argument("--shacl", type=int, default=int(env("BENCH_MATCHING_SHACL", 300)),
                    help="profiles checked through pyshacl")
    ap.add_argument("--requests", type=int, default=int(env("BENCH_MATCHING_REQUESTS", 1000)))
    ap.add_argument("--projected", type=int, default=int(env("BENCH_MATCHING_PROJECTED", 2000)),
                    help="profiles checked through pyshacl one criterion at a time (0: skip)")
    ap.add_argument("--trials", default=env("BENCH_MATCHING_TRIALS", ""),
                    help="comma-separated registry sizes: measure matching across trials instead")
    ap.add_argument("--acse-only", action="store_true",
                    help="with --trials: copy AcSé alone, not AcSé and CAPTUR (the registries of the figures "
                         "before 2026-12-03 16:00: their commands predate this flag)")
    ap.add_argument("--keep-registries", type=Path, default=None, metavar="DIR",
                    help="with --trials: write each registry once under DIR and reuse it in later runs, "
                         "as it is (one of another kind than asked, --acse-only or not, is refused)")
    args = ap.parse_args(argv if argv is not None else sys.argv[1:] if __name__ == "__main__" else [])
    if args.trials:
        bench_trials([int(x) for x in args.trials.split(",")], make_profiles(args.profiles), args.keep_registries,
                     args.acse_only)
        return

    from acse_kg.matching.engine import Matcher
    from acse_kg.matching.profile import parse_profile
    from acse_kg.store import open_store

    profiles = make_profiles(args.profiles)
    core = one_core()
    before = os.sched_getaffinity(0) if core is not None else None
    if core is not None:
        os.sched_setaffinity(0, core)
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "profiles.jsonl", Path(tmp) / "results.jsonl"
        src.write_bytes(b"\n".join(orjson.dumps(p) for p in profiles) + b"\n")
        store = open_store("memory")
        t = time.perf_counter()
        matcher = Matcher(store)
        build = time.perf_counter() - t
        bench_batch(matcher, src, dst)  # warm-up
        rates = [bench_batch(matcher, src, dst) for _ in range(3)]
        fast = statistics.median(rates)
        results = [orjson.loads(x) for x in dst.read_bytes().splitlines()]
        with_cohorts = sum(bool(r["cohorts"]) for r in results)
        criteria = sum(len(c["criteria"]) for r in results for c in r["cohorts"])
        clis = [bench_cli(src, dst, len(profiles), core) for _ in range(2)]
        sample = [parse_profile(p) for p in profiles[: args.shacl]]
        ref, compared, mismatches = bench_shacl(matcher, sample)
        wide = [parse_profile(p) for p in profiles[: args.projected]]
        projected = bench_projected(matcher, wide) if wide else None
        if before is not None:
            os.sched_setaffinity(0, before)  # the server gets its own core, the client this one
        median_ms, p95_ms = bench_http([orjson.dumps(p) for p in profiles[:200]], args.requests)

    print(f"profiles: {len(profiles)} ({with_cohorts} with candidate cohorts, {criteria} criteria explained); "
          f"timed parts pinned to CPU {sorted(core) if core else 'any'}; load average {os.getloadavg()[0]:.1f}")
    print(f"matcher build from the graph: {build * 1000:.0f} ms")
    print(f"batch, end to end, one core (read, validate, decide, write): {fast:,.0f} profiles/s "
          f"(runs: {', '.join(f'{r:,.0f}' for r in rates)})  target >= 5,000")
    print(f"acse-kg match --batch as a command on {len(profiles)} profiles, one core (incl. start-up, store load, "
          f"UCUM registry): {', '.join(f'{c:,.0f}' for c in clis)} profiles/s  target >= 5,000")
    print(f"pyshacl reference on {len(sample)} profiles: {ref:,.1f} profiles/s; "
          f"{compared} statuses compared, {mismatches} mismatches")
    if projected is not None:
        dt, pc, pm = projected
        print(f"pyshacl per criterion on distinct projections, {len(wide)} profiles: {dt:.1f} s; "
              f"{pc} statuses compared, {pm} mismatches")
    print(f"ratio fast path / pyshacl: {fast / ref:,.0f}x")
    print(f"POST /match over loopback, {args.requests} requests: median {median_ms:.2f} ms, p95 {p95_ms:.2f} ms  "
          "target median <= 5 ms")


if __name__ == "__main__":
    main()
